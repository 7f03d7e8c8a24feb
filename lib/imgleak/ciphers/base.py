"""The one interface every image-encryption scheme honours, and a cipher bound to its key.

Code that uses a cipher (the chapters, the attacks, the scorecard) only calls what
:class:`Cipher` declares and never branches on the scheme's type:

- ``encrypt(x, key, *, first_index=0)`` — uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)`` in,
  same shape, dtype and device out; ``first_index`` is the data-set index of ``x[0]``, so a data
  set encrypted in chunks gets the same result as in one batch (it matters for per-image keys
  and keystreams);
- ``decrypt(y, key, *, first_index=0)`` — the exact inverse where ``invertible``; otherwise it
  raises :class:`NotInvertibleError`;
- ``name`` (the registered name), ``invertible``, ``per_image_keys``, ``key_space_log2(shape)``
  and ``describe()`` (a short phrase for tables);
- ``make_key(seed, shape)`` — the key material this scheme takes, made from a seed: an imgleak
  :class:`~imgleak.keys.Key` for keyed schemes, a network for the learned ones. ``shape`` is the
  ``(C, H, W)`` of the images it will protect (only learned schemes need it).

This module imports nothing from the rest of :mod:`imgleak.ciphers`, so every scheme can depend
on it.

>>> from imgleak import ciphers
>>> import torch
>>> bound = KeyedCipher(ciphers.get("pixelwise"), ciphers.get("pixelwise").make_key(0, (3, 4, 4)))
>>> x = torch.arange(48, dtype=torch.uint8).view(1, 3, 4, 4)
>>> bool(torch.equal(bound.decrypt(bound.encrypt(x)), x))
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from .._checks import non_negative_int, positive_int
from ..keys import Key


class NotInvertibleError(ValueError):
    """``decrypt`` was called on a scheme that has no exact inverse."""


@runtime_checkable
class Cipher(Protocol):
    """What every scheme offers; see the module docstring."""

    name: ClassVar[str]
    invertible: bool
    per_image_keys: bool

    def encrypt(self, x: torch.Tensor, key: Any, *, first_index: int = 0) -> torch.Tensor: ...

    def decrypt(self, y: torch.Tensor, key: Any, *, first_index: int = 0) -> torch.Tensor: ...

    def key_space_log2(self, shape: Sequence[int]) -> float: ...

    def describe(self) -> str: ...

    def make_key(self, seed: int, shape: Sequence[int] = (3, 32, 32)) -> Any: ...


@runtime_checkable
class PixelMover(Protocol):
    """A scheme that only moves pixels (channels together): its gather maps can be read.

    ``pixel_maps(key, shape, n_images, first_index)`` gives flat int64 CPU maps, ``(H*W,)`` when
    one map serves every image, else ``(n_images, H*W)``; output pixel ``p`` is input pixel
    ``map[p]``. The information measure of the RVT chapter needs them.
    """

    def pixel_maps(self, key: Any, shape: Sequence[int], n_images: int = 1, first_index: int = 0) -> torch.Tensor: ...


class CipherBase:
    """Defaults shared by the schemes: one key for all images, keys from :meth:`Key.from_seed`,
    no inverse unless the scheme defines one."""

    name: ClassVar[str] = ""
    invertible: ClassVar[bool] = False
    per_image_keys: ClassVar[bool] = False
    attack_networks: ClassVar[Mapping[str, str]] = MappingProxyType({})
    """The attack networks shaped for this scheme's structure: ``{"itn": network, "gan": network}``
    (names from :data:`imgleak.attacks.inverse_network.ARCHITECTURES`); empty: the attacks pick a
    generic one."""
    learned_key: ClassVar[bool] = False
    """True when a key is a network trained on images (:func:`imgleak.training.transform_nets.train_key`),
    not drawn from a seed."""

    def make_key(self, seed: int, shape: Sequence[int] = (3, 32, 32)) -> Any:
        """An imgleak :class:`~imgleak.keys.Key` from ``seed`` (``shape`` is not needed by keyed schemes)."""
        return Key.from_seed(seed)

    def decrypt(self, y: torch.Tensor, key: Any, *, first_index: int = 0) -> torch.Tensor:
        """Refused: this scheme has no exact inverse."""
        raise NotInvertibleError(f"{self.describe()} is not invertible: it has no decrypt")

    def describe(self) -> str:
        """A short phrase for tables; schemes refine it."""
        return self.name


def declared_network(cipher: Any, attack: str) -> str | None:
    """The network ``cipher``'s class declares for ``attack`` (``"itn"`` or ``"gan"``) in its
    ``attack_networks``, or None (a scheme that declares none, a user's scheme included).

    >>> from imgleak.ciphers import get
    >>> declared_network(get("pixelwise"), "itn"), declared_network(get("selective"), "itn")
    ('locally_connected', None)
    """
    networks = getattr(cipher, "attack_networks", None)
    return networks.get(attack) if isinstance(networks, Mapping) else None


def check_first_index(first_index: Any) -> int:
    """``first_index`` as a non-negative ``int`` (numpy integers accepted)."""
    return non_negative_int(first_index, "first_index")


def check_key(key: Any, name: str = "key") -> Key:
    """``key`` if it is an imgleak :class:`~imgleak.keys.Key`."""
    if not isinstance(key, Key):
        raise TypeError(f"{name} must be an imgleak Key (Key.from_seed, Key.generate), got {type(key).__name__}")
    return key


def check_cipher(cipher: Any, name: str = "cipher") -> Cipher:
    """``cipher`` if it is an instance following :class:`Cipher`; a class (not built) or anything else
    raises a ``TypeError`` that says which.

    >>> check_cipher(5)
    Traceback (most recent call last):
    ...
    TypeError: cipher must follow the imgleak Cipher interface (imgleak.ciphers.base.Cipher), got int
    """
    if isinstance(cipher, type):
        raise TypeError(f"{name} must be a cipher instance, got the class {cipher.__name__}: build it first, "
                        f"e.g. {cipher.__name__}() or imgleak.ciphers.get(name)")
    if not isinstance(cipher, Cipher):
        raise TypeError(f"{name} must follow the imgleak Cipher interface (imgleak.ciphers.base.Cipher), "
                        f"got {type(cipher).__name__}")
    return cipher


@dataclass(frozen=True)
class KeyedCipher:
    """A cipher and its key, ready to protect a data set: what the chapters hold per scheme.

    ``chunk`` (images per call) bounds the memory that per-image key material takes; the result
    is the same as one call, since chunks pass their ``first_index``.
    """

    cipher: Cipher
    key: Any
    label: str = ""

    def __post_init__(self) -> None:
        check_cipher(self.cipher)
        if not self.label:
            object.__setattr__(self, "label", self.cipher.describe())

    def encrypt(self, x: torch.Tensor, first_index: int = 0, chunk: int = 4096) -> torch.Tensor:
        """``cipher.encrypt(x, key)``, ``chunk`` images at a time; ``x[0]`` is image ``first_index``."""
        return self._in_chunks(self.cipher.encrypt, x, first_index, chunk)

    def decrypt(self, y: torch.Tensor, first_index: int = 0, chunk: int = 4096) -> torch.Tensor:
        """``cipher.decrypt(y, key)``, ``chunk`` images at a time."""
        return self._in_chunks(self.cipher.decrypt, y, first_index, chunk)

    def _in_chunks(self, apply: Any, x: torch.Tensor, first_index: int, chunk: int) -> torch.Tensor:
        first_index, chunk = check_first_index(first_index), positive_int(chunk, "chunk")
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] <= chunk:
            return apply(x, self.key, first_index=first_index)
        return torch.cat([apply(x[s:s + chunk], self.key, first_index=first_index + s)
                          for s in range(0, x.shape[0], chunk)])
