"""Random pixel permutation: the baseline of the RVT paper (Cao et al., arXiv 2411.16207).

The paper (its code and shipped data) gives **every image its own** random permutation of pixel
positions, the same for all channels of that image; only the per-image histogram survives.
``RandomPermutation(per_image=True)`` does that reproducibly: image number ``i`` of a data set
(``first_index + `` its place in the batch) is permuted with ``randperm`` seeded from
``key.derive("permutation/image-i")``, so decryption with the key is exact.
``per_image=False`` is the classic fixed-key scheme: one permutation shared by all images.

Output pixel ``q`` (flat row-major index) takes source pixel ``perm[q]``; the whole batch is
one gather on the images' device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..keys import Key, torch_generator
from ..tensors import as_image_batch, restore_rank


def _randperm(key: Key, n_pixels: int) -> torch.Tensor:
    # drawn on the CPU so that a key gives the same permutation on every device
    return torch.randperm(n_pixels, generator=torch_generator(key))


@dataclass(frozen=True)
class RandomPermutation:
    """Permute pixel positions (channels together): per image (the paper) or one fixed key."""

    per_image: bool = True
    name: ClassVar[str] = "permutation"
    invertible: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.per_image, bool):
            raise TypeError(f"per_image must be True or False, got {self.per_image!r}")

    def key_space_log2(self, shape: Sequence[int]) -> float:
        """log2 of the number of permutations for images of ``shape``: ``log2((H*W)!)`` per image.

        With ``per_image`` a batch shape ``(N, C, H, W)`` counts N independent permutations. The
        effective key space is bounded by the 256-bit key the permutations are drawn from.
        """
        per_image = math.lgamma(int(shape[-1]) * int(shape[-2]) + 1) / math.log(2)
        images = int(shape[0]) if self.per_image and len(shape) == 4 else 1
        return images * per_image

    def permutations(self, key: Key, n_images: int, n_pixels: int, first_index: int = 0) -> torch.Tensor:
        """The gather maps (int64, CPU): ``(n_images, n_pixels)`` per image, else ``(n_pixels,)``."""
        if not isinstance(key, Key):
            raise TypeError(f"key must be an imgleak Key, got {type(key).__name__}")
        if isinstance(first_index, bool) or not isinstance(first_index, int) or first_index < 0:
            raise ValueError(f"first_index must be a non-negative int, got {first_index!r}")
        if not self.per_image:
            return _randperm(key.derive("permutation/fixed"), n_pixels)
        indices = range(first_index, first_index + n_images)
        return torch.stack([_randperm(key.derive(f"permutation/image-{i}"), n_pixels) for i in indices])

    def _apply(self, x: torch.Tensor, key: Key, first_index: int, inverse: bool, name: str) -> torch.Tensor:
        batch, single = as_image_batch(x, name)
        n, c, h, w = batch.shape
        index = self.permutations(key, n, h * w, first_index).to(batch.device)
        if inverse:
            positions = torch.arange(h * w, device=batch.device).expand_as(index)
            index = torch.empty_like(index).scatter_(-1, index, positions)
        flat = batch.reshape(n, c, h * w)
        if self.per_image:
            out = flat.gather(2, index[:, None, :].expand(n, c, h * w))
        else:
            out = flat.index_select(2, index)
        return restore_rank(out.reshape(n, c, h, w), single)

    def encrypt(self, x: torch.Tensor, key: Key, first_index: int = 0) -> torch.Tensor:
        """Permute a uint8 image ``(C, H, W)`` or batch ``(N, C, H, W)``.

        ``first_index`` is the data-set index of the first image of ``x`` (per-image mode), so a
        data set encrypted in chunks still gets a fresh permutation for every image.
        """
        return self._apply(x, key, first_index, inverse=False, name="x")

    def decrypt(self, y: torch.Tensor, key: Key, first_index: int = 0) -> torch.Tensor:
        """Invert :meth:`encrypt` exactly (same key and ``first_index``)."""
        return self._apply(y, key, first_index, inverse=True, name="y")
