"""Selective encryption of the most significant bit-planes (Puteaux, Itier & Bas, EUSIPCO 2021).

Every 8-bit sample p (each pixel, each channel) has its ``bits`` = n most significant bits
XORed with n fresh key bits K: ``E(p) = p XOR (K << (8 - n))``. The 8 - n least significant
bits stay in clear; :meth:`SelectiveEncryption.clear_part` is what an analyst who knows n can
read from a cipher image without the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import ClassVar

import numpy as np
import torch

from ..chacha import chacha20_keystream
from ..keys import Key, keystream_bytes
from ..tensors import as_image_batch, restore_rank

_SUBKEY = "selective"


def _n_bit_groups(stream: torch.Tensor, n: int, count: int) -> torch.Tensor:
    """Cut a byte stream into ``count`` consecutive n-bit integers (most significant bit first).

    Eight n-bit values take exactly n bytes, so the stream is read as rows of n bytes and value
    j of a row starts at bit ``j * n`` of it (spanning at most two bytes). ``stream`` must hold
    ``ceil(count / 8) * n`` bytes. Returns ``uint8`` values in ``[0, 2**n - 1]``.
    """
    rows = stream.reshape(-1, n)
    mask = (1 << n) - 1
    values = []
    for j in range(8):
        byte, offset = divmod(j * n, 8)
        if offset + n <= 8:
            values.append((rows[:, byte] >> (8 - offset - n)) & mask)
        else:  # the value straddles two bytes
            pair = (rows[:, byte].to(torch.int32) << 8) | rows[:, byte + 1]
            values.append(((pair >> (16 - offset - n)) & mask).to(torch.uint8))
    return torch.stack(values, dim=1).reshape(-1)[:count]


def _keystream(key: Key, n_bytes: int, device: torch.device) -> torch.Tensor:
    """``n_bytes`` of ChaCha20 keystream for ``key``, made on ``device`` (the same bytes anywhere)."""
    # On CPU, cryptography (OpenSSL) is far faster than the torch ChaCha20: on a 2-core AMD EPYC
    # it gave 0.4-2.8 GB/s against 5-90 MB/s (16 MiB streams, a noisy shared machine).
    if device.type == "cpu":
        return torch.from_numpy(keystream_bytes(key, n_bytes))
    return chacha20_keystream(key, n_bytes, device=device)


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
        count = batch.numel()
        stream = _keystream(key.derive(_SUBKEY), -(-count // 8) * n, batch.device)
        mask = (_n_bit_groups(stream, n, count) << (8 - n)).reshape(batch.shape)
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
