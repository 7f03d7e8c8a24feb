"""Tanaka's block-wise learnable encryption (LE; M. Tanaka, ICCE-TW 2018).

Every ``block`` × ``block`` block (default 4 × 4) of a ``C``-channel image is read in raster
order (row, column, channel) and each 8-bit value is split into its lower and upper 4-bit
halves: the block becomes a vector of ``D = 2 · block² · C`` nibbles (96 for RGB 4 × 4
blocks), laid out as ``[block² · C lower nibbles, block² · C upper nibbles]`` as in Tanaka's
code. Then

1. intensity reversal: the nibbles at the positions selected by the reversal key K_inv become
   ``15 - v`` (= ``v XOR 0xF``);
2. shuffling: the D nibble positions are permuted by the shuffle key K_shf (output position
   ``i`` takes nibble ``perm[i]``);
3. the nibbles are reassembled into 8-bit values (first half lower, second half upper).

The **same** K_inv and K_shf are used for every block of every image, which is what lets an
adaptation network (a 4 × 4, stride-4 convolution) learn on the encrypted images — and what
the attacks exploit.

Two key conventions:

``reversal_from_permutation=False`` (default, the paper)
    K_inv is D independent key bits and K_shf an independent permutation of D positions:
    ``N = D! · 2^D`` keys (log2 ≈ 594.3 for RGB 4 × 4 blocks, the paper's Eq. 1).
``reversal_from_permutation=True`` (Tanaka's published code, ported by Madono and Ito)
    one random permutation ``key`` of 0..D-1 is the whole key; the reversal set is
    ``{i : key[i] > D / 2}`` and the reversal is applied before **and** after the
    permutation (``E = R ∘ P ∘ R``). Only ``D!`` keys (log2 ≈ 498.3).

Both are exact bijections; decryption applies the inverse permutation with the same reversals.
The whole batch is worked on at once, on the images' device: the key's permutation, laid over
every block, becomes two flat gathers (the bytes holding each output byte's lower and upper
nibble), a per-position multiply, shift and mask pick the nibbles, and one XOR does the reversals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import torch

from ..keys import Key, torch_generator
from ..tensors import as_image_batch, restore_rank
from .._checks import positive_int
from .base import CipherBase, check_first_index, check_key
from .keyspace import check_shape, tanaka_log2

_SUBKEY = "blockwise"


def check_block(block: object) -> int:
    """``block`` if it is a positive int, else a ``ValueError``.

    >>> check_block(4)
    4
    """
    return positive_int(block, "block")


def check_sides(height: int, width: int, block: int, name: str = "x") -> None:
    """``ValueError`` unless ``height`` and ``width`` are multiples of ``block``.

    >>> check_sides(6, 8, 4)
    Traceback (most recent call last):
    ...
    ValueError: x is 6x8 pixels (HxW), but both sides must be multiples of the block size 4; ...
    """
    if height < block or width < block:
        raise ValueError(f"{name} is {height}x{width} pixels (HxW), smaller than one {block}x{block} block: "
                         f"this scheme needs images of at least {block}x{block} with sides multiples of {block}")
    if height % block or width % block:
        raise ValueError(
            f"{name} is {height}x{width} pixels (HxW), but both sides must be multiples of the block size "
            f"{block}; crop or pad the images first (e.g. to {height // block * block}x{width // block * block})"
        )


def split_blocks(batch: torch.Tensor, block: int, name: str = "x") -> torch.Tensor:
    """``(N, C, H, W)`` → ``(N, H/block, W/block, C, block, block)`` (a view where possible).

    Raises ``ValueError`` when H or W is not a multiple of ``block``.

    >>> batch = torch.arange(2 * 3 * 4 * 6).reshape(2, 3, 4, 6)
    >>> split_blocks(batch, 2).shape
    torch.Size([2, 2, 3, 3, 2, 2])
    >>> torch.equal(merge_blocks(split_blocks(batch, 2)), batch)
    True
    """
    n, c, h, w = batch.shape
    check_sides(h, w, block, name)
    return batch.reshape(n, c, h // block, block, w // block, block).permute(0, 2, 4, 1, 3, 5)


def block_offsets(height: int, width: int, block: int, device: torch.device) -> torch.Tensor:
    """Flat offsets (int64 ``(H/block, 1, W/block, 1)``) of every block's top-left pixel in an ``H × W`` plane.

    Added to :func:`pixel_offsets` they give every pixel of every block, in ``(H, W)`` order.

    >>> block_offsets(4, 4, 2, torch.device("cpu")).flatten().tolist()  # the 2x2 blocks of a 4x4 plane
    [0, 2, 8, 10]
    """
    rows = torch.arange(0, height, block, device=device) * width
    return (rows[:, None] + torch.arange(0, width, block, device=device))[:, None, :, None]


def pixel_offsets(block: int, width: int, device: torch.device) -> torch.Tensor:
    """Flat offsets (int64 ``(block, block)``) of a block's pixels, row-major, in a plane ``width`` wide.

    >>> pixel_offsets(2, 4, torch.device("cpu")).tolist()
    [[0, 1], [4, 5]]
    """
    return torch.arange(block, device=device)[:, None] * width + torch.arange(block, device=device)


def merge_blocks(blocks: torch.Tensor) -> torch.Tensor:
    """Undo :func:`split_blocks`: ``(N, Hb, Wb, C, b, b)`` → ``(N, C, Hb·b, Wb·b)``.

    >>> merge_blocks(torch.zeros(1, 2, 3, 3, 2, 2)).shape
    torch.Size([1, 3, 4, 6])
    """
    n, hb, wb, c, b, _ = blocks.shape
    return blocks.permute(0, 3, 1, 4, 2, 5).reshape(n, c, hb * b, wb * b)


@dataclass(frozen=True)
class TanakaKey:
    """The key material for one block size and channel count (CPU tensors).

    ``permutation``: int64 ``(D,)``, output nibble ``i`` takes nibble ``permutation[i]``;
    ``reversal``: bool ``(D,)``, nibbles flipped (``v XOR 0xF``). With Tanaka's own convention the
    reversal is applied before and after the permutation, otherwise before it only.
    """

    permutation: torch.Tensor
    reversal: torch.Tensor
    twice: bool


@dataclass(frozen=True)
class BlockwiseScramble(CipherBase):
    """Tanaka's learnable block-wise encryption: nibble reversal and shuffle, one key for all blocks.

    >>> cipher = BlockwiseScramble()  # 4 x 4 blocks, the paper's key convention
    >>> x = torch.arange(48, dtype=torch.uint8).view(1, 3, 4, 4).repeat(2, 1, 2, 2)  # one block, tiled
    >>> key = cipher.make_key(0, (3, 8, 8))
    >>> y = cipher.encrypt(x, key)
    >>> torch.equal(cipher.decrypt(y, key), x), torch.equal(y, x)
    (True, False)
    >>> torch.equal(y[..., :4, :4], y[..., 4:, 4:])  # equal blocks stay equal: one key for every block
    True
    >>> cipher.nibbles_per_block(3), round(cipher.key_space_log2((3, 8, 8)), 2)  # log2(96! · 2^96)
    (96, 594.28)
    >>> tuple(cipher.key_material(key, 3).permutation.shape)
    (96,)
    """

    block: int = 4
    reversal_from_permutation: bool = False
    name: ClassVar[str] = "blockwise"
    invertible: ClassVar[bool] = True
    attack_networks: ClassVar[Mapping[str, str]] = MappingProxyType({"itn": "block", "gan": "block"})

    def __post_init__(self) -> None:
        check_block(self.block)
        if not isinstance(self.reversal_from_permutation, bool):
            raise TypeError(
                f"reversal_from_permutation must be True or False, got {self.reversal_from_permutation!r}"
            )

    def describe(self) -> str:
        """E.g. ``"Tanaka's block-wise scramble, 4-pixel blocks"``."""
        return f"Tanaka's block-wise scramble, {self.block}-pixel blocks"

    def nibbles_per_block(self, channels: int) -> int:
        """D = 2 · block² · channels, the length of the vector that is reversed and shuffled."""
        return 2 * self.block * self.block * channels

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of keys for images of ``shape`` (only the channel count matters).

        ``log2(D!) + D`` with independent reversal bits (594.3 for RGB 4 × 4 blocks), ``log2(D!)``
        with Tanaka's permutation-derived reversal. The same key serves every block and image.
        """
        return tanaka_log2(self.block, check_shape(shape)[-3], self.reversal_from_permutation)

    def key_material(self, key: Key, channels: int) -> TanakaKey:
        """The permutation and reversal set that ``key`` gives for ``channels``-channel images."""
        check_key(key)
        d = self.nibbles_per_block(channels)
        # drawn on the CPU so that a key gives the same scramble on every device
        generator = torch_generator(key.derive(_SUBKEY))
        permutation = torch.randperm(d, generator=generator)
        if self.reversal_from_permutation:
            reversal = permutation > d / 2  # Tanaka's code: rev = key > key.size / 2
        else:
            reversal = torch.randint(0, 2, (d,), generator=generator).bool()
        return TanakaKey(permutation, reversal, twice=self.reversal_from_permutation)

    def _apply(self, x: torch.Tensor, key: Key, inverse: bool, name: str) -> torch.Tensor:
        batch, single = as_image_batch(x, name)
        n, c, h, w = batch.shape
        check_sides(h, w, self.block, name)
        index, scale, mask = self._gather_map(self.key_material(key, c), c, h, w, inverse, batch.device)
        flat = batch.reshape(n, c * h * w)
        low, high = (flat.gather(1, i.expand(n, -1)) for i in index)  # the bytes holding each output nibble
        # a lower source nibble is moved up by x 16 (mod 256), an upper one kept (x 1); then shifted/masked into place
        low.mul_(scale[0]).bitwise_right_shift_(4)
        high.mul_(scale[1]).bitwise_and_(0xF0)
        return restore_rank(low.bitwise_or_(high).bitwise_xor_(mask).view(n, c, h, w), single)

    def _gather_map(
        self, material: TanakaKey, channels: int, height: int, width: int, inverse: bool, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The key laid over whole images, for flat ``(C·H·W)`` images: ``index``, ``scale``, ``mask``.

        The lower (``h = 0``) and upper (``h = 1``) nibble of output byte ``p`` is a nibble of input
        byte ``index[h, p]``: its lower one where ``scale[h, p]`` is 16, its upper one where it is 1.
        The reassembled byte is XORed with ``mask[p]`` (the reversals of both nibbles).
        """
        b, c = self.block, channels
        order = material.permutation
        if inverse:
            order = torch.argsort(order)
        flip = material.reversal.to(torch.uint8) * 0xF
        if material.twice:  # the inverse of R ∘ P ∘ R is R ∘ P⁻¹ ∘ R
            flip = flip[order] ^ flip
        elif not inverse:  # reverse, then shuffle (decryption: undo the shuffle, then the reversal)
            flip = flip[order]
        # Tanaka's vector (half, row, column, channel) of the top-left block: byte offsets and nibble halves
        source = pixel_offsets(b, width, torch.device("cpu"))[:, :, None] + torch.arange(c) * (height * width)
        source = source.view(-1).repeat(2)[order]
        scale = torch.where(order < b * b * c, 16, 1).to(torch.uint8)

        def over_blocks(per_block: torch.Tensor) -> torch.Tensor:  # (2·b·b·C,) → (2, 1, C·H·W), all blocks alike
            block = per_block.view(2, b, b, c).permute(0, 3, 1, 2).to(device)[:, :, None, :, None, :]
            return block.expand(2, c, height // b, b, width // b, b).reshape(2, 1, -1)

        corners = block_offsets(height, width, b, device).expand(c, -1, b, -1, b).reshape(-1)
        mask = over_blocks(flip)
        return over_blocks(source) + corners, over_blocks(scale), mask[0, 0] | (mask[1, 0] << 4)

    def encrypt(self, x: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Encrypt a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)`` (H, W multiples of ``block``;
        one key for every image: ``first_index`` is checked, not used)."""
        check_first_index(first_index)
        return self._apply(x, key, inverse=False, name="x")

    def decrypt(self, y: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (same key)."""
        check_first_index(first_index)
        return self._apply(y, key, inverse=True, name="y")
