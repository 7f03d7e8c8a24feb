"""Data for the attacks on learnable encryption: photo crops split by source photo, and STL-10.

The paper (Sirichotedumrong & Kiya, arXiv 2010.06198) uses STL-10: 5,000 training and 8,000 test
images of 96 × 96 pixels, no augmentation. Offline, the chapter's default is **many random
96 × 96 crops of the bundled photographs** (:func:`imgleak.images.bundled_photos`, 11 photos),
split into training and test crops **by source photo**: no test photo contributes a single
pixel to the training crops, so an attack that merely memorised the training photos gains
nothing on the test crops.

Labels: the label of a crop is the index of its source photo in ``AttackData.classes`` (the
names of all photos used, training and test). The TN-model needs a classifier trained on plain
images; with photo crops its classes are the *training* photos (test crops carry the labels of
photos no classifier has seen — they serve the attacks, not the classification). For a
held-out check of the classifier, ``n_val`` adds crops of the training photos at fresh random
positions (they may overlap training crops: same photos, not the same crops).

:func:`halves` cuts a set into the GAN-Attack's disjoint halves T1 (to be encrypted) and T2
(kept plain).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import integer, non_negative_int, number, positive_int
from ..images import LabelledImages, bundled_photos, extract_patches, load_torchvision, patch_positions

CROP_SIZE = 96
"""The paper's image side (STL-10 is 96 × 96)."""

STL10_SIZES = {"train": 5000, "test": 8000}
"""The paper's STL-10 split sizes (the official train and test splits)."""


@dataclass(frozen=True, eq=False)
class AttackData:
    """Training and test images for the attacks, with labels.

    ``train``, ``test`` (and ``val`` when asked for): ``uint8 (N, C, H, W)``; ``*_labels``:
    ``int64 (N,)`` indices into ``classes``. For photo crops the classes are photo names and
    ``train_photos``/``test_photos`` list which photos fed which split; for STL-10 the classes
    are the ten object classes and both lists are empty.
    """

    name: str
    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    train_photos: tuple[str, ...] = ()
    test_photos: tuple[str, ...] = ()
    val: torch.Tensor | None = field(default=None, repr=False)
    val_labels: torch.Tensor | None = field(default=None, repr=False)
    settings: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shape = tuple(self.train.shape[1:])
        val = 0 if self.val is None else int(self.val.shape[0])
        return (f"AttackData({self.name!r}, train={int(self.train.shape[0])}, test={int(self.test.shape[0])}, "
                f"val={val}, image_shape={shape}, classes={len(self.classes)})")

    @property
    def train_set(self) -> LabelledImages:
        """The training part as :class:`~imgleak.images.LabelledImages`."""
        return LabelledImages(f"{self.name}-train", self.train, self.train_labels, self.classes)

    @property
    def test_set(self) -> LabelledImages:
        """The test part as :class:`~imgleak.images.LabelledImages`."""
        return LabelledImages(f"{self.name}-test", self.test, self.test_labels, self.classes)

    @property
    def val_set(self) -> LabelledImages:
        """The validation crops (training photos, fresh positions); ``ValueError`` if there are none."""
        if self.val is None or self.val_labels is None:
            raise ValueError("this AttackData has no validation crops; build it with n_val > 0")
        return LabelledImages(f"{self.name}-val", self.val, self.val_labels, self.classes)


# ------------------------------------------------------------------------------------------ checks


def _shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts as equal as possible (the first ones get the extra)."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _shrink(image: torch.Tensor, max_side: int) -> torch.Tensor:
    """Resize a uint8 ``(C, H, W)`` image (antialiased) so that its longer side is ``max_side``."""
    h, w = image.shape[-2:]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    out = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return out[0].round().clamp(0, 255).to(torch.uint8)


# ------------------------------------------------------------------------------------------ photos


