"""Where a scorecard's images come from and the context each cell measures in: the image
source (bundled photographs or a folder, loaded once per process), the seed's crops
(:func:`cut_crops`, crop ``i`` from source ``i mod S``) and :func:`make_context`."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._checks import integer, positive_int
from ..images import (
    Photo,
    bundled_photos,
    extract_patches,
    load_folder,
    patch_positions,
)
from ..tensors import resolve_device
from .base import Budget, Context, check_budget

# ------------------------------------------------------------------------------------ images


@dataclass(frozen=True)
class ImageSource:
    """Where the plain images come from: a ``folder`` (:func:`imgleak.images.load_folder`, RGB) or,
    with ``folder=None``, the bundled photographs. Workers load it themselves (once per process):
    on a remote cluster, the folder must be readable at the same path there.

    >>> ImageSource().describe(), ImageSource("/data/coco").describe()
    ('bundled photographs', 'folder /data/coco')
    """

    folder: str | None = None

    def describe(self) -> str:
        """A phrase for reports."""
        return "bundled photographs" if self.folder is None else f"folder {self.folder}"

    def load(self) -> tuple[Photo, ...]:
        """The full-size images (cached per process while the folder's files stay the same: do not write
        to them)."""
        return _load(self, _signature(self.folder))


def _signature(folder: str | None) -> tuple:
    """Names, sizes and modification times of a folder's files (a changed folder is read again)."""
    if folder is None or not os.path.isdir(folder):
        return ()
    return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder) if e.is_file()))


@functools.lru_cache(maxsize=2)
def _load(source: ImageSource, signature: tuple) -> tuple[Photo, ...]:
    if source.folder is None:
        return tuple(bundled_photos())
    return tuple(load_folder(source.folder))


def image_source(images: Any) -> ImageSource:
    """``images`` as an :class:`ImageSource`: ``None`` (bundled photographs), a folder path, or one already.

    >>> image_source(None) == ImageSource()
    True
    """
    if images is None or isinstance(images, ImageSource):
        return images or ImageSource()
    if isinstance(images, (str, os.PathLike)):
        return ImageSource(str(Path(images).resolve()))
    raise TypeError(f"images must be None (the bundled photographs), a folder path or an ImageSource, "
                    f"got {type(images).__name__}")


def check_sizes(photos: Sequence[Photo], size: int) -> None:
    """Refuse images smaller than ``size`` × ``size`` (the budget's crop), naming each file and the size needed.

    >>> check_sizes([Photo("tiny", torch.zeros(3, 8, 20, dtype=torch.uint8), "/data/tiny.png")], 16)
    Traceback (most recent call last):
    ...
    ValueError: images too small for crops of 16x16 pixels (the budget's size): /data/tiny.png (8x20); ...
    """
    small = [p for p in photos if min(p.size) < size]
    if small:
        listed = ", ".join(f"{p.source if os.sep in p.source else p.name} ({p.size[0]}x{p.size[1]})" for p in small)
        raise ValueError(f"images too small for crops of {size}x{size} pixels (the budget's size): {listed}; "
                         "remove them or choose a budget with a smaller size")


def crop_source_index(count: int, n_sources: int) -> torch.Tensor:
    """Which source each of ``count`` crops is cut from: crop ``i`` from source ``i mod n_sources``.

    >>> crop_source_index(5, 2).tolist()
    [0, 1, 0, 1, 0]
    """
    return torch.arange(positive_int(count, "count"), dtype=torch.int64) % positive_int(n_sources, "n_sources")


def _check_sources(sources: Sequence[torch.Tensor]) -> None:
    """Refuse sources that are not uint8 ``(C, H, W)`` tensors of one channel count, naming the first that differs.

    One rule whatever the order: a grey source among RGB ones (or the other way round) is refused,
    never converted, so a crop's channels are always its photo's own.
    """
    if not isinstance(sources, Sequence) or isinstance(sources, (str, bytes)) or not sources:
        raise ValueError("sources must hold at least one image")
    for i, source in enumerate(sources):
        if not isinstance(source, torch.Tensor) or source.dtype != torch.uint8 or source.dim() != 3:
            got = f"{source.dtype} {tuple(source.shape)}" if isinstance(source, torch.Tensor) else type(source).__name__
            raise TypeError(f"sources[{i}] must be a uint8 tensor (C, H, W), got {got}")
        if source.shape[0] != sources[0].shape[0]:
            raise ValueError(f"sources must all have the same number of channels: sources[0] has "
                             f"{int(sources[0].shape[0])}, sources[{i}] has {int(source.shape[0])} (convert grey "
                             "images to RGB first, e.g. image.expand(3, -1, -1), or leave them out)")


def cut_crops(sources: Sequence[torch.Tensor], count: int, size: int, seed: int) -> torch.Tensor:
    """``count`` crops ``uint8 (count, C, size, size)``, crop ``i`` from ``sources[i mod S]`` at a seeded position.

    >>> sources = [torch.arange(64, dtype=torch.uint8).view(1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.uint8)]
    >>> crops = cut_crops(sources, 3, 4, seed=0)
    >>> tuple(crops.shape), int(crops[1].max()), torch.equal(crops, cut_crops(sources, 3, 4, seed=0))
    ((3, 1, 4, 4), 0, True)
    """
    _check_sources(sources)
    count, size, seed = positive_int(count, "count"), positive_int(size, "size"), integer(seed, "seed")
    index = crop_source_index(count, len(sources))
    crops = torch.empty((count, *sources[0].shape[:-2], size, size), dtype=torch.uint8)
    for j, source in enumerate(sources[:count]):
        rows = (index == j).nonzero().flatten()
        h, w = source.shape[-2:]
        position_seed = (seed * 1_000_003 + j) % 2**63
        crops[rows] = extract_patches(source, patch_positions(int(h), int(w), size, rows.numel(), position_seed), size)
    return crops


def make_context(source: ImageSource, budget: Budget | str, seed: int, device: str | torch.device = "auto") -> Context:
    """The context of one seed: ``budget.images`` crops of ``budget.size`` (on ``device``) and the full sources;
    ``budget`` is a :class:`~imgleak.scorecard.base.Budget` or the name of one (``"quick"``, ...).

    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = make_context(ImageSource(), BUDGETS["quick"], seed=0, device="cpu")
    >>> tuple(context.images.shape), len(context.sources)
    ((4, 3, 32, 32), 11)
    """
    source, budget, seed = image_source(source), check_budget(budget), integer(seed, "seed")
    photos = source.load()
    check_sizes(photos, budget.size)
    sources = tuple(p.image for p in photos)
    device = resolve_device(device)
    images = cut_crops(sources, budget.images, budget.size, seed).to(device)
    return Context(images=images, seed=seed, budget=budget, sources=sources, device=device)


def images_fingerprint(photos: Sequence[Photo]) -> str:
    """A short SHA-256 of the images' names, shapes and pixels (cells of other images are not reused).

    >>> images_fingerprint([Photo("a", torch.zeros(1, 2, 2, dtype=torch.uint8), "x")])
    '5dd2e4ce444a63c6'
    """
    digest = hashlib.sha256()
    for photo in photos:
        digest.update(f"{photo.name}{tuple(photo.image.shape)}".encode())
        digest.update(photo.image.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


__all__ = ['ImageSource', 'check_sizes', 'crop_source_index', 'cut_crops', 'image_source', 'images_fingerprint', 'make_context']
