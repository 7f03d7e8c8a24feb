"""Exact key-space sizes (log2) of the learnable encryption schemes, and where two of them cross.

Each cipher's ``key_space_log2(shape)`` calls these formulas; :func:`check_shape` checks the
``shape`` it is given.

Factorials go through :func:`math.lgamma` (``log2 n! = lgamma(n + 1) / ln 2``), so the values
are exact to float precision for any size and the pixel and block counts may be real numbers —
which is what :func:`crossover` needs to find the image size at which two schemes' key spaces
are equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .._checks import boolean, non_negative_int, number, positive_int

_LN2 = math.log(2)

KeySpace = Callable[[float], float]


def _log2_factorial(n: float) -> float:
    return math.lgamma(n + 1) / _LN2


def check_shape(shape: object, name: str = "shape") -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints: ``(C, H, W)`` for one image or ``(N, C, H, W)`` for a batch.

    >>> check_shape((3, 32, 32))
    (3, 32, 32)
    >>> check_shape("abc")
    Traceback (most recent call last):
    ...
    ValueError: shape must be (C, H, W) or (N, C, H, W) as positive ints, got 'abc'
    """
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) not in (3, 4):  # type: ignore[arg-type]
        raise ValueError(f"{name} must be (C, H, W) or (N, C, H, W) as positive ints, got {shape!r}")
    sizes = tuple(shape)  # type: ignore[call-overload]
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"{name} must be (C, H, W) or (N, C, H, W) as positive ints, got {shape!r}")
    return tuple(int(s) for s in sizes)


def check_map_request(shape: object, n_images: object, first_index: object) -> tuple[tuple[int, ...], int, int]:
    """The arguments of a :class:`~imgleak.ciphers.base.PixelMover`'s ``pixel_maps`` checked:
    ``(shape, n_images, first_index)`` with ``shape`` an ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)``
    of positive ints (a map needs only H and W) and non-negative int counts.

    >>> check_map_request((3, 4, 4), 2, 0)
    ((3, 4, 4), 2, 0)
    >>> check_map_request((3,), 1, 0)
    Traceback (most recent call last):
    ...
    ValueError: shape must be (H, W), (C, H, W) or (N, C, H, W) as positive ints, got (3,)
    >>> check_map_request((3, 4, 4), 2.5, 0)
    Traceback (most recent call last):
    ...
    ValueError: n_images must be a non-negative int, got 2.5
    """
    try:
        sizes = check_shape(shape) if len(shape) != 2 else check_shape((1, *shape))[1:]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (H, W), (C, H, W) or (N, C, H, W) as positive ints, got {shape!r}") from None
    return sizes, non_negative_int(n_images, "n_images"), non_negative_int(first_index, "first_index")


def tanaka_log2(block: int = 4, channels: int = 3, reversal_from_permutation: bool = False) -> float:
    """log2 of Tanaka's key space ``N = D! · 2^D`` with D = 2 · block² · channels nibbles.

    The default (RGB, 4 × 4 blocks, D = 96) is the paper's Eq. 1: ``log2(96! · 2^96) ≈ 594.28``.
    With Tanaka's own code the reversal set is derived from the permutation: ``D!`` only (498.28).
    The key space does not depend on the image size (one key for all blocks and images).

    >>> round(tanaka_log2(), 2), round(tanaka_log2(reversal_from_permutation=True), 2)
    (594.28, 498.28)
    >>> round(tanaka_log2(block=1, channels=1), 9)  # D = 2 nibbles: 2! · 2^2 = 8 keys
    3.0
    """
    block, channels = positive_int(block, "block"), positive_int(channels, "channels")
    d = 2 * block * block * channels
    return _log2_factorial(d) + (0 if boolean(reversal_from_permutation, "reversal_from_permutation") else d)


