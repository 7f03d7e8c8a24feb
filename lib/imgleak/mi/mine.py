"""Neural mutual-information estimation for paired vectors: MINE (Belghazi et al., ICML 2018) and
the other variational bounds (NWJ, SMILE, InfoNCE), one run or a batched ensemble of runs.

Given N paired samples ``x`` (N, dx) and ``y`` (N, dy), a critic ``T(x, y)`` is trained to
maximise a variational lower bound on ``I(X; Y) = KL(P_XY || P_X P_Y)``, and the bound is reported
on held-out pairs (:class:`~imgleak.mi.config.NeuralMIResult`). Where each part lives:

* the objectives (``objective=``), one entry each beside their bounds' formulas:
  :data:`imgleak.mi.bounds.OBJECTIVES`;
* the critics (``critic="joint"``, an MLP on ``[x, y]``, or ``"separable"``, ``g(x)^T h(y)``):
  :mod:`imgleak.mi.critics`;
* the training loop, the split and its standardisation (z-scores or ``ranks``), the held-out
  evaluation, early stopping and divergence: :mod:`imgleak.mi.ensemble`;
* the checked settings and the result: :mod:`imgleak.mi.config`.

:func:`estimate_mi_many` trains the critics of many pairs (levels of a sweep, seeds) as one batched
ensemble; each result equals :func:`estimate_mi`'s on its pair with its seed, bit for bit on the
CPU; :func:`estimate_mi` is an ensemble of one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from imgleak._checks import boolean
from imgleak.training.run_settings import configured, run_seed

from .config import (CRITICS, DIVERGED_BELOW_NATS, LN2, LR_SCHEDULES, OBJECTIVES, NeuralMIConfig,
                     NeuralMIDivergenceError, NeuralMIResult)
from .critics import ACTIVATIONS, StatisticsNetwork
from .ensemble import train_ensemble

__all__ = [
    "ACTIVATIONS",
    "CRITICS",
    "DEFAULT_CONFIG",
    "DIVERGED_BELOW_NATS",
    "LN2",
    "LR_SCHEDULES",
    "NeuralMIConfig",
    "NeuralMIDivergenceError",
    "NeuralMIResult",
    "OBJECTIVES",
    "StatisticsNetwork",
    "estimate_mi",
    "estimate_mi_many",
]


DEFAULT_CONFIG = NeuralMIConfig()
"""The default settings of :func:`estimate_mi` and :func:`estimate_mi_many`."""


def _as_samples(value: Any, name: str) -> torch.Tensor:
    """``value`` as a 2-D floating tensor ``(N, d)``; 1-D becomes ``(N, 1)``; uint8 is scaled to [0, 1]."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        try:
            tensor = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"{name} must be a tensor or array-like of numbers shaped (N, d) or (N,), "
                f"got {type(value).__name__}"
            ) from err
    if tensor.dtype.is_complex:
        raise TypeError(f"{name} must hold real numbers, got {tensor.dtype}")
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.dim() != 2:
        raise ValueError(
            f"{name} must be shaped (N, d) or (N,), got {tuple(tensor.shape)}; "
            f"flatten samples first, e.g. {name}.flatten(1)"
        )
    if tensor.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {tuple(tensor.shape)})")
    if tensor.dtype == torch.uint8:
        tensor = tensor.to(torch.float32) / 255.0
    else:
        tensor = tensor.to(torch.float32)
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return tensor


def estimate_mi(
    x: Any,
    y: Any,
    config: NeuralMIConfig = DEFAULT_CONFIG,
    *,
    progress: bool = True,
    **overrides: Any,
) -> NeuralMIResult:
    """Estimate ``I(X; Y)`` in nats and bits from paired samples with MINE or another neural bound.

    Parameters
    ----------
    x, y
        Paired samples ``(N, dx)`` and ``(N, dy)`` (1-D: ``(N, 1)``), tensors or array-likes;
        ``uint8`` is scaled to ``[0, 1]``, all is computed in ``float32``.
    config, overrides
        The settings (:class:`~imgleak.mi.config.NeuralMIConfig`, where each is described: the
        objective, the critic, the schedule, the split, the seed, the device), with any keyword
        ``overrides`` of its fields applied.
    progress
        A tqdm bar over epochs.

    Raises
    ------
    TypeError, ValueError
        Bad inputs or settings (the message names the argument).
    NeuralMIDivergenceError
        (a ``FloatingPointError`` and a ``ValueError``) when training diverges (the message gives
        the epoch and suggests a lower learning rate).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g)
    >>> y = x + 0.5 * torch.randn(200, 2, generator=g)  # true I(X; Y) = ln 5 = 1.61 nats
    >>> result = estimate_mi(x, y, epochs=3, batch_size=64, hidden=16, progress=False)
    >>> result.n_train, result.n_test, len(result.test_curve), result.settings["batches_per_epoch"]
    (160, 40, 3, 2)
    >>> math.isfinite(result.mi_nats) and math.isclose(result.mi_bits, result.mi_nats / math.log(2))
    True
    >>> again = estimate_mi(x, y, epochs=3, batch_size=64, hidden=16, progress=False)  # seed=0 again
    >>> again.mi_nats == result.mi_nats
    True
    >>> nce = estimate_mi(x, y, objective="infonce", critic="separable", epochs=2, batch_size=32, hidden=16,
    ...                   progress=False)
    >>> nce.bound, round(nce.ceiling_nats, 3), nce.epoch  # at most log 32 nats
    ('infonce', 3.466, 2)
    """
    samples = _pairs([(x, y)], single=True)
    config = configured(config, NeuralMIConfig, overrides)
    return _estimate(x, samples, [config], progress, single=True)[0]