def photo_crops(
    n_train: int = 1024,
    n_test: int = 256,
    size: int = CROP_SIZE,
    *,
    test_photos: int | Sequence[str] = 3,
    photos: Sequence[str] | None = None,
    n_val: int = 0,
    max_side: int | None = None,
    seed: int = 0,
) -> AttackData:
    """Random ``size`` × ``size`` crops of the bundled photographs, split by source photo.

    Parameters
    ----------
    n_train, n_test
        Number of training and test crops; each split's crops are shared out as evenly as
        possible among its photos, then shuffled (seeded).
    size
        Crop side in pixels (96, the paper's STL-10 size, by default). Every photo must be at
        least this large (after ``max_side``).
    test_photos
        How many photos to hold out for the test split (chosen at random with ``seed``), or
        their names. The others are the training photos. Both splits must be non-empty.
    photos
        The photos to use (names from :data:`imgleak.images.PHOTO_NAMES`); ``None``: all 11.
    n_val
        Optional validation crops of the *training* photos at fresh random positions
        (for checking a classifier on unseen crops of its own classes).
    max_side
        Shrink each photo first (antialiased bilinear) so that its longer side is at most this:
        a crop then shows more of the scene and less texture. ``None`` keeps full resolution.
    seed
        Seeds the choice of test photos, the crop positions and the shuffling. The same
        arguments give the same crops.

    Returns
    -------
    AttackData
        ``name="photo-crops"``; labels are indices of the source photo in ``classes`` (all the
        photos used, in the order given).
    """
    size = positive_int(size, "size")
    if max_side is not None:
        max_side = positive_int(max_side, "max_side")
        if max_side < size:
            raise ValueError(f"max_side ({max_side}) must be at least the crop size ({size})")
    loaded = _photos(photos)
    images = [p.image if max_side is None else _shrink(p.image, max_side) for p in loaded]
    try:
        data = source_crops(images, n_train, n_test, size, names=[p.name for p in loaded], test_photos=test_photos,
                            n_val=n_val, seed=seed, what="photo")
    except ValueError as err:
        if max_side is None or "smaller than the crop size" not in str(err):
            raise
        raise ValueError(f"{err}; raise max_side") from None
    settings = {"source": "bundled photographs (imgleak.images.bundled_photos)", **data.settings,
                "max_side": max_side}
    return replace(data, name="photo-crops", settings=settings)


def source_crops(
    images: Sequence[torch.Tensor],
    n_train: int,
    n_test: int,
    size: int,
    *,
    names: Sequence[str] | None = None,
    test_photos: int | Sequence[str] = 1,
    n_val: int = 0,
    seed: int = 0,
    what: str = "source image",
) -> AttackData:
    """Random ``size`` × ``size`` crops of any uint8 ``(C, H, W)`` ``images``, split by source image.

    What :func:`photo_crops` does for the bundled photographs, for images of one's own (the
    scorecard cuts its attack data from the run's images this way): ``test_photos`` images (a
    count drawn with ``seed``, or names from ``names``; default names ``"source 0"``, …) feed
    only the test crops, the others only the training crops (and the optional validation
    crops); each split's crops are shared out evenly among its images, then shuffled. ``what``
    names an image in the error for one smaller than ``size``.

    >>> pictures = [torch.full((1, 20, 20), v, dtype=torch.uint8) for v in (0, 1, 2)]
    >>> data = source_crops(pictures, 4, 2, 8, seed=0)
    >>> data.train.shape, data.test_photos, sorted(set(data.test.flatten().tolist()))
    (torch.Size([4, 1, 8, 8]), ('source 2',), [2])
    """
    n_train, n_test, size = positive_int(n_train, "n_train"), positive_int(n_test, "n_test"), positive_int(size, "size")
    n_val, seed = non_negative_int(n_val, "n_val"), integer(seed, "seed")
    images, names = _sources(images, names)
    generator = torch.Generator().manual_seed(seed)
    test_index = _test_split(test_photos, names, generator)
    train_index = [i for i in range(len(names)) if i not in test_index]
    _check_crop_sources(images, names, size, what)
    # one independent position seed per (split, image): adding an image or crops elsewhere changes nothing here
    position_seeds = torch.randint(0, 2**62, (3, len(names)), generator=generator).tolist()

    def crops(indices: list[int], total: int, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _shuffled_crops(images, indices, total, size, position_seeds[row], generator)

    train, train_labels = crops(train_index, n_train, 0)
    test, test_labels = crops(test_index, n_test, 1)
    val, val_labels = crops(train_index, n_val, 2) if n_val else (None, None)
    settings = {"n_train": n_train, "n_test": n_test, "n_val": n_val, "size": size, "photos": list(names),
                "test_photos": [names[i] for i in test_index], "seed": seed}
    return AttackData(
        name="source-crops", train=train, train_labels=train_labels, test=test, test_labels=test_labels,
        classes=names, train_photos=tuple(names[i] for i in train_index),
        test_photos=tuple(names[i] for i in test_index), val=val, val_labels=val_labels, settings=settings,
    )


def _sources(images: Sequence[torch.Tensor], names: Sequence[str] | None) -> tuple[list[torch.Tensor], tuple[str, ...]]:
    """The source images (uint8 ``(C, H, W)``, at least two) and their names (unique)."""
    if isinstance(images, torch.Tensor) or not isinstance(images, Sequence):
        raise TypeError(f"images must be a list of uint8 (C, H, W) tensors, got {type(images).__name__}")
    for i, image in enumerate(images):
        if not isinstance(image, torch.Tensor) or image.dtype != torch.uint8 or image.dim() != 3:
            kind = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, torch.Tensor) else type(image).__name__
            raise TypeError(f"images[{i}] must be a uint8 tensor shaped (C, H, W), got {kind}")
    names = tuple(f"source {i}" for i in range(len(images))) if names is None else tuple(names)
    if len(names) != len(images) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"names must be {len(images)} strings, one per image, got {list(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"names must not repeat a name, got {list(names)}")
    if len(names) < 2:
        raise ValueError(f"images must hold at least 2 images (one for each split), got {len(names)}")
    return list(images), names


