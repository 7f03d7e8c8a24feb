"""Image encryption schemes, looked up by name: ``get("selective", bits=3)``.

Every cipher has ``encrypt(x, key)``, a ``name``, ``invertible`` (and then ``decrypt(y, key)``
with ``decrypt(encrypt(x)) == x`` exactly) and ``key_space_log2(shape)``.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from ..keys import Key
from .blockwise import BlockwiseScramble
from .etc import EtCEncryption
from .permutation import RandomPermutation
from .pixelwise import PixelwiseEncryption
from .rvt import RandomVortex
from .selective import SelectiveEncryption


class Cipher(Protocol):
    """What every scheme offers (invertible ones add ``decrypt(y, key)``)."""

    @property
    def name(self) -> str: ...

    @property
    def invertible(self) -> bool: ...

    def encrypt(self, x: torch.Tensor, key: Key) -> torch.Tensor: ...

    def key_space_log2(self, shape: tuple[int, ...]) -> float: ...


_REGISTRY: dict[str, type[Cipher]] = {
    scheme.name: scheme
    for scheme in (SelectiveEncryption, RandomVortex, RandomPermutation, BlockwiseScramble, PixelwiseEncryption,
                   EtCEncryption)
}


def available() -> list[str]:
    """The names :func:`get` accepts, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **params: Any) -> Cipher:
    """A cipher instance: the scheme registered as ``name``, built with ``params``."""
    try:
        scheme = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown cipher {name!r}; choose one of {available()}") from None
    return scheme(**params)


__all__ = ["BlockwiseScramble", "Cipher", "EtCEncryption", "PixelwiseEncryption", "RandomPermutation", "RandomVortex",
           "SelectiveEncryption", "available", "get"]