def _pairs(pairs: Any, single: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The pairs as float32 ``(N, d)`` tensors; one object given twice is converted once (and stays one)."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
        raise ValueError(f"pairs must be a non-empty sequence of (x, y) pairs, got {type(pairs).__name__}")
    converted: dict[int, torch.Tensor] = {}
    out = []
    for k, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"pairs[{k}] must be an (x, y) pair, got {type(pair).__name__}")
        names = ("x", "y") if single else (f"pairs[{k}] x", f"pairs[{k}] y")
        for value, name in zip(pair, names):
            if id(value) not in converted:
                converted[id(value)] = _as_samples(value, name)
        xs, ys = converted[id(pair[0])], converted[id(pair[1])]
        if ys.shape[0] != xs.shape[0]:
            raise ValueError(f"{names[0]} and {names[1]} must have the same number of samples (rows), "
                             f"got {xs.shape[0]} and {ys.shape[0]}")
        if out and (xs.shape, ys.shape) != (out[0][0].shape, out[0][1].shape):
            raise ValueError(f"every pair must have the shapes of pairs[0], {tuple(out[0][0].shape)} and "
                             f"{tuple(out[0][1].shape)}; pairs[{k}] has {tuple(xs.shape)} and {tuple(ys.shape)}")
        out.append((xs, ys))
    return out


def _seeds(seeds: Any, count: int) -> list[Any]:
    """One seed per pair: an int for all, or a sequence of ``count`` (``None`` entries are drawn)."""
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        if len(seeds) != count:
            raise ValueError(f"seeds must be one seed or one per pair ({count}), got {len(seeds)}")
        return list(seeds)
    return [run_seed(seeds, "seeds")] * count


def estimate_mi_many(
    pairs: Sequence[tuple[Any, Any]],
    config: NeuralMIConfig = DEFAULT_CONFIG,
    *,
    seeds: int | Sequence[int | None] | None = None,
    progress: bool = True,
    **overrides: Any,
) -> list[NeuralMIResult]:
    """Estimate the MI of many pairs at once: one critic per pair, all trained as one batched ensemble.

    ``pairs`` is a sequence of ``(x, y)`` with the same ``N`` and the same dimensions (e.g. one
    original and its clear part at every level of a sweep); ``config`` and ``overrides`` are
    :func:`estimate_mi`'s (``objective``, ``critic``, ``epochs``, ...), the config's ``seed`` seeding
    every pair (``seed=None`` draws one for all); ``seeds``, when given, replaces it: an int for every
    pair, or one seed per pair. Result ``k`` equals ``estimate_mi(*pairs[k], config, seed=seeds[k])`` bit
    for bit on the CPU (``seconds``, the ensemble's wall time, aside); on CUDA, to float32 rounding
    (the batched kernels may round differently). When every pair has the same ``x`` object and the
    same seed, ``x`` is shared: its batches are gathered once and projected by every critic in one
    matrix product. A pair whose run diverges does not raise: its result has ``diverged`` (the
    message, naming the pair and the epoch) and ``mi_nats`` NaN, and the other pairs' results are
    unchanged.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g)
    >>> noisy = [x + s * torch.randn(200, 2, generator=g) for s in (0.5, 2.0)]
    >>> many = estimate_mi_many([(x, y) for y in noisy], epochs=2, hidden=16, progress=False)
    >>> one = estimate_mi(x, noisy[1], epochs=2, hidden=16, progress=False)
    >>> many[1].test_curve == one.test_curve
    True
    """
    if "seed" in overrides and seeds is not None:
        raise TypeError("give seed= (every pair) or seeds= (one seed for every pair, or one per pair), not both; "
                        f"got seed={overrides['seed']!r} and seeds={seeds!r}")
    samples = _pairs(pairs, single=False)
    config = configured(config, NeuralMIConfig, overrides)
    per_pair = [config.seed] * len(samples) if seeds is None else _seeds(seeds, len(samples))
    return _estimate(pairs[0][0], samples, [replace(config, seed=seed) for seed in per_pair], progress)


def _estimate(first: Any, samples: list[tuple[torch.Tensor, torch.Tensor]], configs: list[NeuralMIConfig],
              progress: bool, single: bool = False) -> list[NeuralMIResult]:
    """The ensemble's results (``configs`` filled for the data: on ``first``'s device when they name
    none); ``single`` (one pair asked for) raises :class:`NeuralMIDivergenceError` if it diverged."""
    device = first.device if isinstance(first, torch.Tensor) else torch.device("cpu")
    n, dim_x, dim_y = samples[0][0].shape[0], samples[0][0].shape[1], samples[0][1].shape[1]
    configs = [c.for_data(n=n, dim_x=dim_x, dim_y=dim_y, device=device) for c in configs]
    results = train_ensemble(configs, samples, boolean(progress, "progress"))
    if single and results[0].diverged is not None:
        raise NeuralMIDivergenceError(results[0].diverged)
    return results
