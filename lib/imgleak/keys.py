"""Secret keys and the keystreams derived from them.

A :class:`Key` is 256 bits. It is made from an integer seed (reproducible experiments) or drawn
from the operating system's CSPRNG (:meth:`Key.generate`). Everything random in a cipher comes
from a key: byte and bit keystreams from ChaCha20 (the ``cryptography`` package) and, for
schemes that need random permutations, a :class:`torch.Generator` seeded from the key. Nothing
in imgleak reads a global random state.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass

import numpy as np
import torch
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms

from ._checks import non_negative_int, number
from .tensors import resolve_device

KEY_BYTES = 32
NONCE_BYTES = 12
MAX_STREAM_BYTES = 64 * 2**32  # ChaCha20's 32-bit block counter: 2**32 blocks of 64 bytes


@dataclass(frozen=True)
class Key:
    """A 256-bit secret key.

    Build one with :meth:`from_seed` (reproducible) or :meth:`generate` (random). A key can
    :meth:`derive` independent sub-keys for different purposes, so one experiment seed feeds
    several ciphers without their keystreams overlapping.

    >>> key = Key.from_seed(0)
    >>> key  # only the fingerprint is shown
    Key(c50e6537)
    >>> Key.from_seed(0) == key, Key.from_hex(key.hex()) == key, key.derive("a") == key.derive("b")
    (True, True, False)
    >>> Key.generate() == Key.generate()
    False
    """

    material: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.material, bytes) or len(self.material) != KEY_BYTES:
            raise ValueError(
                f"Key material must be {KEY_BYTES} bytes, got "
                f"{type(self.material).__name__} of length {len(self.material) if hasattr(self.material, '__len__') else '?'}"
            )

    def __repr__(self) -> str:  # never print the secret in full
        return f"Key({self.fingerprint})"

    @classmethod
    def from_seed(cls, seed: int) -> "Key":
        """The key determined by an integer seed (SHA-256 of the seed's decimal text)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        return cls(hashlib.sha256(f"imgleak-key:{int(seed)}".encode()).digest())

    @classmethod
    def generate(cls) -> "Key":
        """A fresh random key from the operating system's CSPRNG."""
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_hex(cls, text: str) -> "Key":
        """The key written by :meth:`hex`."""
        try:
            material = bytes.fromhex(text)
        except (ValueError, TypeError):
            raise ValueError(f"Key.from_hex expects {2 * KEY_BYTES} hex digits") from None
        return cls(material)

    def hex(self) -> str:
        """The key as 64 hex digits (secret: store it as you would a password)."""
        return self.material.hex()

    @property
    def fingerprint(self) -> str:
        """A short, non-secret identifier of the key (first 8 hex digits of its SHA-256)."""
        return hashlib.sha256(self.material).hexdigest()[:8]

    def derive(self, purpose: str) -> "Key":
        """An independent sub-key for ``purpose`` (e.g. ``"selective"``, ``"rvt/image-3"``)."""
        if not isinstance(purpose, str) or not purpose:
            raise ValueError("purpose must be a non-empty string")
        return Key(hashlib.sha256(self.material + b"/" + purpose.encode()).digest())


def check_nonce(nonce: int) -> int:
    """``nonce`` checked as a 96-bit non-negative int.

    >>> check_nonce(7)
    7
    >>> check_nonce(2**96)
    Traceback (most recent call last):
    ...
    ValueError: nonce must be below 2**96, got 79228162514264337593543950336
    """
    nonce = non_negative_int(nonce, "nonce")
    if nonce >= 2 ** (8 * NONCE_BYTES):
        raise ValueError(f"nonce must be below 2**{8 * NONCE_BYTES}, got {nonce}")
    return nonce


# In-place XOR goes through a buffer of this size, one per thread, made once (first writes to new
# memory fault): cryptography 51 refuses overlapping buffers. 1 MiB measured best of 16 KiB - 1 MiB
# (bench/README.md, selective encryption).
_SCRATCH_BYTES = 1 << 20
_SCRATCH = threading.local()


def _scratch() -> np.ndarray:
    """This thread's scratch buffer of :data:`_SCRATCH_BYTES`."""
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.size != _SCRATCH_BYTES:
        buffer = _SCRATCH.buffer = np.empty(_SCRATCH_BYTES, np.uint8)
    return buffer


class ChaCha20Stream:
    """A running ChaCha20 keystream: XOR data with the next keystream bytes, in place or not.

    Wraps OpenSSL's ChaCha20 context (``cryptography``). ``update(data)`` returns new bytes;
    ``update_into(data, out)`` writes into ``out``, which may be ``data`` itself (in place, through
    a bounded scratch buffer: ``cryptography`` 51 and later refuse overlapping buffers) or memory of
    its own. OpenSSL releases the GIL, so several streams can run on threads.

    >>> stream = chacha20_encryptor(Key(bytes(32)))
    >>> data = np.zeros(8, np.uint8)
    >>> stream.update_into(data, data)  # in place
    8
    >>> data.tobytes().hex()  # RFC 8439, A.1 test vector 1
    '76b8e0ada0f13d90'
    """

    def __init__(self, context: CipherContext) -> None:
        self._context = context

    def update(self, data: bytes) -> bytes:
        """``data`` XOR the next ``len(data)`` keystream bytes."""
        return self._context.update(data)

    def update_into(self, data, out) -> int:
        """Write ``data`` XOR the next keystream bytes into ``out``; returns the number of bytes.

        ``data`` and ``out`` are C-contiguous byte buffers (uint8 numpy arrays, say) of one length;
        ``out`` is ``data`` itself or shares no memory with it.
        """
        source = np.frombuffer(memoryview(data).cast("B"), np.uint8)
        target = np.frombuffer(memoryview(out).cast("B"), np.uint8)
        if source.size != target.size:
            raise ValueError(f"out must have data's length {source.size}, got {target.size}")
        if not np.may_share_memory(source, target):
            return self._context.update_into(source, target)
        if source.__array_interface__["data"][0] != target.__array_interface__["data"][0]:
            raise ValueError("out overlaps data without being it: pass data itself to work in place, "
                             "or memory of its own")
        scratch = _scratch()
        for low in range(0, source.size, scratch.size):
            high = min(low + scratch.size, source.size)
            self._context.update_into(source[low:high], scratch[:high - low])
            target[low:high] = scratch[:high - low]
        return source.size


def chacha20_encryptor(key: Key, block: int = 0, nonce: int = 0) -> ChaCha20Stream:
    """OpenSSL's ChaCha20 (``cryptography``) for ``key`` and ``nonce``, from byte ``64 * block`` of the stream on.

    ChaCha20 as in RFC 8439 (96-bit little-endian nonce, 32-bit block counter). The returned
    :class:`ChaCha20Stream`'s ``update(data)`` / ``update_into(data, out)`` XOR ``data`` with the
    next keystream bytes (``out`` may be ``data``), so with zeros as data it yields the keystream,
    and long streams can be made in chunks, in any order, on several threads.

    >>> key = Key.from_seed(0)
    >>> chacha20_encryptor(key, block=1).update(bytes(64)) == keystream_bytes(key, 128)[64:].tobytes()
    True
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    block = non_negative_int(block, "block")
    nonce = check_nonce(nonce)
    if block >= 2**32:
        raise ValueError(f"block must be below 2**32 (the 32-bit block counter), got {block}")
    # cryptography takes a 16-byte value: 4-byte little-endian block counter, then the nonce.
    counter_nonce = block.to_bytes(4, "little") + nonce.to_bytes(NONCE_BYTES, "little")
    return ChaCha20Stream(Cipher(algorithms.ChaCha20(key.material, counter_nonce), mode=None).encryptor())


def keystream_bytes(key: Key, n: int, nonce: int = 0) -> np.ndarray:
    """The first ``n`` bytes of the ChaCha20 keystream for ``key`` and ``nonce`` (``uint8`` numpy array).

    >>> keystream_bytes(Key(bytes(32)), 8).tobytes().hex()  # RFC 8439, A.1 test vector 1
    '76b8e0ada0f13d90'
    """
    n = non_negative_int(n, "n")
    if n > MAX_STREAM_BYTES:
        raise ValueError(f"n must be at most {MAX_STREAM_BYTES} bytes (2**32 ChaCha20 blocks of 64 bytes), got {n}")
    return np.frombuffer(chacha20_encryptor(key, 0, nonce).update(bytes(n)), dtype=np.uint8).copy()


def keystream_bits(key: Key, n: int, nonce: int = 0) -> np.ndarray:
    """The first ``n`` bits of the ChaCha20 keystream (most significant bit of each byte first).

    >>> keystream_bits(Key(bytes(32)), 8).tolist()  # 0x76, the first byte of RFC 8439's vector
    [0, 1, 1, 1, 0, 1, 1, 0]
    """
    n = non_negative_int(n, "n")
    if n > 8 * MAX_STREAM_BYTES:
        raise ValueError(f"n must be at most {8 * MAX_STREAM_BYTES} bits (2**32 ChaCha20 blocks of 64 bytes), got {n}")
    return np.unpackbits(keystream_bytes(key, (n + 7) // 8, nonce))[:n]


def torch_generator(key: Key, device: str | torch.device = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``key`` (for random permutations).

    The seed is the first 63 bits of the key's ``"torch-generator"`` sub-key, so the same key
    always yields the same stream of permutations on a given device type.

    >>> key = Key.from_seed(0)
    >>> first = torch.randperm(8, generator=torch_generator(key))
    >>> torch.equal(first, torch.randperm(8, generator=torch_generator(key)))
    True
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    seed = int.from_bytes(key.derive("torch-generator").material[:8], "little") >> 1
    generator = torch.Generator(device=resolve_device(device))
    generator.manual_seed(seed)
    return generator


@dataclass(frozen=True)
class BitBalance:
    """How balanced a keystream's bits are: the share of ones overall and at each bit position."""

    n_bytes: int
    ones_fraction: float
    ones_by_position: np.ndarray  # shape (8,), index 0 = most significant bit
    z_score: float  # (ones - n/2) / sqrt(n/4) over all bits; |z| < 3 for a good stream

    def tolerance(self, z: float = 2.576) -> float:
        """Half-width of the two-sided band (99 % by default) around 0.5 for one bit position.

    >>> round(float(bit_balance(np.zeros(10_000, np.uint8)).tolerance()), 5)  # 2.576 · 0.5 / sqrt(10,000)
    0.01288
    """
        return number(z, "z", positive=True) * 0.5 / np.sqrt(self.n_bytes)


def bit_balance(stream: np.ndarray) -> BitBalance:
    """Bit statistics of a ``uint8`` keystream (see :class:`BitBalance`).

    >>> balance = bit_balance(np.array([0b11110000, 0b11001100], dtype=np.uint8))
    >>> balance.ones_fraction, float(balance.z_score), balance.ones_by_position.tolist()
    (0.5, 0.0, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.0, 0.0])
    """
    stream = np.asarray(stream)
    if stream.dtype != np.uint8 or stream.ndim != 1 or stream.size == 0:
        raise ValueError(f"stream must be a non-empty 1-D uint8 array, got {stream.dtype} {stream.shape}")
    bits = np.unpackbits(stream).reshape(-1, 8)
    ones = int(bits.sum())
    total = bits.size
    return BitBalance(
        n_bytes=int(stream.size),
        ones_fraction=ones / total,
        ones_by_position=bits.mean(axis=0),
        z_score=(ones - total / 2) / np.sqrt(total / 4),
    )