def _photos(photos: Sequence[str] | None) -> list:
    """The bundled photos called ``photos`` (all when ``None``): at least two, no name twice."""
    if isinstance(photos, str):
        raise TypeError("photos must be a list of photo names, not a single string")
    loaded = bundled_photos(photos)  # ValueError for unknown names
    names = [p.name for p in loaded]
    if len(set(names)) != len(names):
        raise ValueError(f"photos must not repeat a name, got {names}")
    if len(names) < 2:
        raise ValueError(f"photos must name at least 2 photos (one for each split), got {names}")
    return loaded


def _test_split(test_photos: int | Sequence[str], names: tuple[str, ...], generator: torch.Generator) -> list[int]:
    """Indices of the test photos: ``test_photos`` drawn at random, or those named (one draw either way)."""
    if isinstance(test_photos, (int, np.integer)) and not isinstance(test_photos, bool):
        k = int(test_photos)
        if not 1 <= k < len(names):
            raise ValueError(f"test_photos must be between 1 and {len(names) - 1} (photos used: {len(names)}), got {k}")
        return sorted(torch.randperm(len(names), generator=generator)[:k].tolist())
    if not isinstance(test_photos, Sequence) or isinstance(test_photos, str):
        raise TypeError(f"test_photos must be an int (how many) or a list of photo names, got {test_photos!r}")
    unknown = [t for t in test_photos if t not in names]
    if unknown:
        raise ValueError(f"test_photos {unknown} are not among the photos used: {list(names)}")
    test_index = sorted({names.index(t) for t in test_photos})
    if not test_index or len(test_index) == len(names):
        raise ValueError(f"test_photos must leave at least one photo for each split, got {list(test_photos)}")
    torch.randperm(len(names), generator=generator)  # same stream either way
    return test_index


def _check_crop_sources(images: list[torch.Tensor], names: Sequence[str], size: int, what: str) -> None:
    """``ValueError`` unless every image holds a ``size`` crop and all share a channel count."""
    for name, image in zip(names, images):
        if image.shape[-1] < size or image.shape[-2] < size:
            raise ValueError(f"{what} {name!r} is {image.shape[-2]}x{image.shape[-1]} pixels, smaller than the crop "
                             f"size {size}")
    channels = {int(image.shape[0]) for image in images}
    if len(channels) != 1:
        raise ValueError(f"the images have different channel counts {sorted(channels)}; choose images of one kind")


