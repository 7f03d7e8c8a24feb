"""Image sources: bundled photographs, a folder of images, torchvision data sets, patches.

Every loader returns ``torch.uint8`` tensors shaped ``(C, H, W)`` (single images) or
``(N, C, H, W)`` (labelled sets). Nothing here downloads unless asked to (``download=True``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import _checks
from .tensors import as_image_batch, restore_rank

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Photo:
    """A named image: ``image`` is ``uint8`` shaped ``(C, H, W)``; ``source`` says where it came from."""

    name: str
    image: torch.Tensor
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.image.shape[-2]), int(self.image.shape[-1])


@dataclass(frozen=True)
class LabelledImages:
    """A labelled image set: ``images`` ``uint8 (N, C, H, W)``, ``labels`` ``int64 (N,)``."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _to_chw(array: np.ndarray, keep_alpha: bool = False) -> torch.Tensor:
    """An ``(H, W)`` or ``(H, W, C)`` uint8 array as a ``(C, H, W)`` tensor (alpha dropped unless kept)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"expected 8-bit pixels, got {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] in (2, 4) and not keep_alpha:  # LA / RGBA: drop the alpha channel
        array = array[:, :, :-1]
    # Always copy: decoders hand out read-only buffers, and ciphers may write in place.
    return torch.from_numpy(np.array(array.transpose(2, 0, 1), order="C", copy=True))


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _skimage_motorcycle() -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[0]  # the left view


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        bunch = load_sample_images()
        names = [Path(f).name for f in bunch.filenames]
        return bunch.images[names.index(filename)]

    return load


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        return np.asarray(img.convert("RGB"))


# name -> (loader, source); every file ships inside an installed package (no download).
_BUNDLED: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "astronaut": (_skimage("astronaut"), "scikit-image"),
    "chelsea": (_skimage("chelsea"), "scikit-image"),
    "coffee": (_skimage("coffee"), "scikit-image"),
    "rocket": (_skimage("rocket"), "scikit-image"),
    "motorcycle": (_skimage_motorcycle, "scikit-image"),
    "hubble_deep_field": (_skimage("hubble_deep_field"), "scikit-image"),
    "immunohistochemistry": (_skimage("immunohistochemistry"), "scikit-image"),
    "retina": (_skimage("retina"), "scikit-image"),
    "china": (_sklearn("china.jpg"), "scikit-learn"),
    "flower": (_sklearn("flower.jpg"), "scikit-learn"),
    "grace_hopper": (_grace_hopper, "matplotlib"),
}

PHOTO_NAMES: tuple[str, ...] = tuple(_BUNDLED)
"""The names of the bundled photographs, in order (:func:`load_photo` takes one)."""


def load_photo(name: str) -> Photo:
    """One bundled photograph by name (see :data:`PHOTO_NAMES`)."""
    if not isinstance(name, str) or name not in _BUNDLED:
        raise ValueError(f"unknown photo {name!r}; choose from {', '.join(PHOTO_NAMES)}")
    loader, source = _BUNDLED[name]
    return Photo(name=name, image=_to_chw(loader()), source=source)


def bundled_photos(names: Sequence[str] | None = None) -> list[Photo]:
    """The bundled photographs (all of them, or those in ``names``), in the order asked for."""
    if isinstance(names, str):
        raise TypeError("names must be a list of photo names, not a single string")
    return [load_photo(n) for n in (PHOTO_NAMES if names is None else names)]


def load_digits() -> LabelledImages:
    """scikit-learn's 1,797 handwritten digits (8x8, grey) as uint8 ``(N, 1, 8, 8)``.

    The original values are 0..16; they are scaled to 0..255 (``round(v * 255 / 16)``).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    scaled = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return LabelledImages(
        name="digits",
        images=torch.from_numpy(scaled).unsqueeze(1),
        labels=torch.from_numpy(bunch.target.astype(np.int64)),
        classes=tuple(str(d) for d in range(10)),
    )


FOLDER_MODES: tuple[str, ...] = ("RGB", "L", "RGBA")
_GREY_16_BIT = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})


