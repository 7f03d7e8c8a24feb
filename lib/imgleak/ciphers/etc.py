"""Block-scrambling encryption-then-compression (EtC; Kurihara, Kikuchi, Imaizumi, Shiota & Kiya, 2015).

The image is cut into ``block`` × ``block`` blocks (default 16, the JPEG-compatible size for
colour images with 4:2:0 chroma sub-sampling; the Kiya-lab robustness code uses 4 on 32 × 32
CIFAR-10 images) and, with keys chosen per block position:

1. block scrambling: the n blocks are permuted (output block ``q`` takes block ``perm[q]``);
2. block rotation and inversion: each block is turned into one of its 8 distinct images under
   rotations by 0/90/180/270 degrees optionally followed by a horizontal flip (the dihedral
   group of the square — a vertical flip, or both flips, is one of these 8);
3. negative–positive transform: ``p → p XOR 255`` for all pixels of the selected blocks;
4. colour-channel shuffle: each block's channels are put in one of the ``C!`` orders.

Steps 2–4 use the key of the destination block position. Key space for n blocks (per image)::

    log2 N_EtC = log2(n!) + n · (3 + 1 + log2 C!)      # 8 dihedral · 2 NP · C! orders per block

Some EtC papers count rotation (4) and inversion (4: none, horizontal, vertical, both) as
independent (``4^n · 4^n``); only 8 of those 16 combinations differ, so that count is ``n`` bits
too high — :func:`imgleak.ciphers.keyspace.etc_log2` gives both.

``mode="same"`` uses one key for all images (the learnable-encryption setting); ``"different"``
gives image ``i`` (``first_index`` + place in the batch) the key ``key.derive(f"etc/image-{i}")``.
Decryption is exact. The four steps move whole pixels, so they compose into one gather over
the flat images (and one XOR for the negative–positive transform) on the images' device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from functools import lru_cache
from typing import ClassVar

import torch

from ..keys import Key, torch_generator
from ..tensors import as_image_batch, restore_rank
from .blockwise import block_offsets, check_block, check_sides, pixel_offsets
from .base import CipherBase, check_first_index, check_key
from .keyspace import check_shape, etc_log2
from .pixelwise import check_mode, image_keys, in_chunks, random_orders

_SUBKEY = "etc"
N_DIHEDRAL = 8


@lru_cache(maxsize=16)
def dihedral_maps(block: int) -> torch.Tensor:
    """The 8 gather maps (int64 ``(8, block²)``) of a square block's rotations and flips.

    Map ``k`` = rotation by ``k mod 4`` quarter turns, then a horizontal flip if ``k >= 4``;
    transformed pixel ``i`` (flat, row-major) takes pixel ``map[k, i]``.

    >>> dihedral_maps(2)[:2].tolist()  # the identity and a quarter turn of [[0, 1], [2, 3]]
    [[0, 1, 2, 3], [1, 3, 0, 2]]
    >>> len({tuple(m) for m in dihedral_maps(3).tolist()})  # all 8 differ
    8
    """
    grid = torch.arange(block * block).reshape(block, block)
    maps = []
    for flip in (False, True):
        for turns in range(4):
            image = torch.rot90(grid, turns, dims=(0, 1))
            maps.append((image.flip(1) if flip else image).reshape(-1))
    return torch.stack(maps)


@dataclass(frozen=True)
class EtCKey:
    """Key material (CPU) for a batch; N = 1 in ``"same"`` mode, n = number of blocks.

    ``permutation`` ``(N, n)``, ``dihedral`` ``(N, n)`` in 0..7, ``negative`` ``(N, n)`` bool,
    ``order`` ``(N, n, C)`` channel orders.
    """

    permutation: torch.Tensor
    dihedral: torch.Tensor
    negative: torch.Tensor
    order: torch.Tensor


@dataclass(frozen=True)
class EtCEncryption(CipherBase):
    """Block scrambling, rotation/flip, negative–positive and channel shuffle per block.

    >>> cipher = EtCEncryption(block=2)  # one key for all images
    >>> x = torch.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4).to(torch.uint8)
    >>> key = cipher.make_key(0, (3, 4, 4))
    >>> y = cipher.encrypt(x, key)
    >>> torch.equal(cipher.decrypt(y, key), x), torch.equal(y, x)
    (True, False)
    >>> folded = lambda t: torch.minimum(t, 255 - t).flatten(1).sort(dim=1).values  # pixels move or flip only
    >>> torch.equal(folded(y), folded(x))
    True
    >>> cipher.n_blocks((3, 4, 4)), round(cipher.key_space_log2((3, 4, 4)), 2)  # log2 4! + 4 (4 + log2 6)
    (4, 30.92)
    """

    block: int = 16
    mode: str = "same"
    name: ClassVar[str] = "etc"
    invertible: ClassVar[bool] = True
    attack_networks: ClassVar[Mapping[str, str]] = MappingProxyType({"itn": "block", "gan": "block"})

    def __post_init__(self) -> None:
        check_block(self.block)
        check_mode(self.mode)

    @property
    def per_image_keys(self) -> bool:  # type: ignore[override]
        """True in ``"different"`` mode."""
        return self.mode == "different"

    def describe(self) -> str:
        """E.g. ``"EtC block scrambling, 16-pixel blocks, same key"``."""
        return f"EtC block scrambling, {self.block}-pixel blocks, {'same key' if self.mode == 'same' else 'different keys'}"

    def n_blocks(self, shape: Sequence[int]) -> int:
        """The number of blocks of one image of ``shape`` (``ValueError`` if sides are not multiples)."""
        h, w = check_shape(shape)[-2:]
        if h % self.block or w % self.block:
            raise ValueError(f"image sides {h}x{w} must be multiples of the block size {self.block}")
        return (h // self.block) * (w // self.block)

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of keys for images of ``shape``: ``log2 n! + n (4 + log2 C!)`` per image
        (n blocks); in ``"different"`` mode a batch ``(N, C, H, W)`` counts N keys."""
        images = int(shape[0]) if self.per_image_keys and len(shape) == 4 else 1
        return images * etc_log2(self.n_blocks(shape), int(shape[-3]))

    def key_material(self, key: Key, shape: Sequence[int], first_index: int = 0) -> EtCKey:
        """The per-block keys for a batch of ``shape`` ``(N, C, H, W)``."""
        n, c = int(shape[0]), int(shape[1])
        blocks = self.n_blocks(shape)
        keys = image_keys(key, _SUBKEY, self.mode, n, first_index)

        def draw(one: Key) -> tuple[torch.Tensor, ...]:
            generator = torch_generator(one)
            return (
                torch.randperm(blocks, generator=generator),
                torch.randint(0, N_DIHEDRAL, (blocks,), generator=generator),
                torch.randint(0, 2, (blocks,), generator=generator).bool(),
                random_orders(generator, blocks, c),
            )

        parts = zip(*(draw(k) for k in (keys if isinstance(keys, list) else [keys])))
        return EtCKey(*(torch.stack(p) for p in parts))

    def _apply(self, x: torch.Tensor, key: Key, first_index: int, inverse: bool, name: str) -> torch.Tensor:
        batch, single = as_image_batch(x, name)
        check_sides(batch.shape[-2], batch.shape[-1], self.block, name)
        check_key(key)  # also for an empty batch, which draws no key
        first_index = check_first_index(first_index)

        def apply(images: torch.Tensor, offset: int, out: torch.Tensor) -> None:
            self._apply_chunk(images, key, first_index + offset, inverse, out)

        return restore_rank(in_chunks(apply, batch, self.mode), single)

    def _apply_chunk(self, images: torch.Tensor, key: Key, first_index: int, inverse: bool, out: torch.Tensor) -> None:
        """Encrypt (or decrypt) ``images`` into ``out`` with one gather and one XOR."""
        n, c, h, w = images.shape
        b = self.block
        hb, wb = h // b, w // b
        m = self.key_material(key, images.shape, first_index)
        device = images.device
        maps, source, order, dihedral, negative = dihedral_maps(b), m.permutation, m.order, m.dihedral, m.negative
        if inverse:  # plain block t is cipher block u = perm⁻¹[t], undone with u's keys
            source = source.argsort(dim=1)
            maps, order = maps.argsort(dim=1), order.argsort(dim=-1).gather(1, source[..., None].expand_as(order))
            dihedral, negative = dihedral.gather(1, source), negative.gather(1, source)
        # output pixel (channel c, block t, pixel i) is input pixel (order[t, c], source[t], maps[dihedral[t], i])
        corners = block_offsets(h, w, b, device).reshape(-1)
        plane = order.to(device) * (h * w) + corners[source.to(device)][..., None]  # (M, blocks, C)
        turned = pixel_offsets(b, w, device).view(-1)[maps.to(device)]  # (8, b²) flat offsets, each rotation/flip
        pixels = turned.index_select(0, dihedral.to(device).view(-1)).view(-1, hb, wb, b, b)  # (M, ...) per block
        index = torch.empty(plane.shape[0], c, hb, b, wb, b, dtype=torch.int64, device=device)  # output layout
        torch.add(plane.view(-1, hb, wb, c).permute(0, 3, 1, 2)[:, :, :, None, :, None],
                  pixels.transpose(2, 3)[:, None], out=index)
        flip = (negative.to(device, torch.uint8) * 255).view(-1, 1, hb, 1, wb, 1).expand(-1, 1, hb, b, wb, b)
        torch.gather(images.reshape(n, -1), 1, index.view(-1, c * h * w).expand(n, -1), out=out.view(n, -1))
        out.bitwise_xor_(flip.reshape(-1, 1, h, w))

    def encrypt(self, x: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Encrypt a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)`` (sides multiples of ``block``)."""
        return self._apply(x, key, first_index, inverse=False, name="x")

    def decrypt(self, y: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (same key and ``first_index``)."""
        return self._apply(y, key, first_index, inverse=True, name="y")
