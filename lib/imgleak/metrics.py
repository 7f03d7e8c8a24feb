"""Image quality and cipher-image statistics: SSIM, PSNR, NPCR, UACI, adjacent correlation, entropy.

Every function takes uint8 images ``(C, H, W)`` or batches ``(N, C, H, W)`` and returns one
value per image: a float32 tensor ``(N,)`` for a batch, a 0-d tensor for a single image, on the
input's device. Comparisons (``ssim``, ``psnr``, ``npcr``, ``uaci``) need two inputs of the same
shape.

SSIM settings (:func:`ssim`): by default a 7 × 7 uniform window, K1 = 0.01, K2 = 0.03,
data range 255, computed per channel and averaged over channels and positions — the window of
scikit-image's ``structural_similarity`` defaults, which the Kiya-lab re-implementation of the
attacks uses on 8-bit RGB. torchmetrics normalises the local covariances by N (scikit-image by
N − 1), so values differ from scikit-image's by about 0.002 on 96 × 96 photographs.
``gaussian=True`` gives the 11 × 11, σ = 1.5 Gaussian window of Wang et al. (torchmetrics' default).
"""

from __future__ import annotations

import numbers

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from . import _checks
from .tensors import as_image_batch

DIRECTIONS = ("horizontal", "vertical", "diagonal")


def _pair(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor, bool]:
    first, single = as_image_batch(a, names[0])
    second, _ = as_image_batch(b, names[1])
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.device != b.device:
        raise ValueError(f"{names[0]} and {names[1]} must be on the same device, got {a.device} and {b.device}")
    return first, second, single


def _out(values: torch.Tensor, single: bool) -> torch.Tensor:
    values = values.to(torch.float32)
    return values[0] if single else values


def ssim(x: torch.Tensor, y: torch.Tensor, gaussian: bool = False, window: int | None = None) -> torch.Tensor:
    """Mean SSIM of each image pair (1 for identical images; see the module notes for the window).

    ``window`` is the side of the uniform window (default 7; odd, not larger than the images).
    The Gaussian window (``gaussian=True``) is always 11 × 11 with σ = 1.5.

    >>> x = torch.arange(64, dtype=torch.uint8).reshape(1, 8, 8) * 4
    >>> float(ssim(x, x))
    1.0
    >>> ssim(torch.stack([x, x]), torch.stack([x, x])).tolist()  # a batch gives one value per image
    [1.0, 1.0]
    """
    first, second, single = _pair(x, y, ("x", "y"))
    gaussian = _checks.boolean(gaussian, "gaussian")
    if gaussian and window not in (None, 11):
        raise ValueError(
            f"the Gaussian window is 11x11 (sigma 1.5); window applies to the uniform window, got {window!r}"
        )
    size = (11 if gaussian else 7) if window is None else window
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 or size % 2 == 0:
        raise ValueError(f"window must be a positive odd int, got {window!r}")
    size = int(size)
    if size > min(first.shape[-2:]):
        raise ValueError(
            f"window {size} is larger than the images ({first.shape[-2]}x{first.shape[-1]}); pass a smaller odd window"
        )
    if first.shape[0] == 0:  # torchmetrics fails on an empty batch
        return _out(torch.empty(0, device=first.device), single)
    values = structural_similarity_index_measure(
        first.float(), second.float(), gaussian_kernel=gaussian, sigma=1.5, kernel_size=size,
        reduction="none", data_range=255.0,
    )
    return _out(values, single)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(255² / MSE)`` per image (inf if identical).

    >>> x = torch.zeros(3, 4, 4, dtype=torch.uint8)
    >>> round(float(psnr(x, x + 1)), 4)  # MSE = 1: 20 log10(255)
    48.1308
    >>> float(psnr(x, x))
    inf
    """
    first, second, single = _pair(x, y, ("x", "y"))
    values = peak_signal_noise_ratio(
        first.float(), second.float(), data_range=255.0, reduction="none", dim=(1, 2, 3)
    )
    return _out(values, single)


def npcr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Number of pixels change rate (%): the share of samples (pixels × channels) that differ.

    >>> x = torch.arange(64, dtype=torch.uint8).reshape(1, 8, 8)
    >>> float(npcr(x, 255 - x))  # an image and its negative differ everywhere
    100.0
    >>> y = x.clone()
    >>> y[0, 0, :4] += 1
    >>> float(npcr(x, y))  # 4 of 64 samples changed
    6.25
    """
    first, second, single = _pair(a, b, ("a", "b"))
    return _out((first != second).flatten(1).float().mean(1) * 100, single)