def load_folder(path: str | os.PathLike, count: int | None = None, mode: str | None = "RGB") -> list[Photo]:
    """The ``count`` largest images (by pixel count) in a folder, largest first.

    This is how the selective-encryption paper picks "the 100 largest COCO images". Only the
    chosen images are decoded. ``mode`` is ``"RGB"``, ``"L"``, ``"RGBA"`` (4 channels, alpha
    kept) or ``None``: one channel for greyscale files, RGB for every other (alpha dropped,
    palettes looked up). 16-bit greyscale is scaled to 8 bits as ``v >> 8``, the same scaling
    Pillow applies to 16-bit colour PNGs. A file that cannot be read raises ``ValueError``
    naming it.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path (str or os.PathLike), got {type(path).__name__} {path!r}")
    count = _checks.optional_positive_int(count, "count")
    _checks.choice(mode, "mode", (*FOLDER_MODES, None))
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist or is not a folder")
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in folder {str(folder)!r}")
    sizes = {}
    for file in files:
        with _open_image(file) as img:
            sizes[file] = img.size[0] * img.size[1]
    chosen = sorted(files, key=lambda f: (-sizes[f], f.name))[:count]
    return [Photo(name=file.stem, image=_decode(file, mode), source=str(file)) for file in chosen]


def _open_image(file: Path) -> "Image.Image":
    from PIL import Image

    try:
        return Image.open(file)
    except (OSError, Image.DecompressionBombError) as err:  # UnidentifiedImageError is an OSError
        raise ValueError(f"cannot read image file {str(file)!r}: {err}") from err


def _decode(file: Path, mode: str | None) -> torch.Tensor:
    """The pixels of one image file as uint8 ``(C, H, W)`` in ``mode`` (see :func:`load_folder`)."""
    from PIL import Image

    with _open_image(file) as img:
        try:
            img = _eight_bit(img, file)
            target = mode or ("L" if img.mode == "L" else "RGB")
            array = np.asarray(img if img.mode == target else img.convert(target))
        except (OSError, SyntaxError, Image.DecompressionBombError) as err:
            raise ValueError(f"cannot decode image file {str(file)!r}: {err}") from err
    return _to_chw(array, keep_alpha=mode == "RGBA")


def _eight_bit(img: "Image.Image", file: Path) -> "Image.Image":
    """``img``, or its 16-bit greyscale pixels scaled to 8 bits (``v >> 8``) as mode ``"L"``."""
    from PIL import Image

    if img.mode == "F":
        raise ValueError(f"image file {str(file)!r} has floating-point pixels (mode 'F'); only integer pixels can be read")
    if img.mode not in _GREY_16_BIT:
        return img
    values = np.asarray(img).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise ValueError(f"image file {str(file)!r} has pixel values outside 0..65535; only 8- and 16-bit images can be read")
    return Image.fromarray((values >> 8).astype(np.uint8))


class DatasetUnavailableError(RuntimeError):
    """A torchvision data set is neither on disk nor downloadable from here."""


# name -> (torchvision class, folder it creates under root, what to fetch)
_TORCHVISION = {
    "mnist": ("MNIST", "MNIST/raw", "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
              "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"),
    "fashion_mnist": ("FashionMNIST", "FashionMNIST/raw", "the same four idx .gz files as MNIST, "
                      "from the Fashion-MNIST release"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py", "cifar-10-python.tar.gz (extracted)"),
    "stl10": ("STL10", "stl10_binary", "stl10_binary.tar.gz (extracted)"),
}
TORCHVISION_NAMES: tuple[str, ...] = tuple(_TORCHVISION)


def _existing_ancestor(path: Path) -> Path:
    """The deepest folder on ``path``'s way up that exists now."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _directories(top: Path) -> set[Path]:
    return {Path(d) for d, _, _ in os.walk(top)}


def _remove_new_empty_directories(top: Path, existed_before: set[Path]) -> None:
    """Remove the empty folders that appeared under ``top`` since ``existed_before`` was taken."""
    for directory in sorted(_directories(top) - existed_before, key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def load_torchvision(name: str, root: str | os.PathLike, train: bool = True, download: bool = False) -> LabelledImages:
    """MNIST, Fashion-MNIST, CIFAR-10 or STL-10 as uint8 ``(N, C, H, W)`` with labels.

    ``root`` is the data folder torchvision uses. With ``download=False`` the files must be
    there already; with ``download=True`` torchvision fetches them. When neither works (for
    example offline) this raises :class:`DatasetUnavailableError` saying what to download and
    where to put it, and removes any empty folders the attempt left behind.
    """
    import torchvision.datasets as tvd

    if not isinstance(name, str) or name not in _TORCHVISION:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(TORCHVISION_NAMES)}")
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike), got {type(root).__name__} {root!r}")
    train, download = _checks.boolean(train, "train"), _checks.boolean(download, "download")
    class_name, folder, files = _TORCHVISION[name]
    root = Path(root)
    top = _existing_ancestor(root)  # torchvision may create root and its parents
    existed = _directories(top)
    try:
        if name == "stl10":
            dataset = tvd.STL10(root, split="train" if train else "test", download=download)
        else:
            dataset = getattr(tvd, class_name)(root, train=train, download=download)
    except (RuntimeError, OSError, ValueError) as err:  # URLError is an OSError
        _remove_new_empty_directories(top, existed)
        how = ("the download failed (no internet here?)" if download
               else "it is not on disk and download=False")
        raise DatasetUnavailableError(
            f"{class_name} could not be loaded from {str(root)!r}: {how}. Either run with "
            f"download=True on a machine with internet access, or put {files} into "
            f"{str(root / folder)!r}. (torchvision said: {err})"
        ) from None
    data = dataset.data
    images = torch.as_tensor(np.asarray(data), dtype=torch.uint8)
    if images.dim() == 3:  # MNIST-like (N, H, W)
        images = images.unsqueeze(1)
    elif name == "cifar10":  # (N, H, W, C)
        images = images.permute(0, 3, 1, 2).contiguous()
    labels = getattr(dataset, "targets", None)
    if labels is None:
        labels = dataset.labels
    return LabelledImages(
        name=name,
        images=images,
        labels=torch.as_tensor(np.asarray(labels), dtype=torch.int64),
        classes=tuple(str(c) for c in getattr(dataset, "classes", range(int(max(labels)) + 1))),
    )


