"""Random pixel permutation: the baseline of the RVT paper (Cao et al., arXiv 2411.16207).

The paper (its code and shipped data) gives **every image its own** random permutation of pixel
positions, the same for all channels of that image; only the per-image histogram survives.
``RandomPermutation(per_image=True)`` does that reproducibly: image number ``i`` of a data set
(``first_index + `` its place in the batch) is permuted with ``randperm`` seeded from
``key.derive("permutation/image-i")``, so decryption with the key is exact.
``per_image=False`` is the classic fixed-key scheme: one permutation shared by all images.

Output pixel ``q`` (flat row-major index) takes source pixel ``perm[q]``; the whole batch is
one gather on the images' device (:func:`move_pixels`, shared with RVT).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import torch

from .._checks import non_negative_int, positive_int
from ..keys import Key, torch_generator
from ..tensors import as_image_batch, restore_rank
from .base import CipherBase, check_first_index, check_key
from .keyspace import check_map_request, check_shape

_CPU = torch.device("cpu")


def move_pixels(batch: torch.Tensor, index: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """``out[i, :, q] = batch[i, :, index[q]]`` over the flat pixels of an ``(N, C, H, W)`` batch.

    ``index`` (int64, on the batch's device) is one map ``(H*W,)`` for all images or one per
    image ``(N, H*W)``; all channels move together. It is expanded over the batch as a view and
    applied by one ``torch.gather`` (chosen over ``index_select`` along the pixels by
    ``bench/rvt.py``; figures in ``bench/README.md``). ``inverse`` undoes a permutation map with
    one ``scatter_`` (``out[..., index[q]] = batch[..., q]``) instead of inverting the map first.

    >>> batch, index = torch.arange(4, dtype=torch.uint8).view(1, 1, 2, 2), torch.tensor([3, 0, 1, 2])
    >>> move_pixels(batch, index).flatten().tolist()
    [3, 0, 1, 2]
    >>> torch.equal(move_pixels(move_pixels(batch, index), index, inverse=True), batch)
    True
    """
    n, c, h, w = batch.shape
    flat = batch.reshape(n, c, h * w)
    expanded = index.reshape(-1, 1, h * w).expand(n, c, h * w)
    out = torch.empty_like(flat).scatter_(2, expanded, flat) if inverse else flat.gather(2, expanded)
    return out.reshape(n, c, h, w)


def _randperm(key: Key, n_pixels: int) -> torch.Tensor:
    # drawn on the CPU so that a key gives the same permutation on every device
    return torch.randperm(n_pixels, generator=torch_generator(key))


@lru_cache(maxsize=16)
def _fixed_permutation(key: Key, n_pixels: int, device: torch.device) -> torch.Tensor:
    """The fixed-key permutation, drawn once per key and size and copied once to ``device``."""
    return _randperm(key.derive("permutation/fixed"), n_pixels).to(device)


@dataclass(frozen=True)
class RandomPermutation(CipherBase):
    """Permute pixel positions (channels together): per image (the paper) or one fixed key.

    >>> cipher = RandomPermutation()  # a permutation per image
    >>> x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).repeat(2, 1, 1, 1)  # two equal images
    >>> key = cipher.make_key(0, (1, 4, 4))
    >>> y = cipher.encrypt(x, key)
    >>> torch.equal(cipher.decrypt(y, key), x), torch.equal(y[0], y[1])
    (True, False)
    >>> torch.equal(cipher.encrypt(x[1:], key, first_index=1), y[1:])  # a chunk agrees with the batch
    True
    >>> torch.equal(y.flatten(1).sort(dim=1).values, x.flatten(1))  # only positions change
    True
    >>> round(cipher.key_space_log2((1, 4, 4)), 2), tuple(cipher.permutations(key, 3, 16).shape)  # log2 16!
    (44.25, (3, 16))
    """

    per_image: bool = True
    name: ClassVar[str] = "permutation"
    invertible: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.per_image, bool):
            raise TypeError(f"per_image must be True or False, got {self.per_image!r}")

    @property
    def per_image_keys(self) -> bool:  # type: ignore[override]
        """Whether every image has its own permutation (``per_image``)."""
        return self.per_image

    def describe(self) -> str:
        """``"random permutation, per image"`` or ``"random permutation, fixed"``."""
        return f"random permutation, {'per image' if self.per_image else 'fixed'}"

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of permutations for images of ``shape``: ``log2((H*W)!)`` per image.

        With ``per_image`` a batch shape ``(N, C, H, W)`` counts N independent permutations. The
        effective key space is bounded by the 256-bit key the permutations are drawn from.
        """
        shape = check_shape(shape)
        per_image = math.lgamma(shape[-1] * shape[-2] + 1) / math.log(2)
        images = shape[0] if self.per_image and len(shape) == 4 else 1
        return images * per_image

    def permutations(self, key: Key, n_images: int, n_pixels: int, first_index: int = 0) -> torch.Tensor:
        """The gather maps (int64, CPU): ``(n_images, n_pixels)`` per image, else ``(n_pixels,)``."""
        n_images, n_pixels = non_negative_int(n_images, "n_images"), positive_int(n_pixels, "n_pixels")
        maps = self._maps(key, n_images, n_pixels, first_index, _CPU)
        return maps if self.per_image else maps.clone()  # the fixed map is cached: hand out a copy

    def pixel_maps(self, key: Key, shape: Sequence[int], n_images: int = 1, first_index: int = 0) -> torch.Tensor:
        """:meth:`permutations` for images of ``shape`` (the :class:`~imgleak.ciphers.base.PixelMover` view)."""
        shape, n_images, first_index = check_map_request(shape, n_images, first_index)
        return self.permutations(key, n_images, shape[-2] * shape[-1], first_index)

    def _maps(self, key: Key, n_images: int, n_pixels: int, first_index: int, device: torch.device) -> torch.Tensor:
        """:meth:`permutations` on ``device``; the fixed map comes from a cache and must not be changed."""
        check_key(key)
        first_index = check_first_index(first_index)
        if not self.per_image:
            return _fixed_permutation(key, n_pixels, device)
        if n_images == 0:
            return torch.empty(0, n_pixels, dtype=torch.int64, device=device)
        indices = range(first_index, first_index + n_images)
        return torch.stack([_randperm(key.derive(f"permutation/image-{i}"), n_pixels) for i in indices]).to(device)

    def _apply(self, x: torch.Tensor, key: Key, first_index: int, inverse: bool, name: str) -> torch.Tensor:
        batch, single = as_image_batch(x, name)
        n, _, h, w = batch.shape
        index = self._maps(key, n, h * w, first_index, batch.device)
        return restore_rank(move_pixels(batch, index, inverse), single)

    def encrypt(self, x: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Permute a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``.

        ``first_index`` is the data-set index of the first image of ``x`` (per-image mode), so a
        data set encrypted in chunks still gets a fresh permutation for every image.
        """
        return self._apply(x, key, first_index, inverse=False, name="x")

    def decrypt(self, y: torch.Tensor, key: Key, *, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (same key and ``first_index``)."""
        return self._apply(y, key, first_index, inverse=True, name="y")