def _shuffled_crops(images: list[torch.Tensor], indices: list[int], total: int, size: int, seeds: list[int],
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``total`` crops shared out among the photos ``indices`` (photo i's positions from ``seeds[i]``), shuffled."""
    parts, labels = [], []
    for i, count in zip(indices, _shares(total, len(indices))):
        if count == 0:
            continue
        h, w = images[i].shape[-2:]
        parts.append(extract_patches(images[i], patch_positions(int(h), int(w), size, count, seeds[i]), size))
        labels.append(torch.full((count,), i, dtype=torch.int64))
    x, y = torch.cat(parts), torch.cat(labels)
    order = torch.randperm(x.shape[0], generator=generator)
    return x[order].contiguous(), y[order]


# ------------------------------------------------------------------------------------------ STL-10


def load_stl10(
    root: str | os.PathLike,
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    seed: int = 0,
    download: bool = False,
) -> AttackData:
    """STL-10 (the paper's data: 5,000 training and 8,000 test images, 96 × 96, 10 classes).

    ``root`` is torchvision's data folder (``stl10_binary`` inside it). ``n_train``/``n_test``
    take a seeded random subset (original order kept); ``None`` keeps the whole split, as in the
    paper. Offline and not on disk, this raises
    :class:`imgleak.images.DatasetUnavailableError` saying what to download and where.
    """
    seed = integer(seed, "seed")
    subsets = {}
    for split, count in (("train", n_train), ("test", n_test)):
        if count is not None:
            subsets[split] = positive_int(count, f"n_{split}")
    train = load_torchvision("stl10", root, train=True, download=download)
    test = load_torchvision("stl10", root, train=False, download=download)
    generator = torch.Generator().manual_seed(seed)

    def subset(data: LabelledImages, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        count = subsets.get(split)
        if count is None:
            return data.images, data.labels
        if count > len(data):
            raise ValueError(f"n_{split}={count} but the STL-10 {split} split has only {len(data)} images")
        rows = torch.randperm(len(data), generator=generator)[:count].sort().values
        return data.images[rows], data.labels[rows]

    x_train, y_train = subset(train, "train")
    x_test, y_test = subset(test, "test")
    settings = {"source": f"STL-10 via torchvision from {str(root)!r}", "n_train": int(x_train.shape[0]),
                "n_test": int(x_test.shape[0]), "seed": seed}
    return AttackData(name="stl10", train=x_train, train_labels=y_train, test=x_test, test_labels=y_test,
                      classes=train.classes, settings=settings)


# ------------------------------------------------------------------------------------------ halves


def halves(images: torch.Tensor, seed: int = 0, fraction: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``images`` (``(N, ...)``) at random into disjoint parts T1 and T2.

    T1 gets ``round(N * fraction)`` images (the GAN-Attack encrypts it), T2 the rest (kept
    plain); both keep the original order. The paper: T = 5,000 STL-10 images, T1 = T2 = 2,500.
    """
    if not isinstance(images, torch.Tensor) or images.dim() < 1:
        raise TypeError(f"images must be a torch.Tensor shaped (N, ...), got {type(images).__name__}")
    seed = integer(seed, "seed")
    if not 0 < number(fraction, "fraction") < 1:
        raise ValueError(f"fraction must be a number strictly between 0 and 1, got {fraction!r}")
    n = int(images.shape[0])
    first = int(math.floor(n * float(fraction) + 0.5))
    if first == 0 or first == n:
        raise ValueError(f"fraction={fraction} of {n} images leaves one part empty; use more images")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    rows_1 = order[:first].sort().values.to(images.device)
    rows_2 = order[first:].sort().values.to(images.device)
    return images[rows_1], images[rows_2]


__all__ = ["CROP_SIZE", "STL10_SIZES", "AttackData", "halves", "load_stl10", "photo_crops", "source_crops"]
