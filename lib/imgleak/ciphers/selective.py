"""Selective encryption of the most significant bit-planes (Puteaux, Itier & Bas, EUSIPCO 2021).

Every 8-bit sample p (each pixel, each channel) has its ``bits`` = n most significant bits
XORed with n fresh key bits K: ``E(p) = p XOR (K << (8 - n))``. The 8 - n least significant
bits stay in clear; :meth:`SelectiveEncryption.clear_part` is what an analyst who knows n can
read from a cipher image without the key.

The key bits are the ChaCha20 keystream cut into n-bit groups, most significant bit first. A
run of ``n / gcd(n, 8)`` keystream bytes keys a whole number of samples, whose key mask (n key
bits at the top of each byte) is one little-endian integer: a multiply and an AND per stream byte
compute it (:func:`_spread_terms`). On CPU, OpenSSL and numpy do this in cache-sized chunks on
``torch.get_num_threads()`` threads; on other devices the torch ChaCha20 and torch ops do it.
"""

from __future__ import annotations

import functools
import operator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd, prod
from typing import ClassVar

import numpy as np
import torch

from ..chacha import BLOCK_BYTES, chacha20_keystream
from ..keys import Key, chacha20_encryptor
from ..tensors import as_image_batch, restore_rank

_SUBKEY = "selective"
# On CPU, threads take parts of _PART samples (one ChaCha20 encryptor each) and work through
# them in chunks of _CHUNK samples, whose key bytes, key mask and samples (under 1 MiB) stay in
# a core's L2 cache. Both are multiples of 512, so every part's key bits start a 64-byte block.
_CHUNK = 1 << 18
_PART = 1 << 21
_TORCH_WORDS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@functools.cache
def _spread_terms(n: int) -> tuple[int, tuple[tuple[int, int], ...]]:
    """How ``len(terms)`` keystream bytes become the key mask of the ``width`` samples they key.

    Returns ``(width, terms)``. The mask is read as one little-endian integer of ``width`` bytes
    (sample i in byte i, its n key bits at the top), and stream byte b contributes
    ``(byte * multiplier) & mask`` to it, with ``(multiplier, mask) = terms[b]``: the multiplier
    makes a copy of the byte for every sample it keys, shifted so that the sample's bits land in
    place (the copies are 8 + n bits apart, so they never overlap and the product has no
    carries), and the mask keeps those bits. The contributions of different bytes never overlap.
    """
    group = n // gcd(n, 8)
    width = 8 * group // n
    terms = []
    for byte in range(group):
        multiplier = mask = 0
        for bit in range(8):  # bit 0 = the most significant bit of the stream byte
            sample, rank = divmod(8 * byte + bit, n)
            target = 8 * sample + 7 - rank  # rank 0 = the sample's most significant key bit
            multiplier |= 1 << (target - (7 - bit))
            mask |= 1 << target
        terms.append((multiplier % 2 ** (8 * width), mask))
    return width, tuple(terms)


def _key_mask_numpy(stream: np.ndarray, n: int) -> np.ndarray:
    """The key mask (``uint8``, n key bits at the top) of the ``8 * len(stream) / n`` samples keyed by ``stream``."""
    width, terms = _spread_terms(n)
    word = np.dtype(f"<u{width}").type
    rows = stream.reshape(-1, len(terms))

    def term(byte: int) -> np.ndarray:
        multiplier, mask = terms[byte]
        product = rows[:, byte] * word(multiplier)
        product &= word(mask)
        return product

    return functools.reduce(operator.ior, map(term, range(len(terms)))).view(np.uint8)


def _key_mask_torch(stream: torch.Tensor, n: int) -> torch.Tensor:
    """:func:`_key_mask_numpy` in torch ops, on the stream's device (signed words wrap the same way)."""
    width, terms = _spread_terms(n)
    rows = stream.reshape(-1, len(terms)).to(_TORCH_WORDS[width])
    bits = 8 * width

    def signed(value: int) -> int:
        return value - (value >> (bits - 1) << bits)

    words = functools.reduce(operator.or_, (
        (rows[:, byte] * signed(multiplier)) & signed(mask) for byte, (multiplier, mask) in enumerate(terms)
    ))
    return words.view(torch.uint8)


