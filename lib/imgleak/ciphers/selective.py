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
import threading
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from dataclasses import dataclass
from math import gcd, prod
from typing import ClassVar

import numpy as np
import torch

from ..chacha import BLOCK_BYTES, chacha20_keystream
from ..keys import MAX_STREAM_BYTES, Key, chacha20_encryptor
from ..tensors import as_image_batch, restore_rank
from .base import CipherBase, check_first_index, check_key
from .keyspace import check_shape

_SUBKEY = "selective"
# On CPU, threads take parts of _PART samples (one ChaCha20 encryptor each) and work through
# them in chunks of _CHUNK samples, whose key bytes and key mask (768 KiB at most for n = 1, 2, 4)
# stay in a core's L2 cache while the samples stream through; the chunk size was chosen by
# measurement (bench/README.md, selective encryption). Both are multiples of 512, so every
# part's key bits start a 64-byte block.
_CHUNK = 1 << 19
_PART = 1 << 21
_ALIGN = 512  # samples whose key bits fill whole 64-byte ChaCha20 blocks, for every n
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


def _key_mask_numpy(stream: np.ndarray, n: int, out: np.ndarray) -> np.ndarray:
    """Write the key mask (n key bits at the top of each byte) of the ``8 * len(stream) / n``
    samples keyed by ``stream`` into the ``uint8`` array ``out`` of that size, and return it."""
    width, terms = _spread_terms(n)
    word = np.dtype(f"<u{width}").type
    rows = stream.reshape(-1, len(terms))
    words = out.view(word)
    product = np.empty_like(words) if len(terms) > 1 else words
    for byte, (multiplier, mask) in enumerate(terms):
        target = product if byte else words
        np.copyto(target, rows[:, byte])  # widening first: numpy's one-dtype loops beat its mixed ones
        target *= word(multiplier)
        target &= word(mask)
        if byte:
            words |= product
    return out


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


