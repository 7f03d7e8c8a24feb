"""ChaCha20 (RFC 8439) written with torch integer ops, so keystreams can be made on any device.

The 32-bit words live in ``int64`` tensors and are masked back to 32 bits after every addition
and rotation (torch has no ``uint32`` arithmetic on every device). The block function runs on
many block counters at once: the four columns (then the four diagonals) of every block are
updated together, and a keystream is a batch of consecutive blocks, computed in chunks to bound
memory. The output is bit-identical to :func:`imgleak.keys.keystream_bytes` (``cryptography``).

On CPU, OpenSSL's ChaCha20 (:func:`imgleak.keys.chacha20_encryptor`) is much faster; this
module is for keystreams made where the tensors live (GPUs).
"""

from __future__ import annotations

import torch

from ._checks import non_negative_int
from .keys import NONCE_BYTES, Key, check_nonce
from .tensors import resolve_device

BLOCK_BYTES = 64
_MASK = 0xFFFFFFFF
_CONSTANTS = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"
# Blocks per chunk: 2 MiB of keystream (a few MB of int64 state, cache-friendly) on CPU;
# 64 MiB on accelerators, where larger launches pay off (about 1 GB of temporaries).
_CPU_CHUNK_BLOCKS = 1 << 15
_ACCELERATOR_CHUNK_BLOCKS = 1 << 20


def _rotl(x: torch.Tensor, r: int) -> torch.Tensor:
    return ((x << r) & _MASK) | (x >> (32 - r))


def _quarter_round(
    a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    a = (a + b) & _MASK
    d = _rotl(d ^ a, 16)
    c = (c + d) & _MASK
    b = _rotl(b ^ c, 12)
    a = (a + b) & _MASK
    d = _rotl(d ^ a, 8)
    c = (c + d) & _MASK
    b = _rotl(b ^ c, 7)
    return a, b, c, d


def chacha20_block(
    key_words: torch.Tensor, counters: torch.Tensor, nonce_words: torch.Tensor
) -> torch.Tensor:
    """The ChaCha20 block function for every counter in ``counters``.

    ``key_words`` holds the 8 little-endian key words, ``nonce_words`` the 3 nonce words and
    ``counters`` the block counters (1-D), all integer tensors on one device. Returns the output
    state as an ``int64`` tensor of shape ``(len(counters), 16)`` holding 32-bit words.

    >>> zeros = torch.zeros(8, dtype=torch.int64)
    >>> state = chacha20_block(zeros, torch.tensor([0, 1]), zeros[:3])
    >>> state.shape, hex(int(state[0, 0]))  # RFC 8439, A.1 test vector 1: bytes 76 b8 e0 ad
    (torch.Size([2, 16]), '0xade0b876')
    """
    for name, words, count in (("key_words", key_words, 8), ("counters", counters, None), ("nonce_words", nonce_words, 3)):
        if not isinstance(words, torch.Tensor) or words.is_floating_point() or words.is_complex() or words.dtype == torch.bool:
            kind = f"a {words.dtype} tensor" if isinstance(words, torch.Tensor) else type(words).__name__
            raise TypeError(f"{name} must be an integer torch.Tensor of 32-bit words, got {kind}")
        if count is not None and words.numel() != count:
            raise ValueError(f"{name} must hold {count} words, got {words.numel()}")
    counters = counters.to(torch.int64).reshape(-1)
    n_blocks = counters.numel()
    device = counters.device
    fixed = torch.cat([
        torch.tensor(_CONSTANTS, dtype=torch.int64, device=device),
        key_words.to(device=device, dtype=torch.int64).reshape(8),
    ])
    # Rows of the 4x4 state, each (4, n_blocks): row r holds words 4r..4r+3 of every block.
    initial = torch.empty(4, 4, n_blocks, dtype=torch.int64, device=device)
    initial[:3] = fixed.reshape(3, 4, 1)
    initial[3, 0] = counters
    initial[3, 1:] = nonce_words.to(device=device, dtype=torch.int64).reshape(3, 1)
    a, b, c, d = initial.unbind(0)
    for _ in range(10):  # 20 rounds = 10 x (column round, diagonal round)
        a, b, c, d = _quarter_round(a, b, c, d)
        a, b, c, d = _quarter_round(a, b.roll(-1, 0), c.roll(-2, 0), d.roll(-3, 0))
        b, c, d = b.roll(1, 0), c.roll(2, 0), d.roll(3, 0)
    out = (torch.stack([a, b, c, d]) + initial) & _MASK
    return out.reshape(16, n_blocks).T


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def chacha20_keystream(
    key: Key, n_bytes: int, nonce: int = 0, device: str | torch.device = "cpu", *, first_block: int = 0
) -> torch.Tensor:
    """``n_bytes`` of the ChaCha20 keystream for ``key`` and ``nonce`` from block ``first_block`` on, made on ``device``.

    Same stream as :func:`imgleak.keys.keystream_bytes` (96-bit little-endian nonce, block
    counter from ``first_block``, 64 bytes a block), returned as a 1-D ``uint8`` tensor on
    ``device`` (``"auto"`` picks CUDA when present).

    >>> from imgleak.keys import keystream_bytes
    >>> key = Key.from_seed(0)
    >>> torch.equal(chacha20_keystream(key, 1000), torch.from_numpy(keystream_bytes(key, 1000)))
    True
    >>> torch.equal(chacha20_keystream(key, 64, first_block=1), chacha20_keystream(key, 128)[64:])
    True
    """
    if not isinstance(key, Key):
        raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
    n_bytes = non_negative_int(n_bytes, "n_bytes")
    nonce = check_nonce(nonce)
    first_block = non_negative_int(first_block, "first_block")
    n_blocks = -(-n_bytes // BLOCK_BYTES)
    if first_block + n_blocks > 2**32:
        raise ValueError(f"n_bytes must be at most 2**32 blocks of 64 bytes (256 GiB) from first_block, got {n_bytes} bytes from block {first_block}")
    device = resolve_device(device)
    key_words = torch.tensor(_words(key.material), dtype=torch.int64, device=device)
    nonce_words = torch.tensor(
        _words(nonce.to_bytes(NONCE_BYTES, "little")), dtype=torch.int64, device=device
    )
    byte_shifts = torch.tensor([0, 8, 16, 24], dtype=torch.int64, device=device)
    out = torch.empty(n_blocks * BLOCK_BYTES, dtype=torch.uint8, device=device)
    chunk = _CPU_CHUNK_BLOCKS if device.type == "cpu" else _ACCELERATOR_CHUNK_BLOCKS
    for start in range(0, n_blocks, chunk):
        stop = min(start + chunk, n_blocks)
        counters = torch.arange(first_block + start, first_block + stop, dtype=torch.int64, device=device)
        words = chacha20_block(key_words, counters, nonce_words)
        # Serialise each word little-endian: (blocks, 16 words, 4 bytes).
        out[start * BLOCK_BYTES:stop * BLOCK_BYTES] = (
            ((words.unsqueeze(-1) >> byte_shifts) & 0xFF).to(torch.uint8).reshape(-1)
        )
    return out[:n_bytes]
