"""From images and encryption levels n to the paired samples each leakage estimator needs.

For every image i and level n the image is encrypted with :class:`SelectiveEncryption`
(key ``key.derive(f"image/{i}")``, so no two images share key bits) and the analyst's view of
the cipher is its **scaled clear part** ``C' = (E mod 2^(8-n)) * 2^n``, a bijection of the
clear part (same mutual information) that looks like an image. Level 0 is the original image
itself, so every estimator compares level 0 with level n.

* :func:`histogram_mi` — plug-in MI per image and level (the paper's Fig. 2).
* :func:`level_patches` — co-located patches of the original and of every clear part, cut at
  the same seeded positions (no resizing): flattened pixels for MINE.
* :func:`level_image_embeddings` — whole images resized to 224×224 and embedded (the paper's
  cosine-similarity and rounded-feature experiments, Fig. 3).
* :func:`embed_level_patches` — the same co-located patches embedded by several frozen encoders,
  one level at a time (only one level's patches are ever in memory, so hundreds of 224×224
  patches per image fit).
* :func:`mine_by_level`, :func:`relative_distance` — MINE runs (all levels trained together as
  one ensemble by :func:`imgleak.mi.mine.estimate_mi_many`) and the "relative distance to the maximum
  MI" curves (Figs. 4–8).
* :func:`estimator_sweep`, :func:`seed_summary`, :func:`convergence_table` — the n-sweep for
  several estimators (``objective`` of :func:`imgleak.mi.mine.estimate_mi`) and seeds, the mean over
  seeds with its Student-t interval, and when each held-out curve converged.
* :func:`estimator_findings` — the paper's two claims checked for every estimator, as
  :class:`~imgleak.experiments.findings.Finding` s (the chapter phrases them). Kinds and numbers:

  ``"linearity"`` (one per source and estimator)
      ``source, estimator, slope, intercept, r2, r2_threshold``; ``holds``: the claim "not
      linear in n", i.e. the straight line through the per-level means (over seeds) explains
      less than ``r2_threshold`` of their variance (``None`` when the means are constant).
  ``"convergence"`` (one per estimator)
      ``estimator, fraction, min_bits, pixels, epochs`` (source → mean over seeds of the mean
      over levels of the convergence epoch), ``ci`` (source → its t-interval across seeds),
      ``faster`` (the sources that converge in fewer epochs than ``pixels``); ``holds``: the claim
      "embeddings converge faster than pixels" - every embedding source's mean is below the
      pixels' (``None`` when a source has no level to measure). The convergence epoch of a run
      is the first epoch whose held-out value reaches ``fraction`` of the reported value; runs
      whose reported value is below ``min_bits`` have nothing to converge to and are left out.
  ``"ceiling"`` (one per source and estimator whose bound has a finite ceiling that binds)
      ``source, estimator, ceiling_bits, levels`` (the levels whose mean estimate reaches
      ``ceiling_fraction`` of the ceiling, e.g. InfoNCE's ``log2`` of its batch size).
  ``"survives"`` (one per source for ``claim="linearity"``, one with ``source=None`` for ``claim="convergence"``)
      ``claim, source, verdicts`` (estimator → ``holds`` of its claim finding), ``agree`` (every
      estimator gives the same, determined verdict); ``holds``: the claim survives the change of
      estimator - every estimator supports it (``None`` when a verdict is undetermined).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm.auto import tqdm

from .. import _checks
from ..ciphers.base import check_key
from ..ciphers.selective import SelectiveEncryption
from .findings import Finding
from ..images import extract_patches, patch_positions
from ..keys import Key
from ..mi import NeuralMIResult, estimate_mi_many
from ..mi.encoders import Encoder, cosine_similarity, rounded_features
from ..mi.histogram import mutual_information
from ..mi.mine import LN2, OBJECTIVES

RUN = ["source", "estimator", "n", "seed"]  # the columns that name one run of a sweep


def _check_levels(levels: Sequence[int]) -> list[int]:
    levels = list(levels)
    if not levels or any(isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 8 for n in levels):
        raise ValueError(f"levels must be a non-empty list of ints from 0 to 8, got {levels!r}")
    return sorted(set(levels))


def clear_view(image: torch.Tensor, n: int, key: Key, index: int) -> torch.Tensor:
    """The scaled clear part of image ``index`` encrypted at level ``n`` (level 0: the image)."""
    cipher = SelectiveEncryption(n)
    return cipher.scaled_clear_part(cipher.encrypt(image, check_key(key).derive(f"image/{index}")))


def histogram_mi(images: Sequence[torch.Tensor], levels: Sequence[int], key: Key,
                 names: Sequence[str] | None = None, miller_madow: bool = False) -> pd.DataFrame:
    """Plug-in MI (bits per sample) between each image and its clear part, for every level.

    Returns one row per image and level: ``image, n, mi_bits, bound_bits`` with the upper
    bound ``8 - n`` (reached by uniformly distributed pixels). ``key`` is an imgleak
    :class:`~imgleak.keys.Key` (image ``i`` is encrypted with ``key.derive(f"image/{i}")``).

    >>> histogram_mi([torch.zeros(1, 4, 4, dtype=torch.uint8)], [2], key="k")
    Traceback (most recent call last):
    ...
    TypeError: key must be an imgleak Key (Key.from_seed, Key.generate), got str
    """
    levels, key = _check_levels(levels), check_key(key)
    names = list(names) if names is not None else [f"image {i}" for i in range(len(images))]
    rows = []
    for i, image in enumerate(images):
        for n in levels:
            cipher = SelectiveEncryption(n)
            clear = cipher.clear_part(cipher.encrypt(image, key.derive(f"image/{i}")))
            rows.append({"image": names[i], "n": n, "bound_bits": 8 - n,
                         "mi_bits": mutual_information(image, clear, miller_madow=miller_madow)})
    return pd.DataFrame(rows)


def uniform_images(count: int, shape: tuple[int, int, int], seed: int) -> list[torch.Tensor]:
    """``count`` images of independent uniform 8-bit noise: the reference that meets the bound."""
    count, seed = _checks.non_negative_int(count, "count"), _checks.integer(seed, "seed")
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator) for _ in range(count)]


def _positions(images: Sequence[torch.Tensor], size: int, per_image: int, seed: int) -> list[torch.Tensor]:
    """The patch corners of every image: image ``i``'s from ``seed + i``."""
    return [patch_positions(int(image.shape[-2]), int(image.shape[-1]), size, per_image, seed + i)
            for i, image in enumerate(images)]