def uaci(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Unified average changing intensity (%): mean ``|a − b| / 255`` over samples.

    >>> black = torch.zeros(3, 4, 4, dtype=torch.uint8)
    >>> float(uaci(black, black + 255)), float(uaci(black, black + 51))
    (100.0, 20.0)
    """
    first, second, single = _pair(a, b, ("a", "b"))
    diff = (first.to(torch.int16) - second.to(torch.int16)).abs()
    return _out(diff.flatten(1).float().mean(1) / 255 * 100, single)


def adjacent_correlation(x: torch.Tensor, direction: str = "horizontal") -> torch.Tensor:
    """Pearson correlation of all pairs of neighbouring pixels, per channel, averaged over channels.

    ``direction``: ``"horizontal"`` (pixel and its right neighbour), ``"vertical"`` (below) or
    ``"diagonal"`` (below right). Natural images give values near 1, good ciphers near 0; a
    constant channel has no defined correlation (NaN).

    >>> board = ((torch.arange(8)[:, None] + torch.arange(8)) % 2 * 255).to(torch.uint8)
    >>> board = board.expand(3, 8, 8)  # a black-and-white checkerboard, RGB
    >>> [float(adjacent_correlation(board, d)) for d in DIRECTIONS]
    [-1.0, -1.0, 1.0]
    """
    batch, single = as_image_batch(x, "x")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    rows, cols = {"horizontal": (0, 1), "vertical": (1, 0), "diagonal": (1, 1)}[direction]
    h, w = batch.shape[-2:]
    if h <= rows or w <= cols:
        raise ValueError(f"x of {h}x{w} pixels has no {direction} neighbours")
    values = batch.float()
    first = values[..., : h - rows, : w - cols].flatten(2)
    second = values[..., rows:, cols:].flatten(2)
    first = first - first.mean(-1, keepdim=True)
    second = second - second.mean(-1, keepdim=True)
    corr = (first * second).sum(-1) / ((first.square().sum(-1) * second.square().sum(-1)).sqrt())
    return _out(corr.mean(1), single)


def shannon_entropy(x: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (bits) of each image's 256-bin histogram, all channels pooled (0 .. 8).

    >>> every_value = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)
    >>> float(shannon_entropy(every_value))
    8.0
    >>> float(shannon_entropy(every_value // 128 * 255))  # half black, half white
    1.0
    """
    batch, single = as_image_batch(x, "x")
    n = batch.shape[0]
    offsets = torch.arange(n, device=batch.device)[:, None] * 256
    index = (batch.flatten(1).long() + offsets).flatten()
    counts = torch.bincount(index, minlength=n * 256).reshape(n, 256).float()
    p = counts / counts.sum(1, keepdim=True)
    terms = torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p))
    return _out(-terms.sum(1), single)


def expected_npcr_uaci() -> tuple[float, float]:
    """NPCR and UACI (%) expected between two independent uniform random 8-bit images.

    NPCR = (1 − 2^-8) · 100 = 99.609 %; UACI = 100 · E|U − V| / 255 with U, V uniform on
    0..255: E|U − V| = (256² − 1) / (3 · 256), so UACI = 33.464 %.

    >>> [round(value, 3) for value in expected_npcr_uaci()]
    [99.609, 33.464]
    """
    return (1 - 1 / 256) * 100, (256**2 - 1) / (3 * 256) / 255 * 100


__all__ = [
    "DIRECTIONS", "adjacent_correlation", "expected_npcr_uaci", "npcr", "psnr", "shannon_entropy", "ssim", "uaci",
]