def _encrypt_on_cpu(x: np.ndarray, out: np.ndarray, key: Key, n: int, base: int = 0) -> None:
    """Write ``x XOR key mask`` for the flat samples ``x`` into ``out`` (which may be ``x``), in
    parts spread over torch's CPU threads; ``x[0]`` is sample ``base`` of the stream (a multiple of
    :data:`_ALIGN`)."""
    local = threading.local()  # a thread's buffers, made once: first writes to new memory fault

    def encrypt_part(start: int) -> None:
        stop = min(start + _PART, x.size)
        encryptor = chacha20_encryptor(key, (base + start) * n // (8 * BLOCK_BYTES))  # the part's first key byte
        if n == 8:  # the key mask is the keystream: plain ChaCha20 encryption
            encryptor.update_into(x[start:stop], out[start:stop])
            return
        if not hasattr(local, "buffers"):
            key_bytes = _CHUNK * n // 8
            local.buffers = np.zeros(key_bytes, np.uint8), np.empty(key_bytes, np.uint8), np.empty(_CHUNK, np.uint8)
        zeros, stream, mask = local.buffers
        for low in range(start, stop, _CHUNK):
            high = min(low + _CHUNK, stop)
            keys = stream[:-(-(high - low) // 8) * n]
            encryptor.update_into(zeros[:keys.size], keys)
            _key_mask_numpy(keys, n, mask[:keys.size * 8 // n])
            np.bitwise_xor(x[low:high], mask[:high - low], out=out[low:high])

    starts = range(0, x.size, _PART)
    threads = min(torch.get_num_threads(), len(starts))
    if threads > 1:  # OpenSSL and numpy release the GIL
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(encrypt_part, starts))
    else:  # one part or one thread: run inline
        list(map(encrypt_part, starts))


def _check_out(out: torch.Tensor, x: torch.Tensor) -> None:
    """Check that ``out`` can take the result for ``x``: a contiguous uint8 tensor of x's shape and
    device that is ``x`` itself (in place) or shares no memory with it."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor of dtype uint8, got {type(out).__name__}")
    if out.dtype != torch.uint8:
        raise TypeError(f"out must have dtype torch.uint8, got {out.dtype}")
    if out.shape != x.shape:
        raise ValueError(f"out must have the input's shape {tuple(x.shape)}, got {tuple(out.shape)}")
    if out.device != x.device:
        raise ValueError(f"out must be on the input's device {x.device}, got {out.device}")
    if not out.is_contiguous():
        raise ValueError("out must be contiguous")
    if out.numel() == 0 or (out.data_ptr() == x.data_ptr() and x.is_contiguous()):
        return  # nothing to write, or out is x: encrypt in place
    x_last = x.data_ptr() + sum((size - 1) * stride for size, stride in zip(x.shape, x.stride()))
    if out.data_ptr() <= x_last and x.data_ptr() < out.data_ptr() + out.numel():
        raise ValueError("out overlaps the input without being it: pass the input itself to work in place, "
                         "or memory of its own")


def _check_stream_range(first_index: int, shape: Sequence[int], n: int) -> None:
    """Refuse a ``first_index`` whose images' key bits lie past the keystream's end (2**32 ChaCha20 blocks)."""
    per_image = prod(shape[1:]) * n  # key bits per image
    last = 8 * MAX_STREAM_BYTES // per_image - shape[0]  # the largest first_index whose images fit
    if first_index > last:
        raise ValueError(
            f"first_index must be in [0, {last}] for {shape[0]} image(s) of {tuple(shape[1:])} at bits={n}: the "
            f"keystream (2**32 ChaCha20 blocks of 64 bytes) keys {8 * MAX_STREAM_BYTES // per_image} such images; "
            f"got first_index={first_index}")


def _stream_start(sample: int) -> tuple[int, int]:
    """``(lead, base)``: the block-aligned stream sample ``base`` at or before ``sample``, and how far before."""
    lead = sample % _ALIGN
    return lead, sample - lead


@dataclass(frozen=True)
class SelectiveEncryption(CipherBase):
    """XOR the ``bits`` most significant bits of every pixel and channel with ChaCha20 key bits.

    ``bits`` = 0 is the identity, 8 encrypts whole bytes. The key bits come from
    ``key.derive("selective")``: n bits per sample, taken in order over the flattened
    ``(N, C, H, W)`` batch, so every image of a batch gets its own key bits (``per_image_keys``:
    where an image sits in the data set, ``first_index``, decides its key bits).

    >>> cipher = SelectiveEncryption(bits=3)
    >>> x = torch.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4).to(torch.uint8)
    >>> key = cipher.make_key(0, (3, 4, 4))
    >>> y = cipher.encrypt(x, key)
    >>> torch.equal(cipher.decrypt(y, key), x), torch.equal(cipher.clear_part(y), x % 32)  # 5 bits in clear
    (True, True)
    >>> torch.equal(cipher.encrypt(x[1:], key, first_index=1), y[1:])  # a chunk agrees with the batch
    True
    >>> cipher.key_space_log2((3, 4, 4))  # 3 bits x 48 samples
    144.0
    """

    bits: int = 4
    name: ClassVar[str] = "selective"
    invertible: ClassVar[bool] = True
    per_image_keys: ClassVar[bool] = True

    def __post_init__(self) -> None:
        bits = self.bits
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 0 <= bits <= 8:
            raise ValueError(f"bits must be an int from 0 to 8 (encrypted MSBs per sample), got {bits!r}")
        object.__setattr__(self, "bits", int(bits))

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of keystreams for images of ``shape``: n bits per sample."""
        return float(self.bits * prod(check_shape(shape)))

    def describe(self) -> str:
        """E.g. ``"selective encryption, 3 MSBs"``."""
        return f"selective encryption, {self.bits} MSB{'s' if self.bits != 1 else ''}"

    def _xor(self, x: torch.Tensor, key: Key, first_index: int, name: str, out: torch.Tensor | None) -> torch.Tensor:
        """``x XOR (K << (8 - n))`` with K the next n key bits for every sample of ``x``, into ``out`` if given."""
        check_key(key)
        batch, single = as_image_batch(x, name)
        first_index = check_first_index(first_index)
        if out is not None:
            _check_out(out, x)
        n = self.bits
        if n == 0:
            return restore_rank(batch.clone(), single) if out is None else out.copy_(x)
        _check_stream_range(first_index, batch.shape, n)
        # sample s of the batch takes the key bits of stream sample first_index·C·H·W + s; the stream
        # is started at a block boundary ``lead`` samples earlier and those key bits are dropped
        lead, base = _stream_start(first_index * prod(batch.shape[1:]))
        key = key.derive(_SUBKEY)
        if batch.device.type == "cpu":
            result = self._xor_on_cpu(batch, key, lead, base, out)
        else:
            count = batch.numel()
            stream = chacha20_keystream(key, -(-(lead + count) // 8) * n, device=batch.device,
                                        first_block=base * n // (8 * BLOCK_BYTES))
            mask = _key_mask_torch(stream, n)[lead:lead + count].view(batch.shape)
            result = torch.bitwise_xor(batch, mask, out=None if out is None else out.view(batch.shape))
        return restore_rank(result, single) if out is None else out

    def _xor_on_cpu(self, batch: torch.Tensor, key: Key, lead: int, base: int, out: torch.Tensor | None) -> torch.Tensor:
        # numpy asks the kernel for huge pages for large arrays: their first writes are much
        # cheaper than torch.empty's memory (bench/README.md, selective encryption)
        flat = np.empty(batch.numel(), np.uint8) if out is None else out.view(-1).numpy()
        source = batch.contiguous().view(-1).numpy()
        if lead:  # the batch starts inside a keystream block: encrypt behind ``lead`` dummy samples
            padded = np.zeros(lead + source.size, np.uint8)
            padded[lead:] = source
            _encrypt_on_cpu(padded, padded, key, self.bits, base)
            flat[:] = padded[lead:]
        else:
            _encrypt_on_cpu(source, flat, key, self.bits, base)
        return torch.from_numpy(flat).view(batch.shape)

    def encrypt(self, x: torch.Tensor, key: Key, *, first_index: int = 0, out: torch.Tensor | None = None) -> torch.Tensor:
        """Encrypt a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``; same shape and device.

        ``x[0]`` is image ``first_index`` of the data set: its key bits follow those of the images
        before it, so a data set encrypted in chunks equals one encrypted at once. With ``out`` (a
        contiguous uint8 tensor of x's shape and device, either ``x`` itself or sharing no memory
        with it) the result is written there and ``out`` is returned. ``out`` must be writable: a
        tensor that views a read-only numpy array (``torch.from_numpy`` warns) looks like any other
        to torch, so it cannot be refused here and would be written; pass a copy.
        """
        return self._xor(x, key, first_index, "x", out)

    def decrypt(self, y: torch.Tensor, key: Key, *, first_index: int = 0, out: torch.Tensor | None = None) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (it is the same XOR); ``first_index`` and ``out`` as there."""
        return self._xor(y, key, first_index, "y", out)

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