def _patches_at(images: Sequence[torch.Tensor], positions: list[torch.Tensor], n: int, key: Key,
                size: int) -> torch.Tensor:
    """The patches of every image's level-``n`` clear view at ``positions``, images one after the other."""
    return torch.cat([extract_patches(clear_view(image, n, key, i), where, size)
                      for i, (image, where) in enumerate(zip(images, positions))])


def level_patches(images: Sequence[torch.Tensor], levels: Sequence[int], key: Key, size: int,
                  per_image: int, seed: int) -> dict[int, torch.Tensor]:
    """Co-located ``size``×``size`` patches of every image at every level, ``uint8 (P, C, size, size)``.

    Patch positions of image ``i`` come from ``seed + i`` and are the same at every level, so
    row ``j`` of level 0 (the original) and row ``j`` of level n are a pair. Positions are drawn
    independently and uniformly, so patches may overlap (and ``per_image`` may exceed the number
    of disjoint patches an image holds). Images smaller than the patch raise ``ValueError``.
    """
    levels = sorted(set(_check_levels(levels)) | {0})
    positions = _positions(images, size, per_image, seed)
    return {n: _patches_at(images, positions, n, key, size) for n in levels}


def _embed(encoder: Encoder, patches: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``encoder.embed(patches)``; a batch of identical patches (level 8: a blank clear part) is embedded once."""
    if bool((patches == patches[:1]).all()):
        return encoder.embed(patches[:1], batch_size=batch_size).expand(len(patches), -1).clone()
    return encoder.embed(patches, batch_size=batch_size)


def embed_level_patches(encoders: Mapping[str, Encoder], images: Sequence[torch.Tensor], levels: Sequence[int],
                        key: Key, size: int, per_image: int, seed: int, batch_size: int = 32,
                        progress: bool = True) -> dict[str, dict[int, torch.Tensor]]:
    """The patches of :func:`level_patches` embedded by every encoder (no resizing): name → level → ``(P, dim)``.

    Levels are cut and embedded one at a time, so memory holds one level's patches, not all.

    >>> from imgleak.mi.encoders import load_encoder
    >>> pics = uniform_images(2, (3, 40, 40), seed=0)
    >>> out = embed_level_patches({"r": load_encoder("resnet18", pretrained=False)}, pics, [8], Key.from_seed(0),
    ...                           size=32, per_image=3, seed=0, progress=False)
    >>> sorted(out["r"]), tuple(out["r"][8].shape)
    ([0, 8], (6, 512))
    """
    levels = sorted(set(_check_levels(levels)) | {0})
    positions = _positions(images, size, per_image, seed)
    out: dict[str, dict[int, torch.Tensor]] = {name: {} for name in encoders}
    for n in tqdm(levels, desc="embedding patches", disable=not progress):
        patches = _patches_at(images, positions, n, key, size)
        for name, encoder in encoders.items():
            out[name][n] = _embed(encoder, patches, batch_size)
    return out


def level_image_embeddings(encoder: Encoder, images: Sequence[torch.Tensor], levels: Sequence[int],
                           key: Key) -> dict[int, torch.Tensor]:
    """Whole images (level 0) and clear parts resized to 224×224 and embedded: ``(images, dim)`` per level."""
    levels = sorted(set(_check_levels(levels)) | {0})
    return {n: torch.stack([encoder.embed(clear_view(img, n, key, i), resize=True) for i, img in enumerate(images)])
            for n in levels}


def embedding_similarity(embeddings: dict[int, torch.Tensor], names: Sequence[str], decimals: int) -> pd.DataFrame:
    """Per level: cosine similarity of each image's embedding with its clear part's, and the
    plug-in MI (bits) of the rounded features pooled over dimensions and images.

    Returns one row per image and level: ``image, n, cosine, rounded_mi_bits`` (the MI is one
    value per level, repeated on its rows).
    """
    base = embeddings[0]
    codes_base = rounded_features(base, decimals)
    rows = []
    for n, emb in embeddings.items():
        mi = mutual_information(codes_base, rounded_features(emb, decimals))
        for name, cos in zip(names, cosine_similarity(base, emb).tolist()):
            rows.append({"image": name, "n": n, "cosine": cos, "rounded_mi_bits": mi})
    return pd.DataFrame(rows)


def flatten(samples: torch.Tensor) -> torch.Tensor:
    """``(P, ...)`` → ``(P, D)``."""
    return samples.reshape(samples.shape[0], -1)


def _pairs(samples: dict[int, torch.Tensor], levels: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(level 0, level n)`` flattened, for every level n."""
    x = flatten(samples[0])
    return [(x, flatten(samples[n])) for n in levels]


def mine_by_level(samples: dict[int, torch.Tensor], levels: Sequence[int], **mine_options: Any) -> dict[int, NeuralMIResult]:
    """MINE between level 0 and each level n (samples flattened to vectors), the levels trained together.

    ``mine_options`` go to :func:`imgleak.mi.mine.estimate_mi_many` (epochs, lr, batch_size, seed,
    objective, ...); ``seed`` seeds every level's run, so level n's result is
    ``estimate_mi(level 0, level n, seed=seed, ...)``.

    >>> pairs = level_patches(uniform_images(1, (3, 16, 16), seed=0), [4], Key.from_seed(0), 4, 40, seed=0)
    >>> runs = mine_by_level(pairs, [0, 4], epochs=2, batch_size=16, hidden=8, seed=1, progress=False)
    >>> sorted(runs), runs[4].settings["seed"], len(runs[4].test_curve)
    ([0, 4], 1, 2)
    """
    levels = _check_levels(levels)
    return dict(zip(levels, estimate_mi_many(_pairs(samples, levels), **mine_options)))


def relative_distance(curves: dict[int, Sequence[float]]) -> dict[int, list[float]]:
    """The paper's relative distance to the maximum: ``D_n(t) = max_m I_m(t) - I_n(t)`` per epoch t."""
    stacked = torch.tensor([list(c) for c in curves.values()], dtype=torch.float64)
    top = stacked.max(dim=0).values
    return {n: (top - row).tolist() for n, row in zip(curves, stacked)}


def mine_table(results: dict[str, dict[int, NeuralMIResult]]) -> pd.DataFrame:
    """Final held-out estimates (bits) as a table: one row per level n, one column per estimator."""
    return pd.DataFrame({name: {n: r.mi_bits for n, r in by_level.items()} for name, by_level in results.items()}).rename_axis("n")


def linearity(table: pd.DataFrame, value: str) -> dict[str, float]:
    """Least-squares line of the per-level mean of ``value`` against n: slope, intercept and R²."""
    means = table.groupby("n")[value].mean()
    n = torch.tensor(means.index.to_numpy(), dtype=torch.float64)
    v = torch.tensor(means.to_numpy(), dtype=torch.float64)
    design = torch.stack([n, torch.ones_like(n)], dim=1)
    slope, intercept = torch.linalg.lstsq(design, v.unsqueeze(1)).solution.squeeze(1).tolist()
    residual = v - (slope * n + intercept)
    total = ((v - v.mean()) ** 2).sum()
    r2 = float(1 - (residual ** 2).sum() / total) if total > 0 else float("nan")
    return {"slope": slope, "intercept": intercept, "r2": r2}


# ------------------------------------------------------------------ the estimator sweep


@dataclass(frozen=True)
class EstimatorSweep:
    """What :func:`estimator_sweep` measured.

    ``table``: one row per run, ``source, estimator, n, seed, mi_bits, bound, epoch,
    ceiling_bits, diverged`` (the held-out value reported, the name of the bound it is, the epoch it
    comes from, the bound's ceiling in bits: ``log2`` of the batch size for InfoNCE, ``inf``
    otherwise; and ``None``, or for a run that diverged why, with ``mi_bits`` NaN and ``epoch`` the
    epoch it diverged at). ``curves``: one row per run and epoch, ``source, estimator, n, seed, epoch,
    test_bits`` (the held-out curve).
    """

    table: pd.DataFrame
    curves: pd.DataFrame

    @classmethod
    def concat(cls, sweeps: Sequence[EstimatorSweep]) -> EstimatorSweep:
        """One sweep holding the runs of all ``sweeps`` (e.g. pixels and every encoder)."""
        return cls(pd.concat([s.table for s in sweeps], ignore_index=True),
                   pd.concat([s.curves for s in sweeps], ignore_index=True))


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    seeds = [_checks.integer(s, "seeds") for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat a seed, got {seeds}")
    return seeds


def _check_options(options_by_estimator: Mapping[str, Mapping[str, Any]] | None,
                   estimators: list[str]) -> dict[str, dict[str, Any]]:
    extra = dict(options_by_estimator or {})
    unknown = sorted(set(extra) - set(estimators))
    if unknown:
        raise ValueError(f"options_by_estimator names estimators {unknown} that are not in estimators {estimators}")
    return {name: dict(extra.get(name, {})) for name in estimators}


def estimator_sweep(samples: dict[int, torch.Tensor], levels: Sequence[int], estimators: Sequence[str],
                    seeds: Sequence[int], *, source: str = "samples",
                    options_by_estimator: Mapping[str, Mapping[str, Any]] | None = None,
                    **options: Any) -> EstimatorSweep:
    """The n-sweep of :func:`mine_by_level` for every estimator (an ``objective`` of
    :func:`imgleak.mi.mine.estimate_mi`) and seed: one batched :func:`imgleak.mi.mine.estimate_mi_many` run
    per estimator trains the critics of all levels and seeds together.

    ``options`` go to every run, ``options_by_estimator[name]`` to that estimator's only (e.g.
    ``{"infonce": {"critic": "separable"}}``); ``seed`` and ``objective`` are set by ``seeds`` and
    ``estimators``. ``source`` labels the rows (``"pixels"``, an encoder's name).

    >>> pairs = level_patches(uniform_images(2, (3, 16, 16), seed=0), [0, 8], Key.from_seed(0), 4, 40, seed=0)
    >>> sweep = estimator_sweep(pairs, [0, 8], ["mine"], [0, 1], source="pixels", epochs=2, batch_size=16,
    ...                         hidden=8, progress=False)
    >>> sweep.table[["estimator", "n", "seed", "bound", "epoch"]].values.tolist()
    [['mine', 0, 0, 'dv', 2], ['mine', 8, 0, 'dv', 2], ['mine', 0, 1, 'dv', 2], ['mine', 8, 1, 'dv', 2]]
    >>> len(sweep.curves), sweep.table["ceiling_bits"].tolist()
    (8, [inf, inf, inf, inf])
    """
    levels = _check_levels(levels)
    estimators = _checks.names(estimators, "estimators", OBJECTIVES)
    seeds = _check_seeds(seeds)
    extra = _check_options(options_by_estimator, estimators)
    for name in ("seed", "seeds", "objective"):
        if name in options:
            raise ValueError(f"estimator_sweep sets {name!r} itself (from seeds and estimators); do not pass it")
    pairs = _pairs(samples, levels)
    runs, curves = [], []
    for estimator in estimators:
        results = estimate_mi_many(pairs * len(seeds), seeds=[s for s in seeds for _ in levels], objective=estimator,
                                   **{**options, **extra[estimator]})
        for (seed, n), result in zip(product(seeds, levels), results):
            run = {"source": source, "estimator": estimator, "n": n, "seed": seed}
            runs.append({**run, "mi_bits": result.mi_bits, "bound": result.bound, "epoch": result.epoch,
                         "ceiling_bits": result.ceiling_nats / LN2, "diverged": result.diverged})
            curves += [{**run, "epoch": e, "test_bits": v} for e, v in enumerate(result.test_curve_bits, start=1)]
    return EstimatorSweep(pd.DataFrame(runs), pd.DataFrame(curves, columns=[*RUN, "epoch", "test_bits"]))


def seed_summary(table: pd.DataFrame, value: str = "mi_bits", by: Sequence[str] = ("source", "estimator", "n"),
                 confidence: float = 0.95) -> pd.DataFrame:
    """Mean of ``value`` over the rows of each ``by`` group (the seeds) with its Student-t interval.

    Columns: ``by..., mean, sd, seeds, ci_low, ci_high, diverged``, where ``sd`` has ddof 1 and the
    interval is ``mean ± t((1 + confidence) / 2, seeds - 1) · sd / √seeds`` (the two-sided
    t-interval of a mean). ``NaN`` values (runs that diverged) are left out and counted in
    ``diverged``; ``seeds`` counts the others. One seed gives ``NaN`` for ``sd`` and the interval:
    there is no spread to measure.

    >>> t = pd.DataFrame({"n": [0, 0, 0, 4, 4], "v": [1.0, 2.0, 3.0, 5.0, float("nan")]})
    >>> seed_summary(t, "v", ["n"]).round(3).values.tolist()
    [[0.0, 2.0, 1.0, 3.0, -0.484, 4.484, 0.0], [4.0, 5.0, nan, 1.0, nan, nan, 1.0]]
    """
    confidence = _checks.fraction(confidence, "confidence")
    groups = table.groupby(list(by), sort=False)[value]
    out = groups.agg(mean="mean", sd="std", seeds="count", runs="size").reset_index()
    out = out.assign(diverged=out.pop("runs") - out["seeds"])
    seeds = out["seeds"].to_numpy()
    with np.errstate(invalid="ignore"):
        quantile = stats.t.ppf((1 + confidence) / 2, np.where(seeds > 1, seeds - 1, np.nan))
    half = quantile * out["sd"].to_numpy() / np.sqrt(seeds)
    return out.assign(ci_low=out["mean"] - half, ci_high=out["mean"] + half)[
        [*out.columns.drop("diverged"), "ci_low", "ci_high", "diverged"]]


def diverged_runs(sweep: EstimatorSweep) -> pd.DataFrame:
    """The runs of ``sweep`` that diverged: ``source, estimator, n, seed, epoch, diverged`` (empty if none).

    >>> table = pd.DataFrame({"source": "s", "estimator": "mine", "n": [0, 8], "seed": 0, "epoch": [3, 40],
    ...                       "mi_bits": [float("nan"), 0.0], "diverged": ["MINE diverged at epoch 3: ...", None]})
    >>> diverged_runs(EstimatorSweep(table, pd.DataFrame()))[["n", "epoch"]].values.tolist()
    [[0, 3]]
    """
    table = sweep.table
    if "diverged" not in table:
        return table.iloc[:0][RUN].assign(epoch=[], diverged=[])
    return table.loc[table["diverged"].notna(), [*RUN, "epoch", "diverged"]].reset_index(drop=True)


def sweep_summary(sweep: EstimatorSweep, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`seed_summary` of the estimates (bits) per source, estimator and level, with each
    estimator's ``bound`` and ``ceiling_bits`` kept as columns (both are the same for all its runs).

    >>> table = pd.DataFrame({"source": "s", "estimator": "infonce", "n": 0, "seed": [0, 1], "mi_bits": [7.0, 7.5],
    ...                       "bound": "infonce", "epoch": 3, "ceiling_bits": 8.0})
    >>> sweep_summary(EstimatorSweep(table, pd.DataFrame()))[["bound", "ceiling_bits", "mean", "seeds"]].values.tolist()
    [['infonce', 8.0, 7.25, 2]]
    """
    return seed_summary(sweep.table, "mi_bits", ("source", "estimator", "bound", "ceiling_bits", "n"), confidence)


def convergence_table(sweep: EstimatorSweep, fraction: float = 0.9, min_bits: float = 0.1) -> pd.DataFrame:
    """When each run's held-out curve converged: the first epoch whose value reaches ``fraction``
    of the value the run reports.

    One row per run: ``source, estimator, n, seed, mi_bits, converged_epoch``; the epoch is ``NaN``
    where the reported value is below ``min_bits`` (no information to converge to: a curve
    around zero "reaches" 90 % of a tiny or negative value by chance).

    >>> table = pd.DataFrame({"source": "s", "estimator": "mine", "n": [0, 8], "seed": 0, "mi_bits": [2.0, 0.01]})
    >>> curves = pd.DataFrame({"source": "s", "estimator": "mine", "n": [0, 0, 0, 8, 8, 8], "seed": 0,
    ...                        "epoch": [1, 2, 3, 1, 2, 3], "test_bits": [0.5, 1.9, 2.0, 0.0, 0.02, 0.01]})
    >>> convergence_table(EstimatorSweep(table, curves))["converged_epoch"].tolist()
    [2.0, nan]
    """
    fraction = _checks.fraction(fraction, "fraction")
    min_bits = _checks.number(min_bits, "min_bits", positive=True)
    runs = sweep.table[RUN + ["mi_bits"]]
    curves = sweep.curves.merge(runs, on=RUN)
    reached = curves[curves["test_bits"] >= fraction * curves["mi_bits"]]
    first = reached.groupby(RUN, sort=False)["epoch"].min().rename("converged_epoch").reset_index()
    out = runs.merge(first, on=RUN, how="left")
    out["converged_epoch"] = out["converged_epoch"].where(out["mi_bits"] >= min_bits).astype(float)
    return out


def _linearity_findings(table: pd.DataFrame, r2_threshold: float) -> list[Finding]:
    out = []
    for (source, estimator), part in table.groupby(["source", "estimator"], sort=False):
        fit = linearity(part, "mi_bits")
        holds = None if math.isnan(fit["r2"]) else fit["r2"] < r2_threshold
        out.append(Finding("linearity", {"source": source, "estimator": estimator, **fit,
                                         "r2_threshold": r2_threshold}, holds=holds))
    return out


def _convergence_findings(sweep: EstimatorSweep, pixels: str, fraction: float, min_bits: float,
                          confidence: float) -> list[Finding]:
    runs = convergence_table(sweep, fraction, min_bits)
    per_seed = runs.groupby(["source", "estimator", "seed"], sort=False)["converged_epoch"].mean().reset_index()
    summary = seed_summary(per_seed.dropna(), "converged_epoch", ("source", "estimator"), confidence)
    summary = summary.set_index(["source", "estimator"])
    out = []
    for estimator, part in sweep.table.groupby("estimator", sort=False):
        sources = list(dict.fromkeys(part["source"]))
        known = {s: (s, estimator) in summary.index for s in sources}
        epochs = {s: float(summary.loc[(s, estimator), "mean"]) if known[s] else math.nan for s in sources}
        ci = {s: tuple(float(summary.loc[(s, estimator), c]) for c in ("ci_low", "ci_high")) if known[s]
              else (math.nan, math.nan) for s in sources}
        others = [s for s in sources if s != pixels]
        faster = tuple(s for s in others if epochs[s] < epochs[pixels])
        holds = len(faster) == len(others) if all(known.values()) and others else None
        out.append(Finding("convergence", {"estimator": estimator, "fraction": fraction, "min_bits": min_bits,
                                           "pixels": pixels, "epochs": epochs, "ci": ci, "faster": faster},
                           holds=holds))
    return out


def _ceiling_findings(summary: pd.DataFrame, ceiling_fraction: float) -> list[Finding]:
    out = []
    for (source, estimator, ceiling), part in summary.groupby(["source", "estimator", "ceiling_bits"], sort=False):
        binding = tuple(int(n) for n in part.loc[part["mean"] >= ceiling_fraction * ceiling, "n"])
        if math.isfinite(ceiling) and binding:
            out.append(Finding("ceiling", {"source": source, "estimator": estimator, "ceiling_bits": float(ceiling),
                                           "levels": binding}))
    return out


def _survival(claims: list[Finding], key: str | None) -> list[Finding]:
    """One "survives" finding per value of ``numbers[key]`` (or one in all) over the estimators' ``claims``."""
    groups: dict[Any, dict[str, bool | None]] = {}
    for f in claims:
        groups.setdefault(f.numbers[key] if key else None, {})[f.numbers["estimator"]] = f.holds
    out = []
    for source, verdicts in groups.items():
        known = None not in verdicts.values()
        out.append(Finding("survives", {"claim": claims[0].kind, "source": source, "verdicts": verdicts,
                                        "agree": known and len(set(verdicts.values())) == 1},
                           holds=all(verdicts.values()) if known else None))
    return out


def estimator_findings(sweep: EstimatorSweep, *, pixels: str = "pixels", r2_threshold: float = 0.95,
                       fraction: float = 0.9, min_bits: float = 0.1, ceiling_fraction: float = 0.9,
                       confidence: float = 0.95) -> list[Finding]:
    """The paper's two claims ("MI is not linear in n", "embeddings converge faster than pixels")
    checked for every estimator of ``sweep``, whether each survives a change of estimator, and
    where a ceiling binds; the kinds and their numbers are listed in the module docstring.

    ``pixels`` names the source the embeddings are compared with; ``r2_threshold`` the R² below
    which a sweep is "not linear"; ``fraction`` and ``min_bits`` define convergence (see
    :func:`convergence_table`); ``ceiling_fraction`` the share of its ceiling at which a bound
    binds; ``confidence`` the level of the intervals across seeds.

    >>> table = pd.DataFrame({"source": "pixels", "estimator": "mine", "n": [0, 4, 8], "seed": 0,
    ...                       "mi_bits": [3.0, 0.5, 0.0], "bound": "dv", "epoch": 2, "ceiling_bits": math.inf})
    >>> [(f.kind, f.holds) for f in estimator_findings(EstimatorSweep(table, pd.DataFrame(columns=RUN + [
    ...     "epoch", "test_bits"])))]
    [('linearity', True), ('convergence', None), ('survives', True), ('survives', None)]
    """
    r2_threshold = _checks.fraction(r2_threshold, "r2_threshold")
    ceiling_fraction = _checks.fraction(ceiling_fraction, "ceiling_fraction")
    if pixels not in set(sweep.table["source"]):
        raise ValueError(f"pixels must name a source of the sweep {sorted(set(sweep.table['source']))}, got {pixels!r}")
    converged = sweep.table["mi_bits"].notna()  # runs that diverged have nothing to say (the chapter lists them)
    sweep = EstimatorSweep(sweep.table[converged], sweep.curves.merge(sweep.table.loc[converged, RUN], on=RUN))
    linear = _linearity_findings(sweep.table, r2_threshold)
    converge = _convergence_findings(sweep, pixels, fraction, min_bits, confidence)
    ceilings = _ceiling_findings(sweep_summary(sweep, confidence), ceiling_fraction)
    return linear + converge + ceilings + _survival(linear, "source") + _survival(converge, None)