def _encrypt_on_cpu(x: np.ndarray, key: Key, n: int) -> np.ndarray:
    """``x XOR key mask`` for the flat samples ``x``, in parts spread over torch's CPU threads."""
    # numpy asks the kernel for huge pages for large arrays: on a 2-core AMD EPYC VM the first
    # writes to a new 48 MiB output took 5-9 ms against 40 ms for torch.empty's memory.
    out = np.empty_like(x)

    def encrypt_part(start: int) -> None:
        stop = min(start + _PART, x.size)
        encryptor = chacha20_encryptor(key, start * n // (8 * BLOCK_BYTES))  # the part's first key byte
        if n == 8:  # the key mask is the keystream: plain ChaCha20 encryption
            encryptor.update_into(x[start:stop], out[start:stop])
            return
        zeros = np.zeros(_CHUNK * n // 8, np.uint8)
        stream = np.empty_like(zeros)
        for low in range(start, stop, _CHUNK):
            high = min(low + _CHUNK, stop)
            keys = stream[:-(-(high - low) // 8) * n]
            encryptor.update_into(zeros[:keys.size], keys)
            np.bitwise_xor(x[low:high], _key_mask_numpy(keys, n)[:high - low], out=out[low:high])

    starts = range(0, x.size, _PART)
    threads = min(torch.get_num_threads(), len(starts))
    if threads > 1:  # OpenSSL and numpy release the GIL
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(encrypt_part, starts))
    else:  # starting threads costs about 0.1 ms: small batches run inline
        list(map(encrypt_part, starts))
    return out


@dataclass(frozen=True)
class SelectiveEncryption:
    """XOR the ``bits`` most significant bits of every pixel and channel with ChaCha20 key bits.

    ``bits`` = 0 is the identity, 8 encrypts whole bytes. The key bits come from
    ``key.derive("selective")``: n bits per sample, taken in order over the flattened
    ``(N, C, H, W)`` batch, so every image of a batch gets its own key bits.
    """

    bits: int
    name: ClassVar[str] = "selective"
    invertible: ClassVar[bool] = True

    def __post_init__(self) -> None:
        bits = self.bits
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 0 <= bits <= 8:
            raise ValueError(f"bits must be an int from 0 to 8 (encrypted MSBs per sample), got {bits!r}")
        object.__setattr__(self, "bits", int(bits))

    def key_space_log2(self, shape: tuple[int, ...] | torch.Size) -> int:
        """log2 of the number of keystreams for images of ``shape``: n bits per sample."""
        return self.bits * prod(shape)

    def _xor(self, x: torch.Tensor, key: Key, name: str) -> torch.Tensor:
        """``x XOR (K << (8 - n))`` with K the next n key bits for every sample of ``x``."""
        if not isinstance(key, Key):
            raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
        batch, single = as_image_batch(x, name)
        n = self.bits
        if n == 0:
            return restore_rank(batch.clone(), single)
        key = key.derive(_SUBKEY)
        if batch.device.type == "cpu":
            out = _encrypt_on_cpu(batch.contiguous().view(-1).numpy(), key, n)
            return restore_rank(torch.from_numpy(out).view(batch.shape), single)
        count = batch.numel()
        stream = chacha20_keystream(key, -(-count // 8) * n, device=batch.device)
        mask = _key_mask_torch(stream, n)[:count].view(batch.shape)
        return restore_rank(batch ^ mask, single)

    def encrypt(self, x: torch.Tensor, key: Key) -> torch.Tensor:
        """Encrypt a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``; same shape and device."""
        return self._xor(x, key, "x")

    def decrypt(self, y: torch.Tensor, key: Key) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (it is the same XOR)."""
        return self._xor(y, key, "y")

    def clear_part(self, y: torch.Tensor) -> torch.Tensor:
        """The 8 - n unencrypted bits, ``y mod 2**(8 - n)`` (values 0 .. 2**(8 - n) - 1)."""
        batch, single = as_image_batch(y, "y")
        return restore_rank(batch & ((1 << (8 - self.bits)) - 1), single)

    def scaled_clear_part(self, y: torch.Tensor) -> torch.Tensor:
        """The clear part shifted up to the full 8-bit range, ``(y mod 2**(8 - n)) * 2**n``.

        A bijection of :meth:`clear_part` (same mutual information) that looks like an image:
        what the seed paper feeds to image encoders.
        """
        return self.clear_part(y) << self.bits
