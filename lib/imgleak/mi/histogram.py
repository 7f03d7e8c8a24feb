"""Plug-in (histogram) entropy and mutual information of discrete variables, in bits.

Samples are integer tensors (uint8 images or any non-negative integers); all values are
flattened and paired element by element. Counts come from :func:`torch.bincount` on the
samples' device. The plug-in estimates are biased low (entropy) and high (mutual information)
by about ``(m - 1) / (2 N ln 2)`` bits per entropy term for m occupied bins and N samples; the
Miller-Madow correction adds that term back to each entropy.
"""

from __future__ import annotations

import math

import torch

from .. import _checks

Bins = int | tuple[int, int] | None
MAX_BINS = 1 << 28  # dense histograms only: 2 GiB of int64 counts at most


def _check_values(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` flattened to int64, after checking that it holds non-negative integers."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of integers, got {type(x).__name__}")
    if x.dtype.is_floating_point or x.dtype.is_complex:
        raise TypeError(
            f"{name} must hold integers (e.g. uint8 pixels), got {x.dtype}; discretise floats first"
        )
    if x.numel() == 0:
        raise ValueError(f"{name} is empty")
    x = x.reshape(-1).to(torch.int64)
    if int(x.min()) < 0:
        raise ValueError(f"{name} must hold non-negative integers, got minimum {int(x.min())}")
    return x


def _bin_count(x: torch.Tensor, bins: int | None, name: str) -> int:
    """``bins`` checked against the values of ``x``, or ``max(x) + 1`` when not given."""
    top = int(x.max())
    if bins is None:
        return top + 1
    bins = _checks.positive_int(bins, f"bins for {name}")
    if top >= bins:
        raise ValueError(f"{name} has the value {top}, outside bins={bins} (values must be 0..{bins - 1})")
    return bins


def _check_histogram_size(size: int) -> int:
    """``size`` bins, refused when the dense histogram would be too large."""
    if size > MAX_BINS:
        raise ValueError(
            f"the histogram would need {size} bins, more than {MAX_BINS}; map the values to fewer "
            "levels first, e.g. with torch.unique(x, return_inverse=True)"
        )
    return size


def _histogram(cells: torch.Tensor, size: int) -> torch.Tensor:
    """Counts of the bin indices ``cells`` (all below ``size``), refusing oversized histograms."""
    return torch.bincount(cells, minlength=_check_histogram_size(size))


def _entropy_bits(counts: torch.Tensor, miller_madow: bool) -> torch.Tensor:
    """Entropy in bits of the histograms along the last axis of ``counts``."""
    counts = counts.to(torch.float64)
    total = counts.sum(-1)
    p = counts / total.unsqueeze(-1)
    h = -torch.special.xlogy(p, p).sum(-1) / math.log(2)
    if miller_madow:
        occupied = (counts > 0).sum(-1)
        h = h + (occupied - 1) / (2 * total * math.log(2))
    return h


def entropy(x: torch.Tensor, bins: int | None = None, miller_madow: bool = False) -> float:
    """Plug-in entropy of the values of ``x``, in bits (Miller-Madow corrected if asked).

    ``bins`` defaults to ``max(x) + 1``; it does not change the plug-in value, only which
    values are accepted.

    >>> entropy(torch.tensor([0, 1, 2, 3]))  # four equally likely values
    2.0
    >>> round(entropy(torch.tensor([0, 1, 2, 3]), miller_madow=True), 4)  # + 3 / (2 · 4 ln 2)
    2.541
    """
    miller_madow = _checks.boolean(miller_madow, "miller_madow")
    values = _check_values(x, "x")
    counts = _histogram(values, _bin_count(values, bins, "x"))
    return float(_entropy_bits(counts, miller_madow))


def _joint_counts(x: torch.Tensor, y: torch.Tensor, bins: Bins, leading: int) -> torch.Tensor:
    """Joint histograms of (x, y) for ``leading`` equal groups of samples: ``(leading, bx, by)``."""
    pair = isinstance(bins, (tuple, list))
    if pair and len(bins) != 2:
        raise ValueError(f"bins must be an int, a pair (bins_x, bins_y) or None, got {bins!r}")
    bins_x, bins_y = bins if pair else (bins, bins)
    vx, vy = _check_values(x, "x"), _check_values(y, "y")
    if vx.numel() != vy.numel():
        raise ValueError(
            f"x and y must have the same number of elements, got {vx.numel()} and {vy.numel()}"
        )
    if vx.device != vy.device:
        raise ValueError(f"x and y must be on the same device, got {vx.device} and {vy.device}")
    bx, by = _bin_count(vx, bins_x, "x"), _bin_count(vy, bins_y, "y")
    _check_histogram_size(leading * bx * by)  # before the cell arithmetic can overflow int64
    offset = torch.arange(leading, device=vx.device).unsqueeze(1) * (bx * by)
    cell = (vx * by + vy).reshape(leading, -1) + offset
    return _histogram(cell.reshape(-1), leading * bx * by).reshape(leading, bx, by)


def _mutual_information_bits(joint: torch.Tensor, miller_madow: bool) -> torch.Tensor:
    """I(X; Y) = H(X) + H(Y) - H(X, Y) for joint histograms ``(..., bx, by)``."""
    h_x = _entropy_bits(joint.sum(-1), miller_madow)
    h_y = _entropy_bits(joint.sum(-2), miller_madow)
    h_xy = _entropy_bits(joint.flatten(-2), miller_madow)
    return h_x + h_y - h_xy


def mutual_information(
    x: torch.Tensor, y: torch.Tensor, bins: Bins = None, miller_madow: bool = False
) -> float:
    """Plug-in mutual information I(X; Y) in bits between paired samples ``x`` and ``y``.

    ``x`` and ``y`` are integer tensors with the same number of elements (shapes may differ;
    both are flattened). ``bins`` is one count for both, a pair ``(bins_x, bins_y)``, or None
    for ``max + 1`` of each. Called on whole batches this pools all images' samples.

    >>> x, y = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    >>> mutual_information(x, x) == entropy(x)  # I(X; X) = H(X)
    True
    >>> mutual_information(x, y)  # independent
    0.0
    >>> image = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)
    >>> mutual_information(image, image // 16)  # the top 4 bits of 8 uniform ones
    4.0
    """
    miller_madow = _checks.boolean(miller_madow, "miller_madow")
    return float(_mutual_information_bits(_joint_counts(x, y, bins, 1)[0], miller_madow))


def per_image_mutual_information(
    x_batch: torch.Tensor, y_batch: torch.Tensor, bins: Bins = None, miller_madow: bool = False
) -> torch.Tensor:
    """I(X; Y) in bits for each image of two paired batches: a float64 tensor of N values.

    Image i pairs ``x_batch[i]`` with ``y_batch[i]`` (same number of elements per image). The
    values equal :func:`mutual_information` called on each pair; the tensor stays on the
    batches' device.

    >>> x, y = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    >>> per_image_mutual_information(torch.stack([x, x]), torch.stack([x, y])).tolist()
    [1.0, 0.0]
    """
    for name, batch in (("x_batch", x_batch), ("y_batch", y_batch)):
        if not isinstance(batch, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of integers, got {type(batch).__name__}")
        if batch.dim() == 0:
            raise ValueError(f"{name} must have a leading batch axis, got a 0-d tensor")
    if x_batch.shape[0] != y_batch.shape[0]:
        raise ValueError(
            "x_batch and y_batch must hold the same number of images, "
            f"got {x_batch.shape[0]} and {y_batch.shape[0]}"
        )
    miller_madow = _checks.boolean(miller_madow, "miller_madow")
    if x_batch.shape[0] == 0:
        raise ValueError("x_batch and y_batch hold no images; per-image mutual information needs at least one")
    joint = _joint_counts(x_batch, y_batch, bins, x_batch.shape[0])
    return _mutual_information_bits(joint, miller_madow)
