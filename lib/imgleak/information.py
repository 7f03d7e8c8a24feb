"""Image information content and its loss under a pixel rearrangement (RVT paper, Section 3).

Cao et al. (arXiv 2411.16207) measure an image's information as a pixel-value term plus a
neighbour term given by a nonlinear function ``m_neig`` of two arguments that decays with
distance, and show that swapping two pixels never increases it (their Theorem 3.1). The paper's
exact formulas were not available to us: **the form below is a reconstruction** with those
properties, and every functional form and default is our assumption.

An image has pixels ``i`` at grid positions with values ``v_i = x_i / 255`` (each channel
counts separately and the channels are summed). A transformation is a flat gather map: output
position ``q`` takes source pixel ``index[q]``, so the content of source ``i`` lands on every
``q`` with ``index[q] = i`` (several, or none for a dropped pixel). Then

- neighbour weight ``w(d) = exp(-(d - 1) / decay)`` for a pair at distance ``d >= 1``;
- ``m_neig(d, d') = w(d) * exp(-|d' - d| / change_scale)``: what a pair at distance ``d``
  still holds when its distance becomes ``d'`` (maximal, ``w(d)``, when ``d' = d``);
- ``M(I) = sum_i h(v_i) + sum_{i<j, d_ij <= radius} u(v_i, v_j) w(d_ij)``;
- ``M(T; I) = sum_{i kept} h(v_i) + sum_{i<j, d_ij <= radius} u(v_i, v_j) m_neig(d_ij, d'_ij)``
  with ``d'_ij`` the distance between the landing places of i and j (the best pair of copies
  when a pixel is duplicated; the term is 0 if either was dropped);
- variation ``ΔM = M(I) - M(T; I) >= 0`` (every term can only shrink) and loss rate
  ``ΔM / M(I)``.

``value_weight`` chooses ``h`` and ``u``: ``"product"`` (default; ``h(v) = v``,
``u = v_i v_j``: bright strokes carry information and a black background none), ``"difference"``
(``h(v) = v``, ``u = |v_i - v_j|``: only contrast does) or ``"none"`` (``h = u = 1``: purely
geometric, the same for every image of a size). Defaults: ``decay = 1`` px, ``change_scale =
1`` px, ``radius = 3`` px.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import _checks
from .tensors import as_image_batch

VALUE_WEIGHTS = ("product", "difference", "none")
DECAY = 1.0
CHANGE_SCALE = 1.0
RADIUS = 3.0


def neighbour_weight(d: torch.Tensor | float, decay: float = DECAY) -> torch.Tensor:
    """``w(d) = exp(-(d - 1) / decay)``: the information a pixel at distance ``d`` contributes.

    >>> float(neighbour_weight(1.0)), round(float(neighbour_weight(2.0)), 4)  # 1 and exp(-1)
    (1.0, 0.3679)
    """
    decay = _checks.number(decay, "decay", positive=True)
    return torch.exp(-(_distances(d, "d") - 1) / decay)


def _distances(d: torch.Tensor | float, name: str) -> torch.Tensor:
    """``d`` (a number, or a tensor/array/list of numbers) as a float64 tensor."""
    if isinstance(d, (bool, str, bytes)) or d is None:
        raise TypeError(f"{name} must be a distance in pixels (a number or a tensor of numbers), got {d!r}")
    try:
        return torch.as_tensor(d, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a distance in pixels (a number or a tensor of numbers), got {d!r}") from err


def m_neig(
    d: torch.Tensor | float, d_new: torch.Tensor | float, decay: float = DECAY, change_scale: float = CHANGE_SCALE
) -> torch.Tensor:
    """``w(d) * exp(-|d_new - d| / change_scale)``: a pair's information after its distance changes.

    >>> float(m_neig(2.0, 2.0)) == float(neighbour_weight(2.0)), round(float(m_neig(1.0, 2.0)), 4)
    (True, 0.3679)
    """
    d, change_scale = _distances(d, "d"), _checks.number(change_scale, "change_scale", positive=True)
    return neighbour_weight(d, decay) * torch.exp(-(_distances(d_new, "d_new") - d).abs() / change_scale)


def _check_params(decay: float, change_scale: float, radius: float, value_weight: str) -> None:
    _checks.number(decay, "decay", positive=True)
    _checks.number(change_scale, "change_scale", positive=True)
    if _checks.number(radius, "radius") < 1:
        raise ValueError(f"radius must be a finite number >= 1, got {radius!r}")
    if value_weight not in VALUE_WEIGHTS:
        raise ValueError(f"value_weight must be one of {VALUE_WEIGHTS}, got {value_weight!r}")


def _offsets(radius: float) -> list[tuple[int, int, float]]:
    """Half of the nonzero grid offsets within ``radius`` (each unordered pair once) and their lengths."""
    reach = int(math.floor(radius))
    return [
        (dy, dx, math.sqrt(dy * dy + dx * dx))
        for dy in range(reach + 1)
        for dx in range(-reach, reach + 1)
        if (dy > 0 or dx > 0) and dy * dy + dx * dx <= radius * radius
    ]


def _window(t: torch.Tensor, dy: int, dx: int, second: bool) -> torch.Tensor:
    """The part of ``t`` (``(..., H, W)`` in dims 2, 3) holding the first or second pixel of pairs offset by (dy, dx)."""
    h, w = t.shape[2], t.shape[3]
    # stops clamped at 0: an offset longer than the image leaves an empty window (a negative stop would wrap)
    rows = slice(dy, h) if second else slice(0, max(h - dy, 0))
    cols = slice(max(dx, 0), max(w + min(dx, 0), 0)) if second else slice(max(-dx, 0), max(w - max(dx, 0), 0))
    return t[:, :, rows, cols]


def _weights(v: torch.Tensor, value_weight: str) -> tuple[torch.Tensor, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """``h(v)`` for every pixel and the pair weight ``u``."""
    if value_weight == "none":
        return torch.ones_like(v), lambda a, b: torch.ones_like(a)
    pair = (lambda a, b: a * b) if value_weight == "product" else (lambda a, b: (a - b).abs())
    return v, pair


def _values(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """Pixel values in [0, 1] as ``(N, C, H, W)`` (float64; float32 on MPS) and whether x was one image."""
    batch, single = as_image_batch(x, "x")
    dtype = torch.float32 if batch.device.type == "mps" else torch.float64
    return batch.to(dtype) / 255, single


def information_content(
    x: torch.Tensor, *, decay: float = DECAY, radius: float = RADIUS, value_weight: str = "product"
) -> torch.Tensor:
    """``M(I)`` of every image of a uint8 batch ``(N, C, H, W)``: shape ``(N,)`` (``()`` for one image).

    >>> white = torch.full((1, 1, 2), 255, dtype=torch.uint8)  # two white pixels side by side
    >>> information_content(torch.stack([white, 0 * white])).tolist()  # 1 + 1 + their pair; black: 0
    [3.0, 0.0]
    """
    _check_params(decay, CHANGE_SCALE, radius, value_weight)
    v, single = _values(x)
    h, u = _weights(v, value_weight)
    total = h.sum(dim=(1, 2, 3))
    for dy, dx, d in _offsets(radius):
        pair = u(_window(v, dy, dx, False), _window(v, dy, dx, True))
        total = total + math.exp(-(d - 1) / decay) * pair.sum(dim=(1, 2, 3))
    return total.squeeze(0) if single else total


def _landings(index: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where each source pixel lands: rows, cols ``(B, 1, H, W, K)`` and validity (K = most copies)."""
    b, p = index.shape
    counts = torch.zeros_like(index).scatter_add_(1, index, torch.ones_like(index))
    order = torch.argsort(index, dim=1, stable=True)  # output places grouped by their source
    starts = counts.cumsum(1) - counts
    copies = torch.arange(max(int(counts.max()), 1), device=index.device)
    valid = copies < counts[..., None]
    places = order.gather(1, (starts[..., None] + copies).clamp(max=p - 1).reshape(b, -1)).reshape(b, p, -1)
    shape = (b, 1, height, width, copies.numel())
    return (places // width).reshape(shape), (places % width).reshape(shape), valid.reshape(shape)


def _check_index(index: torch.Tensor, n: int, n_pixels: int, device: torch.device) -> torch.Tensor:
    if not isinstance(index, torch.Tensor) or index.dtype.is_floating_point or index.dtype == torch.bool:
        kind = f"a {index.dtype} tensor" if isinstance(index, torch.Tensor) else type(index).__name__
        raise TypeError(f"index must be an integer torch.Tensor (a flat gather map), got {kind}")
    if index.dim() == 1:
        index = index[None]
    if index.dim() != 2 or index.shape[1] != n_pixels or index.shape[0] not in (1, n):
        raise ValueError(f"index must be shaped ({n_pixels},) or ({n}, {n_pixels}), got {tuple(index.shape)}")
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= n_pixels):
        raise ValueError(f"index values must lie in [0, {n_pixels - 1}]")
    return index.to(device=device, dtype=torch.int64)


