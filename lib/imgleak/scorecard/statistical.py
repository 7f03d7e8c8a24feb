"""Statistical criteria of the cipher images ``E(context.images)``: Shannon entropy, local Shannon
entropy with its randomness test, adjacent-pixel correlation, NPCR and UACI with the randomness
tests of Wu, Noonan & Agaian (2011), and a χ² test of histogram uniformity.

Every criterion encrypts the context's images once with ``subject.key(context.seed, context)``
(``first_index=0``) and returns :class:`~imgleak.scorecard.base.Measurement` rows whose values
are oriented so that the ``identity`` control leaks at least as much as any scheme and a one-time
pad at most as much (``|r|`` for correlations, ``|UACI − μ_U|`` for UACI, χ²/dof for the histogram).

The randomness tests:

- **NPCR / UACI** (Wu, Noonan & Agaian 2011, *NPCR and UACI randomness tests for image
  encryption*): with F = 255 and n compared samples, μ_N = F/(F+1), σ_N² = F/((F+1)² n),
  μ_U = (F+2)/(3F+3), σ_U² = (F+2)(F²+2F+3)/(18 (F+1)² n F); an NPCR passes at level α when it
  is at least N*_α = μ_N − Φ⁻¹(1−α) σ_N, a UACI when it lies in μ_U ∓ Φ⁻¹(1−α/2) σ_U
  (:func:`npcr_uaci_critical_values`).
- **Local Shannon entropy** (Wu, Zhou, Saveriades, Agaian, Noonan & Natarajan 2013, *Local
  Shannon entropy measure with statistical tests for image randomness*): the mean entropy of k
  random non-overlapping blocks of T_B samples. For a block of T_B uniform samples over L = 256
  levels the bin counts are multinomial, so the exact mean and variance of its entropy follow
  from binomial and trinomial sums (:func:`block_entropy_moments`). The paper's critical values
  are μ ∓ Φ⁻¹(1−α/2) σ_B / k (σ_B the standard deviation of one block's entropy): that rule
  reproduces its published numbers for k = 30, T_B = 1936 — μ = 7.902469317 and the interval
  7.901515698 / 7.903422936, which is the α = 0.001 interval of that rule (no standard α gives
  it with σ_B / √k) — to within one unit of the ninth decimal (the exact sums give 7.9015156972
  where the paper prints …698); at α = 0.05 the rule gives 7.9019013 / 7.9030373. The k-block mean of a
  truly random image has standard deviation σ_B / √k, so that interval is √k times narrower
  than the mean's sampling spread, and a one-time pad falls outside it most of the time. The
  criterion therefore judges with the sampling interval μ ∓ Φ⁻¹(1−α/2) σ_B / √k (``spread =
  "sampling"``) and records the paper's interval and verdict beside it (``spread="paper"``
  makes the paper's rule the verdict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from scipy import special, stats

from .. import _checks, metrics
from .base import Context, Criterion, Measurement, Subject, check_cell

LEVELS = 256
"""Grey levels of an 8-bit sample (L; F = L − 1 in Wu et al.'s NPCR/UACI formulas)."""
ALPHAS = (0.05, 0.01, 0.001)
"""The significance levels whose verdicts the randomness tests record (the first decides)."""
SPREADS = ("sampling", "paper")
"""Local-entropy critical interval: σ_B/√k (the k-block mean's spread) or σ_B/k (the paper's rule)."""
PAPER_BLOCK_SIDE, PAPER_BLOCKS = 44, 30
"""Wu et al. (2013): k = 30 blocks of T_B = 44 × 44 = 1936 pixels."""
SMALLEST_BLOCK_SIDE = 8
_TAIL = 1e-20  # bin counts less likely than this are left out of the entropy moment sums


def cipher_images(subject: Subject, context: Context, key: Any = None) -> torch.Tensor:
    """``subject``'s cipher images of ``context.images`` (on ``context.device``, ``first_index=0``),
    with ``key`` or else ``subject.key(context.seed, context)``.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> x = torch.arange(48, dtype=torch.uint8).view(1, 3, 4, 4)
    >>> context = Context(x, seed=0, budget=BUDGETS["quick"])
    >>> bool(torch.equal(cipher_images(Subject("identity", ciphers.get("identity")), context), x))
    True
    """
    subject, context = check_cell(subject, context)
    if key is None:
        key = subject.key(context.seed, context)
    return subject.cipher.encrypt(context.images.to(context.device), key, first_index=0)


def _normal_p(value: float, mean: float, sd: float, leaks_more: str) -> float:
    """One-sided p-value of ``value`` under N(mean, sd²), in the leak direction (``"lower"``/``"higher"``/``"both"``).

    >>> round(_normal_p(-1.6449, 0.0, 1.0, "lower"), 4), round(_normal_p(1.96, 0.0, 1.0, "both"), 3)
    (0.05, 0.05)
    """
    if not math.isfinite(value):
        return math.nan
    z = (value - mean) / sd
    if leaks_more == "both":
        return float(2 * stats.norm.sf(abs(z)))
    return float(stats.norm.cdf(z) if leaks_more == "lower" else stats.norm.sf(z))


# --- Shannon entropy ------------------------------------------------------------------------


def entropy(subject: Subject, context: Context) -> list[Measurement]:
    """Shannon entropy of the cipher images (bits per sample, channels pooled, mean over images);
    the setting holds what a uniform random image of that size would give (mean and spread).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> every_value = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    >>> context = Context(every_value, seed=0, budget=BUDGETS["quick"])
    >>> entropy(Subject("identity", ciphers.get("identity")), context)[0].value
    8.0
    """
    cipher = cipher_images(subject, context)
    samples = int(cipher[0].numel())
    mean, variance = block_entropy_moments(samples)
    value = metrics.shannon_entropy(cipher).mean()
    spread = math.sqrt(variance / cipher.shape[0])
    setting = {"images": int(cipher.shape[0]), "samples_per_image": samples, "levels": LEVELS,
               "random_mean": mean, "random_sd": spread,
               "null": "mean entropy of uniform random images: normal with the exact multinomial moments"}
    return [Measurement("entropy", value, "bits/sample", "lower", setting, p_value=_normal_p(value, mean, spread, "lower"))]


# --- local Shannon entropy ------------------------------------------------------------------


def _entropy_terms(counts: np.ndarray, block_pixels: int) -> np.ndarray:
    """``(t/T) log2(t/T)`` for bin counts ``t`` (0 for t = 0)."""
    share = counts / block_pixels
    return special.xlogy(share, share) / math.log(2)


@lru_cache(maxsize=64)
def block_entropy_moments(block_pixels: int, levels: int = LEVELS) -> tuple[float, float]:
    """Exact mean and variance (bits, bits²) of the Shannon entropy of ``block_pixels`` independent
    samples uniform over ``levels`` values.

    H = −Σ_i f(X_i) with f(t) = (t/T) log2(t/T) and (X_1 … X_L) multinomial: the mean is
    −L·E f(X_1) (X_1 binomial), the variance L·Var f(X_1) + L(L−1)·Cov(f(X_1), f(X_2)), where
    X_2 given X_1 = a is binomial(T − a, 1/(L−1)). Counts less likely than 1e-20 are left out.

    >>> [round(v, 12) for v in block_entropy_moments(2, levels=2)]  # two fair bits: H = 0 or 1, half the time each
    [0.5, 0.25]
    >>> mean, variance = block_entropy_moments(1936)  # Wu et al.'s T_B
    >>> round(mean, 9), f"{variance:.4e}"
    (7.902469317, '7.5590e-05')
    """
    block_pixels = _checks.positive_int(block_pixels, "block_pixels")
    levels = _checks.positive_int(levels, "levels")
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    p = 1 / levels
    likely = np.flatnonzero(stats.binom.pmf(np.arange(block_pixels + 1), block_pixels, p) > _TAIL)
    counts = np.arange(likely[0], likely[-1] + 1)
    pmf = stats.binom.pmf(counts, block_pixels, p)
    f = _entropy_terms(counts, block_pixels)
    mean_f, mean_f2 = float(pmf @ f), float(pmf @ f**2)
    # E[f(X_1) f(X_2)]: X_2 | X_1 = a ~ binomial(T - a, 1 / (L - 1))
    given = stats.binom.pmf(counts[None, :], block_pixels - counts[:, None], 1 / (levels - 1))
    mean_ff = float((pmf * f) @ (given @ f))
    variance = levels * (mean_f2 - mean_f**2) + levels * (levels - 1) * (mean_ff - mean_f**2)
    return -levels * mean_f, max(variance, 0.0)


def local_entropy_critical_values(
    block_pixels: int, blocks: int, alpha: float = 0.05, *, spread: str = "paper", levels: int = LEVELS
) -> tuple[float, float, float]:
    """``(mean, h_left, h_right)``: the expected (k, T_B)-local Shannon entropy of a random image
    and the two-sided acceptance interval at level ``alpha`` (bits).

    ``spread="paper"``: μ ∓ Φ⁻¹(1−α/2) σ_B / k, Wu et al.'s rule (their published values);
    ``"sampling"``: μ ∓ Φ⁻¹(1−α/2) σ_B / √k, the spread of the mean of k independent blocks.

    >>> [round(v, 8) for v in local_entropy_critical_values(1936, 30, 0.001)]  # paper: 7.901515698, 7.903422936
    [7.90246932, 7.9015157, 7.90342294]
    >>> [round(v, 4) for v in local_entropy_critical_values(1936, 30, 0.05, spread="sampling")]
    [7.9025, 7.8994, 7.9056]
    """
    blocks = _checks.positive_int(blocks, "blocks")
    alpha = _checks.fraction(alpha, "alpha")
    spread = _checks.choice(spread, "spread", SPREADS)
    mean, variance = block_entropy_moments(block_pixels, levels)
    sd = math.sqrt(variance) / (blocks if spread == "paper" else math.sqrt(blocks))
    half = float(stats.norm.ppf(1 - alpha / 2)) * sd
    return mean, mean - half, mean + half


def choose_block_side(shape: Sequence[int], blocks: int = PAPER_BLOCKS, largest: int = PAPER_BLOCK_SIDE) -> int:
    """The largest block side (at most ``largest``, at least 8) such that ``blocks`` non-overlapping
    blocks fit in images of ``shape`` ``(N, C, H, W)`` (every image and channel is a grid of blocks).

    >>> choose_block_side((16, 3, 64, 64)), choose_block_side((4, 3, 32, 32))  # default, quick budgets
    (44, 16)
    """
    n, c, h, w = _image_shape(shape)
    blocks = _checks.positive_int(blocks, "blocks")
    largest = _checks.positive_int(largest, "largest")
    for side in range(min(largest, h, w), SMALLEST_BLOCK_SIDE - 1, -1):
        if n * c * (h // side) * (w // side) >= blocks:
            return side
    raise ValueError(
        f"images of shape {(n, c, h, w)} cannot hold {blocks} non-overlapping blocks of at least "
        f"{SMALLEST_BLOCK_SIDE}x{SMALLEST_BLOCK_SIDE} pixels; use more or larger images, or fewer blocks"
    )


def _image_shape(shape: Sequence[int]) -> tuple[int, int, int, int]:
    if not isinstance(shape, (tuple, list, torch.Size)) or len(shape) != 4:
        raise ValueError(f"shape must be (N, C, H, W), got {shape!r}")
    return tuple(_checks.positive_int(s, "shape") for s in shape)  # type: ignore[return-value]


def random_blocks(images: torch.Tensor, side: int, blocks: int, seed: int) -> torch.Tensor:
    """``blocks`` random non-overlapping ``side``×``side`` blocks of single channels, drawn (seeded)
    from the grid of blocks of every image and channel: uint8 ``(blocks, 1, side, side)``.

    >>> x = torch.arange(64, dtype=torch.uint8).view(1, 1, 8, 8)
    >>> sorted(int(b[0, 0, 0]) for b in random_blocks(x, 4, 4, seed=0))  # all four quadrants
    [0, 4, 32, 36]
    """
    n, c, h, w = _image_shape(tuple(images.shape))
    side, blocks = _checks.positive_int(side, "side"), _checks.positive_int(blocks, "blocks")
    rows, cols = h // side, w // side
    if n * c * rows * cols < blocks:
        raise ValueError(f"images of shape {(n, c, h, w)} hold {n * c * rows * cols} non-overlapping "
                         f"{side}x{side} blocks, fewer than blocks={blocks}")
    grid = images[:, :, : rows * side, : cols * side].reshape(n, c, rows, side, cols, side)
    grid = grid.permute(0, 1, 2, 4, 3, 5).reshape(-1, 1, side, side)
    generator = torch.Generator().manual_seed(_checks.integer(seed, "seed") % 2**64)
    chosen = torch.randperm(grid.shape[0], generator=generator)[:blocks]
    return grid[chosen.to(grid.device)]


@dataclass(frozen=True)
class LocalEntropyTest:
    """The (k, T_B)-local Shannon entropy of some images and its randomness test at ``alpha``."""

    value: float  # mean entropy of the k blocks (bits)
    side: int
    blocks: int
    available: int  # non-overlapping blocks the images hold
    mean: float  # expected value for a random image
    interval: tuple[float, float]  # the sampling interval (sigma_B / sqrt(k))
    paper_interval: tuple[float, float]  # Wu et al.'s rule (sigma_B / k)
    alpha: float

    def verdict(self, spread: str = "sampling") -> str:
        """``"pass"`` if the value lies in the interval of ``spread`` (see :data:`SPREADS`), else ``"fail"``."""
        low, high = self.interval if _checks.choice(spread, "spread", SPREADS) == "sampling" else self.paper_interval
        return "pass" if low <= self.value <= high else "fail"


def local_shannon_entropy(
    images: torch.Tensor, *, side: int | None = None, blocks: int = PAPER_BLOCKS, alpha: float = 0.05, seed: int = 0
) -> LocalEntropyTest:
    """The mean Shannon entropy of ``blocks`` random non-overlapping blocks of ``side`` × ``side`` samples
    (default: :func:`choose_block_side`) and its randomness test.

    >>> ramp = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    >>> test = local_shannon_entropy(ramp, side=8, blocks=4)  # every block holds 64 distinct values
    >>> test.value, test.verdict()
    (6.0, 'fail')
    """
    n, c, h, w = _image_shape(tuple(images.shape))
    side = choose_block_side((n, c, h, w), blocks) if side is None else _checks.positive_int(side, "side")
    chosen = random_blocks(images, side, blocks, seed)
    value = float(metrics.shannon_entropy(chosen).mean())
    mean, low, high = local_entropy_critical_values(side * side, blocks, alpha, spread="sampling")
    _, paper_low, paper_high = local_entropy_critical_values(side * side, blocks, alpha, spread="paper")
    available = n * c * (h // side) * (w // side)
    return LocalEntropyTest(value, side, blocks, available, mean, (low, high), (paper_low, paper_high), alpha)


def local_entropy(
    subject: Subject, context: Context, *, side: int | None = None, blocks: int = PAPER_BLOCKS,
    spread: str = "sampling",
) -> list[Measurement]:
    """Local Shannon entropy of the cipher images (:func:`local_shannon_entropy`, seeded by the
    context), verdict at α = 0.05 by ``spread``; the setting records the block choice, both
    intervals and the verdicts at every level of :data:`ALPHAS`.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.zeros(1, 1, 16, 16, dtype=torch.uint8), seed=0, budget=BUDGETS["quick"])
    >>> m = local_entropy(Subject("identity", ciphers.get("identity")), context, side=8, blocks=4)[0]
    >>> m.value, m.verdict, m.setting["block_pixels"]
    (0.0, 'fail', 64)
    """
    spread = _checks.choice(spread, "spread", SPREADS)
    cipher = cipher_images(subject, context)
    tests = [local_shannon_entropy(cipher, side=side, blocks=blocks, alpha=a, seed=context.seed) for a in ALPHAS]
    first = tests[0]
    setting = {
        "block_side": first.side, "block_pixels": first.side**2, "blocks": first.blocks,
        "blocks_available": first.available, "paper_choice": {"block_side": PAPER_BLOCK_SIDE, "blocks": PAPER_BLOCKS},
        "drawn_from": "the grid of non-overlapping blocks of every image and channel",
        "expected": first.mean, "alpha": first.alpha, "spread": spread,
        "interval": list(first.interval), "paper_interval": list(first.paper_interval),
        "verdicts": {str(t.alpha): t.verdict(spread) for t in tests},
        "verdicts_paper": {str(t.alpha): t.verdict("paper") for t in tests},
    }
    mean, variance = block_entropy_moments(first.side**2)
    p_value = _normal_p(first.value, mean, math.sqrt(variance / first.blocks), "lower")
    return [Measurement("local_entropy", first.value, "bits/sample", "lower", setting, first.verdict(spread),
                        p_value=p_value)]


# --- adjacent-pixel correlation -------------------------------------------------------------


def correlation(subject: Subject, context: Context) -> list[Measurement]:
    """``|r|`` of adjacent pixels (horizontal, vertical, diagonal), mean over the cipher images whose
    correlation is defined (a constant channel has none; all undefined gives NaN). The setting holds
    what random images would give: mean ``|r|`` ≈ √(2/(π m)) for m pairs, and its spread.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> ramp = (4 * torch.arange(16)[:, None] + 8 * torch.arange(16)).to(torch.uint8).view(1, 1, 16, 16)
    >>> context = Context(ramp, seed=0, budget=BUDGETS["quick"])
    >>> [round(m.value, 6) for m in correlation(Subject("identity", ciphers.get("identity")), context)]
    [1.0, 1.0, 1.0]
    """
    cipher = cipher_images(subject, context)
    n, c, h, w = cipher.shape
    rows = []
    for direction, (dy, dx) in zip(metrics.DIRECTIONS, ((0, 1), (1, 0), (1, 1))):
        r = metrics.adjacent_correlation(cipher, direction)
        defined = ~torch.isnan(r)
        value = float(r[defined].abs().mean()) if bool(defined.any()) else math.nan
        signed = float(r[defined].mean()) if bool(defined.any()) else math.nan
        pairs = c * (h - dy) * (w - dx)  # r of a random image: about normal, variance 1 / pairs
        # pairs · Σ r² over the images is χ² with one degree of freedom per image under the null
        statistic = float(pairs * (r[defined].double() ** 2).sum())
        p_value = float(stats.chi2.sf(statistic, int(defined.sum()))) if bool(defined.any()) else math.nan
        setting = {"direction": direction, "images": int(n), "undefined": int((~defined).sum()),
                   "signed_mean": signed, "pairs_per_image": int(pairs),
                   "random_mean": math.sqrt(2 / (math.pi * pairs)),
                   "random_sd": math.sqrt((1 - 2 / math.pi) / (pairs * n)),
                   "null": "r of random images ~ N(0, 1/pairs): pairs·Σr² ~ χ²(images)", "chi2": statistic}
        rows.append(Measurement(f"correlation_{direction}", value, "|r|", "higher", setting, p_value=p_value))
    return rows


# --- NPCR and UACI --------------------------------------------------------------------------


@dataclass(frozen=True)
class NpcrUaciCritical:
    """Wu, Noonan & Agaian's expected values and critical values (all in %) for ``n_pixels`` samples."""

    n_pixels: int
    alpha: float
    npcr_mean: float
    npcr_critical: float  # N*_alpha: an NPCR below it fails
    uaci_mean: float
    uaci_low: float  # U*-_alpha
    uaci_high: float  # U*+_alpha

    def npcr_verdict(self, npcr: float) -> str:
        """``"pass"`` if ``npcr`` (%) is at least N*_α."""
        return "pass" if npcr >= self.npcr_critical else "fail"

    def uaci_verdict(self, uaci: float) -> str:
        """``"pass"`` if ``uaci`` (%) lies in [U*-_α, U*+_α]."""
        return "pass" if self.uaci_low <= uaci <= self.uaci_high else "fail"


def npcr_uaci_critical_values(n_pixels: int, alpha: float = 0.05, levels: int = LEVELS) -> NpcrUaciCritical:
    """The NPCR/UACI randomness tests of Wu, Noonan & Agaian (2011) for two cipher images of
    ``n_pixels`` samples each (F = ``levels`` − 1), at significance ``alpha``; see the module notes.

    >>> c = npcr_uaci_critical_values(256 * 256, 0.05)  # their table, 256 x 256, alpha = 0.05
    >>> round(c.npcr_critical, 4), round(c.uaci_low, 4), round(c.uaci_high, 4)
    (99.5693, 33.2824, 33.6447)
    >>> round(c.npcr_mean, 4), round(c.uaci_mean, 4)
    (99.6094, 33.4635)
    """
    n = _checks.positive_int(n_pixels, "n_pixels")
    alpha = _checks.fraction(alpha, "alpha")
    f = _checks.positive_int(levels, "levels") - 1
    if f < 1:
        raise ValueError(f"levels must be at least 2, got {levels}")
    mu_n, sd_n = f / (f + 1), math.sqrt(f / ((f + 1) ** 2 * n))
    mu_u = (f + 2) / (3 * f + 3)
    sd_u = math.sqrt((f + 2) * (f * f + 2 * f + 3) / (18 * (f + 1) ** 2 * n * f))
    z_n, z_u = float(stats.norm.ppf(1 - alpha)), float(stats.norm.ppf(1 - alpha / 2))
    return NpcrUaciCritical(n, alpha, 100 * mu_n, 100 * (mu_n - z_n * sd_n), 100 * mu_u,
                            100 * (mu_u - z_u * sd_u), 100 * (mu_u + z_u * sd_u))


def one_pixel_change(images: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of ``images`` (uint8 ``(N, C, H, W)``) with one sample per image changed by one grey
    level at a seeded random position: +1, or −1 for a 255 (wrapping to 0 would be a change of 255
    levels); returns ``(changed, flat positions (N,))``.

    >>> changed, where = one_pixel_change(torch.full((2, 1, 2, 2), 255, dtype=torch.uint8), seed=0)
    >>> int((changed == 254).sum()), where.shape
    (2, torch.Size([2]))
    """
    n, c, h, w = _image_shape(tuple(images.shape))
    generator = torch.Generator().manual_seed(_checks.integer(seed, "seed") % 2**64)
    where = torch.randint(0, c * h * w, (n,), generator=generator).to(images.device)
    changed = images.clone().reshape(n, -1)
    rows = torch.arange(n, device=images.device)
    picked = changed[rows, where]
    changed[rows, where] = torch.where(picked == LEVELS - 1, picked - 1, picked + 1)
    return changed.reshape(images.shape), where


def npcr_uaci(subject: Subject, context: Context) -> list[Measurement]:
    """NPCR and UACI between the ciphers of the images and of a copy with one sample changed per
    image (:func:`one_pixel_change`), under the same key, with Wu et al.'s tests for the
    n = N·C·H·W compared samples (pooled over images and channels: one test per run, as the
    paper's formulas are for one pair of images of n samples): ``npcr`` (%, lower leaks more,
    verdict at α = 0.05) and ``uaci`` as ``|UACI − μ_U|`` in percentage points (higher leaks more; raw
    UACI in the setting). The changed images are encrypted as messages of their own (``first_index``
    N: after the originals), as a chosen-plaintext attacker submitting them would get them; a stream
    cipher with a per-message nonce is judged on what it does, a deterministic scheme is not helped.
    ``p_value``: NPCR one-sided (too few changes), UACI two-sided, under Wu et al.'s normal nulls.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.zeros(1, 1, 10, 10, dtype=torch.uint8), seed=0, budget=BUDGETS["quick"])
    >>> npcr, uaci = npcr_uaci(Subject("identity", ciphers.get("identity")), context)
    >>> npcr.value, npcr.verdict  # one sample in 100 differs
    (1.0, 'fail')
    """
    subject, context = check_cell(subject, context)
    key = subject.key(context.seed, context)
    changed, _ = one_pixel_change(context.images, context.seed)
    first = cipher_images(subject, context, key)
    second = subject.cipher.encrypt(changed.to(context.device), key, first_index=int(context.images.shape[0]))
    npcr_value = float(metrics.npcr(first, second).mean())
    uaci_value = float(metrics.uaci(first, second).mean())
    n = int(first.numel())
    tests = [npcr_uaci_critical_values(n, a) for a in ALPHAS]
    common = {"images": int(first.shape[0]), "samples_compared": n, "change": "one sample per image by one grey level (+1; -1 for 255)",
              "alphas": list(ALPHAS)}
    npcr_setting = {**common, "expected": tests[0].npcr_mean,
                    "critical": {str(t.alpha): t.npcr_critical for t in tests},
                    "verdicts": {str(t.alpha): t.npcr_verdict(npcr_value) for t in tests}}
    uaci_setting = {**common, "uaci": uaci_value, "expected": tests[0].uaci_mean,
                    "critical": {str(t.alpha): [t.uaci_low, t.uaci_high] for t in tests},
                    "verdicts": {str(t.alpha): t.uaci_verdict(uaci_value) for t in tests}}
    npcr_sd, uaci_sd = _npcr_uaci_sd(n)
    return [
        Measurement("npcr", npcr_value, "%", "lower", npcr_setting, tests[0].npcr_verdict(npcr_value),
                    p_value=_normal_p(npcr_value, tests[0].npcr_mean, npcr_sd, "lower"), adversary="chosen-plaintext"),
        Measurement("uaci", abs(uaci_value - tests[0].uaci_mean), "percentage points from expected", "higher",
                    uaci_setting, tests[0].uaci_verdict(uaci_value),
                    p_value=_normal_p(uaci_value, tests[0].uaci_mean, uaci_sd, "both"), adversary="chosen-plaintext"),
    ]


def _npcr_uaci_sd(n: int, levels: int = LEVELS) -> tuple[float, float]:
    """Wu et al.'s standard deviations of NPCR and UACI (in %) for n compared samples."""
    f = levels - 1
    return (100 * math.sqrt(f / ((f + 1) ** 2 * n)),
            100 * math.sqrt((f + 2) * (f * f + 2 * f + 3) / (18 * (f + 1) ** 2 * n * f)))


# --- histogram uniformity -------------------------------------------------------------------


def histogram_uniformity(subject: Subject, context: Context, alpha: float = 0.05) -> list[Measurement]:
    """χ² test of the cipher images' pooled 256-bin histogram against uniform (``scipy.stats.chisquare``):
    value χ²/dof (about 1 for random images, spread √(2/255) ≈ 0.089), pass if p ≥ ``alpha``.
    Two-sided: a histogram too flat to be random (χ² in the lower tail, e.g. a scheme that forces
    equal counts) fails as well as a too-uneven one; ``p_value`` is that two-sided p.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> every_value = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    >>> context = Context(every_value, seed=0, budget=BUDGETS["quick"])
    >>> m = histogram_uniformity(Subject("identity", ciphers.get("identity")), context)[0]
    >>> m.value, m.setting["p_value"], m.verdict  # exactly equal counts: too flat to be random
    (0.0, 0.0, 'fail')
    """
    alpha = _checks.fraction(alpha, "alpha")
    cipher = cipher_images(subject, context)
    counts = torch.bincount(cipher.flatten().long(), minlength=LEVELS).cpu().numpy()
    statistic, _ = stats.chisquare(counts)
    dof = LEVELS - 1
    p_value = float(min(1.0, 2 * min(stats.chi2.sf(statistic, dof), stats.chi2.cdf(statistic, dof))))
    setting = {"chi2": float(statistic), "dof": dof, "p_value": float(p_value), "alpha": alpha,
               "samples": int(counts.sum()), "pooled": "all samples of all cipher images",
               "random_mean": 1.0, "random_sd": math.sqrt(2 / dof)}
    verdict = "pass" if p_value >= alpha else "fail"
    return [Measurement("histogram_uniformity", float(statistic) / dof, "chi2/dof", "higher", setting, verdict,
                        p_value=p_value)]


FAMILY = "statistical"
ADVERSARY = "statistical"  # cipher images only, no learning; NPCR/UACI are chosen-plaintext (differential)

CRITERIA: dict[str, Criterion] = {
    "entropy": entropy,
    "local_entropy": local_entropy,
    "correlation": correlation,
    "npcr_uaci": npcr_uaci,
    "histogram_uniformity": histogram_uniformity,
}
"""The statistical criteria, by cell name."""

__all__ = [
    "ADVERSARY", "FAMILY", "ALPHAS", "CRITERIA", "LEVELS", "LocalEntropyTest", "NpcrUaciCritical", "SPREADS", "block_entropy_moments",
    "choose_block_side", "cipher_images", "correlation", "entropy", "histogram_uniformity",
    "local_entropy", "local_entropy_critical_values", "local_shannon_entropy", "npcr_uaci",
    "npcr_uaci_critical_values", "one_pixel_change", "random_blocks",
]
