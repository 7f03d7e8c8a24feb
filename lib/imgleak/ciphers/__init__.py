"""Image encryption schemes on one interface (:class:`~imgleak.ciphers.base.Cipher`), looked up by name.

>>> from imgleak import ciphers
>>> cipher = ciphers.get("selective", bits=3)
>>> cipher.describe(), cipher.invertible, cipher.per_image_keys
('selective encryption, 3 MSBs', True, True)
>>> ciphers.get("tanaka").name  # the paper's name is an alias of the registered one
'blockwise'

Every registered scheme is built with its defaults by ``get(name)`` and passes the conformance
suite (``tests/ciphers/test_conformance.py``); registering a new one with :func:`register`
puts it through the same checks.
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

_REGISTRY: dict[str, type] = {}
_ALIASES: dict[str, str] = {"tanaka": "blockwise"}


def register(scheme: type) -> type:
    """Add a scheme class to the registry under its ``name`` (usable as a class decorator).

    The class must be constructible with no arguments and follow the :class:`Cipher` interface.
    """
    name = getattr(scheme, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{scheme!r} has no registered name: give it a class attribute name = '...'")
    if name in _REGISTRY or name in _ALIASES:
        raise ValueError(f"a scheme named {name!r} is already registered")
    if not isinstance(scheme(), Cipher):
        raise TypeError(f"{scheme.__name__} does not follow the imgleak Cipher interface (see imgleak.ciphers.base)")
    _REGISTRY[name] = scheme
    return scheme


for _scheme in (Identity, SelectiveEncryption, RandomVortex, RandomPermutation, BlockwiseScramble,
                PixelwiseEncryption, EtCEncryption, TNModel, TNGAN):
    register(_scheme)


def available() -> list[str]:
    """The registered names :func:`get` accepts, sorted (aliases: :func:`aliases`)."""
    return sorted(_REGISTRY)


def aliases() -> dict[str, str]:
    """Other names :func:`get` accepts (the papers' names) and the registered name each stands for."""
    return dict(_ALIASES)


def get(name: str, **params: Any) -> Cipher:
    """A cipher instance: the scheme registered as ``name`` (or an alias), built with ``params``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {available()}; got {type(name).__name__}")
    scheme = _REGISTRY.get(_ALIASES.get(name, name))
    if scheme is None:
        raise ValueError(f"unknown cipher {name!r}; choose one of {available()} (aliases: {sorted(_ALIASES)})")
    return scheme(**params)


__all__ = ["BlockwiseScramble", "Cipher", "CipherBase", "EtCEncryption", "Identity", "KeyedCipher",
           "NotInvertibleError", "PixelMover", "PixelwiseEncryption", "RandomPermutation", "RandomVortex",
           "SelectiveEncryption", "TNGAN", "TNModel", "TransformNet", "TransformNetCipher", "aliases", "available",
           "get", "register"]
