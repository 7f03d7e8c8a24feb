"""Deliberately broken schemes, and one correct one, to show what the scorecard's verdicts catch.

Each is a mistake found in real image ciphers; none is in the cipher registry. The correct one,
:class:`PerImageChaCha`, is written independently of the library's pad (image i XORed with the
ChaCha20 keystream under nonce i): the scorecard must find no leak in it.

>>> sorted(broken_schemes())[:3]
['caesar_shift', 'key_16_bits', 'low_bits_clear']
>>> secure = PerImageChaCha()
>>> x = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
>>> y = secure.encrypt(x, Key.from_seed(0))
>>> bool(torch.equal(y[1:], secure.encrypt(x[1:], Key.from_seed(0), first_index=1)))  # image 1 is message 1
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..ciphers.base import CipherBase, check_first_index, check_key
from ..keys import Key, keystream_bytes
from ..tensors import as_image_batch, restore_rank
from .base import Subject
from .schemes import FunctionCipher


def _stream(key: Key, shape: Sequence[int], nonce: int = 0) -> torch.Tensor:
    """The first ``prod(shape)`` keystream bytes for ``key`` and ``nonce``, shaped."""
    return torch.from_numpy(keystream_bytes(key, int(np.prod(shape)), nonce)).view(*shape)


@dataclass(frozen=True)
class PerImageChaCha(CipherBase):
    """Image i of the data set XORed with the ChaCha20 keystream under nonce i: a correct pad.

    ``key_bits`` below 256 keeps only that many bits of the key (the 16-bit entry of the gallery:
    otherwise perfect, but 2**16 keys are tried in a second).
    """

    key_bits: int = 256
    name: ClassVar[str] = "per_image_chacha"
    invertible: ClassVar[bool] = True
    per_image_keys: ClassVar[bool] = True

    def _key(self, key: Key) -> Key:
        key = check_key(key)
        if self.key_bits >= 256:
            return key
        return Key.from_seed(int.from_bytes(key.material, "big") >> (256 - self.key_bits))

    def encrypt(self, x: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """XOR image i of ``x`` with the keystream of nonce ``first_index + i``."""
        batch, single = as_image_batch(x, "x")
        key, first = self._key(key), check_first_index(first_index)
        pads = [_stream(key, batch.shape[1:], first + i) for i in range(batch.shape[0])]
        out = batch.clone() if not pads else torch.bitwise_xor(batch, torch.stack(pads).to(batch.device))
        return restore_rank(out, single)

    def decrypt(self, y: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """The same XOR."""
        return self.encrypt(y, key, first_index=first_index)

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """``key_bits``."""
        return float(self.key_bits)


def _permute(x: torch.Tensor, key: Key) -> torch.Tensor:
    seed = int.from_bytes(key.material[:8], "big")
    order = torch.randperm(x[0].numel(), generator=torch.Generator().manual_seed(seed)).to(x.device)
    return x.reshape(x.shape[0], -1)[:, order].reshape(x.shape)


_BROKEN = {
    "one_key_byte": ("one key byte XORed on every sample", lambda x, key: x ^ key.material[0]),
    "caesar_shift": ("one key byte added to every sample (mod 256)", lambda x, key: x + key.material[0]),
    "repeated_row": ("one keystream row XORed on every row of every image",
                     lambda x, key: x ^ _stream(key, (x.shape[1], 1, x.shape[3])).to(x.device)),
    "reused_pad": ("one image-sized pad reused for every image (a two-time pad)",
                   lambda x, key: x ^ _stream(key, x.shape[1:]).to(x.device)),
    "low_bits_clear": ("a pad on the 4 high bits only, the 4 low bits in clear, reused for every image",
                       lambda x, key: x ^ (_stream(key, x.shape[1:]) & 0xF0).to(x.device)),
    "permutation_only": ("pixel positions permuted, values untouched", _permute),
}
"""name -> (what is wrong, the function ``f(images, key) -> images``)."""


def broken_schemes() -> dict[str, Subject]:
    """The gallery: every broken scheme as a :class:`~imgleak.scorecard.base.Subject`, and what is wrong with it.

    The 16-bit-key scheme is :class:`PerImageChaCha` with ``key_bits=16``; the others are plain
    functions of the images and the key (:class:`~imgleak.scorecard.schemes.FunctionCipher`).
    """
    subjects = {name: Subject(name, FunctionCipher(function, name)) for name, (_, function) in _BROKEN.items()}
    subjects["key_16_bits"] = Subject("key_16_bits", PerImageChaCha(key_bits=16))
    return dict(sorted(subjects.items()))


def what_is_wrong() -> dict[str, str]:
    """name -> one line on what is wrong with each broken scheme.

    >>> what_is_wrong()["reused_pad"]
    'one image-sized pad reused for every image (a two-time pad)'
    """
    return {**{name: text for name, (text, _) in _BROKEN.items()},
            "key_16_bits": "a correct per-image ChaCha20 pad whose key has only 16 effective bits"}


def secure_reference() -> Subject:
    """:class:`PerImageChaCha` with its full key, as a subject: the scorecard must find no leak in it."""
    return Subject("per_image_chacha", PerImageChaCha())


__all__ = ["PerImageChaCha", "broken_schemes", "secure_reference", "what_is_wrong"]