def patch_positions(height: int, width: int, size: int, count: int, seed: int) -> torch.Tensor:
    """``count`` random top-left corners ``(row, col)`` of ``size``×``size`` patches, uniform and seeded.

    Raises ``ValueError`` if the image is smaller than the patch.
    """
    height, width = _checks.positive_int(height, "height"), _checks.positive_int(width, "width")
    size, count = _checks.positive_int(size, "size"), _checks.positive_int(count, "count")
    seed = _checks.integer(seed, "seed")
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed must fit in 64 bits (-2**63 <= seed < 2**64), got {seed}")
    if size > height or size > width:
        raise ValueError(f"patch size {size} does not fit in an image of {height}x{width} pixels (HxW)")
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, height - size + 1, (count,), generator=generator)
    cols = torch.randint(0, width - size + 1, (count,), generator=generator)
    return torch.stack([rows, cols], dim=1)


def extract_patches(x: torch.Tensor, positions: torch.Tensor, size: int) -> torch.Tensor:
    """Cut ``size``×``size`` patches at ``positions`` (``(P, 2)`` top-left corners), no resizing.

    ``(C, H, W)`` → ``(P, C, size, size)``; ``(N, C, H, W)`` → ``(N, P, C, size, size)``.
    """
    batch, single = as_image_batch(x)
    size = _checks.positive_int(size, "size")
    height, width = batch.shape[-2:]
    if size > min(height, width):
        raise ValueError(f"patch size {size} does not fit in an image of {height}x{width} pixels (HxW)")
    positions = _integer_positions(positions)
    if (positions < 0).any() or (positions[:, 0] + size > height).any() or (positions[:, 1] + size > width).any():
        raise ValueError(f"some {size}x{size} patches at these positions fall outside the {height}x{width} image")
    offsets = torch.arange(size, device=batch.device)
    positions = positions.to(batch.device)
    rows = (positions[:, 0, None] + offsets)[:, :, None]  # (P, size, 1)
    cols = (positions[:, 1, None] + offsets)[:, None, :]  # (P, 1, size)
    patches = batch[:, :, rows, cols].permute(0, 2, 1, 3, 4)  # (N, P, C, size, size)
    return restore_rank(patches.contiguous(), single)


def _integer_positions(positions: torch.Tensor | np.ndarray | Sequence) -> torch.Tensor:
    """``positions`` as an int64 ``(P, 2)`` tensor; floats are refused rather than truncated."""
    tensor = _checks.integer_tensor(positions, "positions", "integers (row, col)")
    if tensor.dim() != 2 or tensor.shape[1] != 2:
        raise ValueError(f"positions must be shaped (P, 2), got {tuple(tensor.shape)}")
    return tensor.to(torch.int64)


def colocated_patches(
    image: torch.Tensor, other: torch.Tensor, size: int, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same ``count`` random patches cut from an image and from its cipher (same shape)."""
    batch, _ = as_image_batch(image, "image")
    as_image_batch(other, "other")
    if image.shape != other.shape:
        raise ValueError(f"image and cipher must have the same shape, got {tuple(image.shape)} and {tuple(other.shape)}")
    positions = patch_positions(int(batch.shape[-2]), int(batch.shape[-1]), size, count, seed)
    return extract_patches(image, positions, size), extract_patches(other, positions, size)
