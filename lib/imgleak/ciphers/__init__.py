"""Image encryption schemes on one interface (:class:`~imgleak.ciphers.base.Cipher`), looked up by name.

>>> from imgleak import ciphers
>>> cipher = ciphers.get("selective", bits=3)
>>> cipher.describe(), cipher.invertible, cipher.per_image_keys
('selective encryption, 3 MSBs', True, True)
>>> ciphers.variants()["pixelwise-same"].paper_row, ciphers.build("pixelwise-same") == ciphers.get("pixelwise")
('pixelwise_same', True)

Every registered scheme is built with its defaults by ``get(name)`` and passes the conformance
suite (``tests/ciphers/test_conformance.py``); registering a new one with :func:`register`
puts it through the same checks and into :func:`variants` (the scorecard's schemes) under its name.
The variants with settings of their own are one table, :data:`~imgleak.ciphers.library.VARIANTS`.
"""

from __future__ import annotations

from typing import Any

from .base import Cipher, CipherBase, KeyedCipher, NotInvertibleError, PixelMover
from .blockwise import BlockwiseScramble
from .etc import EtCEncryption
from .identity import Identity
from .permutation import RandomPermutation
from .pixelwise import PixelwiseEncryption
from .rvt import RandomVortex
from .selective import SelectiveEncryption
from .transform_net import TNGAN, TNModel, TransformNet, TransformNetCipher
from .library import VARIANTS, Variant

_REGISTRY: dict[str, type] = {}


def register(scheme: type) -> type:
    """Add a scheme class to the registry under its ``name`` (usable as a class decorator).

    The class must be constructible with no arguments and follow the :class:`Cipher` interface.
    """
    name = getattr(scheme, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{scheme!r} has no registered name: give it a class attribute name = '...'")
    if name in _REGISTRY or any(v.name == name and v.cipher != name for v in VARIANTS):
        raise ValueError(f"a scheme named {name!r} is already registered (or names a variant in VARIANTS)")
    if not isinstance(scheme(), Cipher):
        raise TypeError(f"{scheme.__name__} does not follow the imgleak Cipher interface (see imgleak.ciphers.base)")
    _REGISTRY[name] = scheme
    return scheme


for _scheme in (Identity, SelectiveEncryption, RandomVortex, RandomPermutation, BlockwiseScramble,
                PixelwiseEncryption, EtCEncryption, TNModel, TNGAN):
    register(_scheme)


def unregister(name: str) -> None:
    """Take the scheme registered as ``name`` out of the registry (a test's throw-away scheme)."""
    if name not in _REGISTRY:
        raise ValueError(f"no scheme named {name!r} is registered; registered: {available()}")
    if any(v.cipher == name for v in VARIANTS):
        raise ValueError(f"{name!r} is a library scheme (VARIANTS uses it) and stays registered")
    del _REGISTRY[name]


def available() -> list[str]:
    """The registered names :func:`get` accepts, sorted."""
    return sorted(_REGISTRY)


def scheme_class(name: str) -> type:
    """The class registered as ``name`` (what it declares: ``attack_networks``, ``learned_key``, ...)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {available()}; got {type(name).__name__}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown cipher {name!r}; choose one of {available()}")
    return _REGISTRY[name]


def variants() -> dict[str, Variant]:
    """Every scheme variant by name: :data:`~imgleak.ciphers.library.VARIANTS` (controls first), then each
    registered cipher that no entry builds, under its registered name with its defaults."""
    table = {v.name: v for v in VARIANTS}
    used = {v.cipher for v in VARIANTS}
    table.update({name: Variant(name, name) for name in _REGISTRY if name not in used})
    return table


def build(variant: str | Variant) -> Cipher:
    """The cipher of a variant (a name from :func:`variants`, or a :class:`Variant`)."""
    if isinstance(variant, str):
        table = variants()
        if variant not in table:
            raise ValueError(f"unknown scheme variant {variant!r}; choose one of {list(table)}")
        variant = table[variant]
    if not isinstance(variant, Variant):
        raise TypeError(f"variant must be a name or a Variant, got {type(variant).__name__}")
    return get(variant.cipher, **variant.params)


def get(name: str, **params: Any) -> Cipher:
    """A cipher instance: the scheme registered as ``name`` (or an alias), built with ``params``."""
    return scheme_class(name)(**params)


__all__ = ["VARIANTS", "BlockwiseScramble", "Cipher", "CipherBase", "EtCEncryption", "Identity", "KeyedCipher",
           "NotInvertibleError", "PixelMover", "PixelwiseEncryption", "RandomPermutation", "RandomVortex",
           "SelectiveEncryption", "TNGAN", "TNModel", "TransformNet", "TransformNetCipher", "Variant", "available",
           "build", "get", "register", "scheme_class", "unregister", "variants"]