def information_variation(
    x: torch.Tensor,
    index: torch.Tensor,
    *,
    decay: float = DECAY,
    change_scale: float = CHANGE_SCALE,
    radius: float = RADIUS,
    value_weight: str = "product",
) -> torch.Tensor:
    """``ΔM = M(I) - M(T; I) >= 0`` for the gather map ``index`` applied to each image.

    Shape ``(N,)``, or ``()`` for a single image ``(C, H, W)``.

    ``index`` is ``(H*W,)`` (one map for the batch) or ``(N, H*W)`` (one per image); output
    position q takes source pixel ``index[q]``.

    >>> white = torch.full((1, 1, 2), 255, dtype=torch.uint8)
    >>> float(information_variation(white, torch.tensor([1, 0])))  # a swap keeps the distance
    0.0
    >>> float(information_variation(white, torch.tensor([0, 0])))  # pixel 1 and its pair are lost
    2.0
    """
    _check_params(decay, change_scale, radius, value_weight)
    v, single = _values(x)
    n, _, height, width = v.shape
    index = _check_index(index, n, height * width, v.device)
    rows, cols, valid = _landings(index, height, width)
    h, u = _weights(v, value_weight)
    dropped = ~valid[..., 0]
    lost = (h * dropped).sum(dim=(1, 2, 3))
    rows, cols = rows.to(v.dtype), cols.to(v.dtype)
    for dy, dx, d in _offsets(radius):
        # copies of the first pixel of each pair along axis -2, of the second along axis -1
        first = [_window(t, dy, dx, False).unsqueeze(-1) for t in (rows, cols, valid)]
        second = [_window(t, dy, dx, True).unsqueeze(-2) for t in (rows, cols, valid)]
        squared = (first[0] - second[0]).square_().add_((first[1] - second[1]).square_())  # exact: integers
        same = squared == dy * dy + dx * dx  # distance kept: exactly no loss, whatever sqrt's rounding on the device
        change = squared.sqrt_().sub_(d).abs_().masked_fill_(same, 0.0)
        kept = change.mul_(-1 / change_scale).exp_().masked_fill_(~(first[2] & second[2]), 0.0)
        share = 1 - kept.amax(dim=(-2, -1))  # the best pair of copies
        pair = u(_window(v, dy, dx, False), _window(v, dy, dx, True))
        lost = lost + math.exp(-(d - 1) / decay) * (pair * share).sum(dim=(1, 2, 3))
    return lost.squeeze(0) if single else lost


def information_loss_rate(
    x: torch.Tensor,
    index: torch.Tensor,
    *,
    decay: float = DECAY,
    change_scale: float = CHANGE_SCALE,
    radius: float = RADIUS,
    value_weight: str = "product",
) -> torch.Tensor:
    """``ΔM / M(I)`` per image, in [0, 1] (NaN for an image with ``M(I) = 0``, e.g. all black).

    >>> white = torch.full((1, 1, 2), 255, dtype=torch.uint8)
    >>> round(float(information_loss_rate(white, torch.tensor([0, 0]))), 4)  # 2 of 3
    0.6667
    """
    params = dict(decay=decay, radius=radius, value_weight=value_weight)
    return information_variation(x, index, change_scale=change_scale, **params) / information_content(x, **params)
