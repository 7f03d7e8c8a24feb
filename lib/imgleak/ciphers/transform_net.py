"""The learned schemes TN-model and TN-GAN on the cipher interface: the key is the trained network.

Both protect an image by passing it through a trained image-to-image network (a small U-Net,
:class:`~imgleak.ciphers.unet.UNet`); the network is not invertible by design (``invertible =
False``) and there is no enumerable key (``key_space_log2`` is 0): what protects the images is
that the weights stay private. Whoever holds them can make (plain, protected) pairs and train
an inverse (the ITN-Attack, :mod:`imgleak.attacks.inverse_network`).

The key is a :class:`TransformNet` (the U-Net and its configuration): trained by
:func:`imgleak.training.transform_nets.train_tn_model` / :func:`~imgleak.training.transform_nets.train_tn_gan`
(their result's ``key``), read with :meth:`TransformNet.load`, or, untrained, made from a seed
by :meth:`TransformNetCipher.make_key` (for tests and throughput).

>>> import torch
>>> cipher = TNModel()
>>> key = cipher.make_key(0, (3, 8, 8))
>>> y = cipher.encrypt(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), key)
>>> y.shape, y.dtype, cipher.key_space_log2((3, 8, 8))
(torch.Size([2, 3, 8, 8]), torch.uint8, 0.0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from pathlib import Path
from typing import Any, ClassVar

import torch

from .._checks import integer, positive_int
from .unet import UNet
from ..tensors import as_image_batch, resolve_device, restore_rank, run_network
from .base import CipherBase, check_first_index
from .keyspace import check_shape

KINDS = ("tn_model", "tn_gan")
"""The names a :class:`TransformNet` can carry (the scheme that trained it)."""

ENCRYPT_BATCH = 64
"""Images per forward pass in :meth:`TransformNetCipher.encrypt`."""

_FORMAT = "imgleak.transform_net/1"
_CONFIG_KEYS = ("in_channels", "out_channels", "base", "depth")


class TransformNet:
    """The key of TN-model / TN-GAN: a U-Net (eval mode), the scheme that trained it (``name``,
    one of :data:`KINDS`) and, when trained here, the ``settings`` of its training.

    Weights: :meth:`save` / :meth:`load` (a ``torch.save`` file with the U-Net's configuration
    and ``state_dict``, read with ``weights_only=True``), :meth:`from_state_dict`.
    """

    def __init__(self, network: UNet, name: str = "tn_model", settings: dict[str, Any] | None = None) -> None:
        if not isinstance(network, UNet):
            raise TypeError(f"network must be an imgleak UNet (imgleak.ciphers.unet), got {type(network).__name__}")
        if name not in KINDS:
            raise ValueError(f"name must be one of {KINDS}, got {name!r}")
        self.network = network.eval()
        self.name = name
        self.settings = dict(settings or {})

    def __repr__(self) -> str:
        c = self.network.config
        return f"TransformNet({self.name!r}, base={c['base']}, depth={c['depth']}, device={self.device})"

    @property
    def config(self) -> dict[str, int]:
        """The U-Net's constructor arguments."""
        return dict(self.network.config)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (``2 ** depth``)."""
        return self.network.multiple

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def to(self, device: str | torch.device) -> "TransformNet":
        """Move the network (in place) to ``device``; returns ``self``."""
        self.network.to(resolve_device(device))
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the network's weights."""
        return {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the configuration and weights to ``path`` (a ``torch.save`` file); returns the path."""
        path = Path(path)
        torch.save({"format": _FORMAT, "name": self.name, "config": self.config,
                    "state_dict": self.state_dict()}, path)
        return path

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor], config: Mapping[str, int],
                        name: str = "tn_model") -> "TransformNet":
        """Rebuild a key from a U-Net configuration and its weights (on the CPU; the global RNG is untouched)."""
        if not isinstance(config, Mapping) or set(config) != set(_CONFIG_KEYS):
            raise ValueError(f"config must be a U-Net configuration with the keys {_CONFIG_KEYS}, got {config!r}")
        if not isinstance(state_dict, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
            raise ValueError("state_dict must map parameter names to tensors (TransformNet.state_dict())")
        with torch.random.fork_rng(devices=[]):  # the initial weights are replaced at once
            network = UNet(**config)
        try:
            network.load_state_dict(dict(state_dict))
        except RuntimeError as err:  # missing or unexpected keys, wrong shapes
            raise ValueError(f"state_dict does not fit a U-Net with config {dict(config)}: {err}") from err
        return cls(network, name)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "TransformNet":
        """Read a key written by :meth:`save` onto ``device``; a file that is not one is a ``ValueError`` naming it."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no transform-network file at {str(path)!r}")
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle errors, truncated files
            raise ValueError(f"cannot read transform-network file {str(path)!r}: {err}") from err
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{str(path)!r} is not a transform-network file written by TransformNet.save")
        missing = [k for k in ("name", "config", "state_dict") if k not in data]
        if missing:
            raise ValueError(f"transform-network file {str(path)!r} lacks {missing}")
        try:
            key = cls.from_state_dict(data["state_dict"], data["config"], data["name"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"transform-network file {str(path)!r} is damaged: {err}") from err
        return key.to(device)


@dataclass(frozen=True)
class TransformNetCipher(CipherBase):
    """A learned transformation used as a cipher; the key is a :class:`TransformNet`.

    ``encrypt(x, key)`` maps uint8 images ``(C, H, W)`` or ``(N, C, H, W)`` to uint8 images of
    the same shape, on ``x``'s device (computed on the network's device, in batches of
    :data:`ENCRYPT_BATCH`, eval mode); every image is transformed alone, so ``first_index`` is
    checked and otherwise unused. No decrypt; no enumerable key (``key_space_log2`` is 0).
    A key trained by either scheme is accepted (the transformation is the same kind).
    """

    label: ClassVar[str] = ""
    invertible: ClassVar[bool] = False
    per_image_keys: ClassVar[bool] = False
    learned_key: ClassVar[bool] = True
    attack_networks: ClassVar[Mapping[str, str]] = MappingProxyType({"itn": "unet", "gan": "unet"})

    def describe(self) -> str:
        """E.g. ``"TN-model (trained U-Net; its weights are the secret)"``."""
        return f"{self.label} (trained U-Net; its weights are the secret)"

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """0: there is no key to enumerate; the secret is the network's weights."""
        check_shape(shape)
        return 0.0

    def make_key(self, seed: int, shape: Sequence[int] = (3, 32, 32), *, base: int = 8,
                 depth: int = 2) -> TransformNet:
        """An untrained key: a U-Net for ``shape[-3]`` channels initialised from ``seed`` (taken
        modulo 2^64; the global RNG is untouched). Small by default (``base`` 8, ``depth`` 2: image
        sides multiples of 4); train a real key with :mod:`imgleak.training.transform_nets`."""
        seed = integer(seed, "seed") % 2**64
        channels = check_shape(shape)[-3]
        base, depth = positive_int(base, "base"), positive_int(depth, "depth")
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            network = UNet(channels, channels, base, depth)
        return TransformNet(network, self.name)

    def encrypt(self, x: torch.Tensor, key: TransformNet, *, first_index: int = 0) -> torch.Tensor:
        """Protect uint8 images ``(C, H, W)`` or ``(N, C, H, W)`` with the network ``key``."""
        batch, single = as_image_batch(x, "x")
        if not isinstance(key, TransformNet):
            raise TypeError(f"key must be a TransformNet (a trained result's .key, TransformNet.load(path) or "
                            f"{type(self).__name__}().make_key(seed, shape)), got {type(key).__name__}")
        check_first_index(first_index)
        channels = key.config["in_channels"]
        if batch.shape[1] != channels:
            raise ValueError(f"x must have {channels} channels for this {self.label} key, got {batch.shape[1]}")
        m = key.multiple
        if batch.shape[-2] % m or batch.shape[-1] % m:
            raise ValueError(f"x is {batch.shape[-2]}x{batch.shape[-1]} pixels; this {self.label} key (a U-Net of "
                             f"depth {key.config['depth']}) needs sides that are multiples of {m}: crop or pad")
        if batch.shape[0] == 0:
            return x.clone()
        return restore_rank(run_network(key.network, batch, ENCRYPT_BATCH), single)


@dataclass(frozen=True)
class TNModel(TransformNetCipher):
    """TN-model (Ito, Kinoshita & Kiya, GCCE 2020): a U-Net trained so that a frozen plain-image
    classifier still classifies its outputs (:func:`imgleak.training.transform_nets.train_tn_model`)."""

    name: ClassVar[str] = "tn_model"
    label: ClassVar[str] = "TN-model"


@dataclass(frozen=True)
class TNGAN(TransformNetCipher):
    """TN-GAN (Sirichotedumrong & Kiya, EUSIPCO 2020): an unpaired plain → protected translation
    trained CycleGAN-style (:func:`imgleak.training.transform_nets.train_tn_gan`)."""

    name: ClassVar[str] = "tn_gan"
    label: ClassVar[str] = "TN-GAN"


__all__ = ["ENCRYPT_BATCH", "KINDS", "TNGAN", "TNModel", "TransformNet", "TransformNetCipher"]