def pixelwise_log2(n_pixels: float, channels: int = 3) -> float:
    """log2 of the pixel-wise key space ``N = 2^{C n} · (C!)^n`` for n pixels (one image's key).

    For RGB: ``3n + n · log2 6`` = 5.585 n bits (the paper's Eqs. 2–3). ``n_pixels`` may be real.

    >>> round(pixelwise_log2(1), 3), pixelwise_log2(2, channels=1)  # grey: one flip bit a pixel
    (5.585, 2.0)
    """
    n = number(n_pixels, "n_pixels", positive=True)
    channels = positive_int(channels, "channels")
    return n * (channels + _log2_factorial(channels))


def etc_log2(n_blocks: float, channels: int = 3, distinct: bool = True) -> float:
    """log2 of the block-scrambling EtC key space for n blocks (one image's key).

    ``log2 n! + n · (log2 R + 1 + log2 C!)``: block permutation, R rotation/inversion patterns,
    negative–positive (2) and C! channel orders per block. ``distinct=True`` counts the 8
    distinct rotations/flips of a square block (R = 8, as :class:`imgleak.ciphers.etc.EtCEncryption`
    draws them); ``distinct=False`` the nominal ``4 rotations × 4 inversions`` (R = 16) some
    EtC papers write, which counts every pattern twice. ``n_blocks`` may be real.

    >>> etc_log2(2, channels=1), etc_log2(2, channels=1, distinct=False)  # 1 + 2 · (3 + 1), 1 + 2 · (4 + 1)
    (9.0, 11.0)
    """
    n = number(n_blocks, "n_blocks", positive=True)
    channels = positive_int(channels, "channels")
    patterns = 8 if boolean(distinct, "distinct") else 16
    return _log2_factorial(n) + n * (math.log2(patterns) + 1 + _log2_factorial(channels))


def crossover(
    f: KeySpace | float,
    g: KeySpace | float,
    lo: float = 1.0,
    hi: float | None = None,
    tol: float = 1e-9,
) -> float:
    """The size n (real) at which ``f(n) = g(n)``, by bisection on ``f - g``.

    ``f`` and ``g`` are key-space functions of one size argument (pixels or blocks), or constants
    (e.g. ``tanaka_log2()``, which does not depend on the image size). ``f - g`` must change
    sign between ``lo`` and ``hi``; without ``hi`` the interval is doubled from ``2 * lo`` until
    it does (up to 2^60).

    >>> round(crossover(pixelwise_log2, tanaka_log2()), 2)  # pixels where pixel-wise overtakes Tanaka
    106.41
    >>> round(crossover(lambda n: 2 * n, 10.0), 6)
    5.0
    """
    fn = f if callable(f) else (lambda n, c=number(f, "f", allow_negative=True): c)
    gn = g if callable(g) else (lambda n, c=number(g, "g", allow_negative=True): c)
    lo = number(lo, "lo", positive=True)

    def diff(n: float) -> float:
        return fn(n) - gn(n)

    d_lo = diff(lo)
    if d_lo == 0:
        return float(lo)
    if hi is None:
        hi = 2.0 * lo
        while diff(hi) * d_lo > 0:
            hi *= 2.0
            if hi > 2.0**60:
                raise ValueError("the key spaces do not cross between lo and 2**60; pass lo/hi explicitly")
    else:
        hi = number(hi, "hi", positive=True)
        if hi <= lo:
            raise ValueError(f"hi must be larger than lo, got lo={lo!r}, hi={hi!r}")
        if diff(hi) * d_lo > 0:
            raise ValueError(f"f - g has the same sign at lo={lo} and hi={hi}: no crossing to bracket")
    a, b = float(lo), float(hi)
    while b - a > tol * max(1.0, abs(a)):
        mid = 0.5 * (a + b)
        d_mid = diff(mid)
        if d_mid == 0:
            return mid
        if d_mid * d_lo > 0:
            a, d_lo = mid, d_mid
        else:
            b = mid
    return 0.5 * (a + b)
