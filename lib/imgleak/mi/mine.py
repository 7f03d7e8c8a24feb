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
from typing import Any

import torch

from imgleak._checks import boolean
from imgleak._checks import seed as checked_seed

from .config import (CRITICS, DIVERGED_BELOW_NATS, LN2, LR_SCHEDULES, OBJECTIVES, NeuralMIConfig,
                     NeuralMIDivergenceError, NeuralMIResult)
from .critics import ACTIVATIONS, StatisticsNetwork
from .ensemble import train_ensemble

__all__ = [
    "ACTIVATIONS",
    "CRITICS",
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
    *,
    objective: str = "mine",
    critic: str = "joint",
    clip: float = 5.0,
    early_stopping: int | None = None,
    embedding: int = 32,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 1e-3,
    lr_schedule: str = "cosine",
    hidden: int = 256,
    layers: int = 2,
    activation: str = "elu",
    ema_decay: float = 0.99,
    test_fraction: float = 0.2,
    test_shuffles: int = 10,
    standardize: bool = True,
    ranks: bool = False,
    seed: int | None = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> NeuralMIResult:
    """Estimate ``I(X; Y)`` in nats and bits from paired samples with MINE or another neural bound.

    Parameters
    ----------
    x, y
        Paired samples ``(N, dx)`` and ``(N, dy)`` (1-D: ``(N, 1)``), tensors or array-likes;
        ``uint8`` is scaled to ``[0, 1]``, all is computed in ``float32``.
    objective
        A name of :data:`~imgleak.mi.bounds.OBJECTIVES` (``"mine"``, ``"dv"``, ``"nwj"``, ``"smile"``,
        ``"infonce"``), whose entry says how it trains and which bound it reports (``result.bound``).
    critic
        ``"joint"`` (an MLP on ``[x, y]``) or ``"separable"`` (``g(x)^T h(y)``: every pair of a batch
        in one matrix product; :mod:`imgleak.mi.critics`).
    clip, embedding
        SMILE's ``tau`` (``exp T`` clipped to ``[e^-clip, e^clip]`` in the partition term; ``"smile"``
        only) and the output dimension of the separable critic's ``g`` and ``h``.
    early_stopping
        ``None`` (train all ``epochs``) or a patience: stop once the held-out bound has not
        improved for that many epochs and report the best epoch's value (``NeuralMIResult.epoch``).
    epochs, batch_size, lr
        Passes over the training pairs, minibatch size (capped at the training pairs; an incomplete
        last batch is dropped, the pairs are reshuffled every epoch) and Adam's learning rate.
    lr_schedule
        ``"cosine"`` from ``lr`` to ``lr / 100`` (a stable last-epoch value) or ``"constant"``.
    hidden, layers, activation
        Width, hidden layers and activation (``"elu"``, ``"relu"``) of ``T``; the defaults (2 x 256
        ELU, Adam 1e-3, batch 256, EMA 0.99) are the reference's for embeddings.
    ema_decay
        Weight on the old value of MINE's moving average (``0.99`` = gtegner's ``alpha = 0.01``).
    test_fraction, test_shuffles, standardize
        Share of the pairs held out (a seeded random split) and the number of fixed random
        derangements of held-out ``y`` for the held-out marginal term. ``standardize``: z-score each
        feature with the training split's statistics (MI is unchanged).
    ranks
        Normal scores per feature, fitted on the training split, before ``standardize`` (MI is
        invariant; :func:`~imgleak.mi.ensemble.normal_scores`). For continuous inputs: on the ground
        truth (``bench/README.md``) it removed every heavy-tail miss, but hurt integer-valued data.
    seed
        Seeds the split, the batches, the shuffles and the network's initialisation (an int;
        ``None`` draws one and records it in ``settings``). The global torch RNG is untouched.
    device, progress
        ``None``: ``x``'s device if a tensor, else CPU; ``"auto"``: CUDA when available; or any
        torch device. ``progress``: a tqdm bar over epochs.

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
    options = dict(objective=objective, critic=critic, clip=clip, early_stopping=early_stopping, embedding=embedding,
                   epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule, hidden=hidden, layers=layers,
                   activation=activation, ema_decay=ema_decay, test_fraction=test_fraction, test_shuffles=test_shuffles,
                   standardize=standardize, ranks=ranks)
    return _estimate([(x, y)], _pairs([(x, y)], single=True), [seed], device, progress, options, single=True)[0]


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


def _seeds(seeds: Any, count: int) -> list[int | None]:
    """One seed per pair: an int (or ``None``, drawn once) for all, or a sequence of ``count``."""
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        if len(seeds) != count:
            raise ValueError(f"seeds must be one seed or one per pair ({count}), got {len(seeds)}")
        return list(seeds)
    return [checked_seed(seeds, "seeds")] * count


def estimate_mi_many(
    pairs: Sequence[tuple[Any, Any]],
    *,
    seeds: int | None | Sequence[int] = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    **options: Any,
) -> list[NeuralMIResult]:
    """Estimate the MI of many pairs at once: one critic per pair, all trained as one batched ensemble.

    ``pairs`` is a sequence of ``(x, y)`` with the same ``N`` and the same dimensions (e.g. one
    original and its clear part at every level of a sweep); ``seeds`` an int (the same for
    every pair; ``None`` draws one) or one per pair; ``options`` are :func:`estimate_mi`'s
    (``objective``, ``critic``, ``epochs``, ...). Result ``k`` equals
    ``estimate_mi(*pairs[k], seed=seeds[k], **options)`` bit for bit on the CPU (``seconds``,
    the ensemble's wall time, aside); on CUDA, to float32 rounding (the batched kernels may round
    differently). When every pair has the same ``x`` object and the same seed, ``x`` is shared:
    its batches are gathered once and projected by every critic in one matrix product.
    A pair whose run diverges does not raise: its result has ``diverged`` (the message, naming
    the pair and the epoch) and ``mi_nats`` NaN, and the other pairs' results are unchanged.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 2, generator=g)
    >>> noisy = [x + s * torch.randn(200, 2, generator=g) for s in (0.5, 2.0)]
    >>> many = estimate_mi_many([(x, y) for y in noisy], epochs=2, hidden=16, progress=False)
    >>> one = estimate_mi(x, noisy[1], epochs=2, hidden=16, progress=False)
    >>> many[1].test_curve == one.test_curve
    True
    """
    if "seed" in options:
        raise TypeError("estimate_mi_many takes seeds= (one seed for every pair, or one per pair), not seed=; "
                        f"got seed={options['seed']!r}")
    samples = _pairs(pairs, single=False)
    return _estimate(pairs, samples, _seeds(seeds, len(samples)), device, progress, options)


def _estimate(pairs: Sequence[tuple[Any, Any]], samples: list[tuple[torch.Tensor, torch.Tensor]],
              seeds: list[int | None], device: Any, progress: bool, options: dict[str, Any],
              single: bool = False) -> list[NeuralMIResult]:
    """The ensemble's results; ``single`` (one pair asked for) raises :class:`NeuralMIDivergenceError` if it diverged."""
    if device is None:
        first = pairs[0][0]
        device = first.device if isinstance(first, torch.Tensor) else torch.device("cpu")
    n, dim_x, dim_y = samples[0][0].shape[0], samples[0][0].shape[1], samples[0][1].shape[1]
    configs = [NeuralMIConfig(seed=seed, device=device, dim_x=dim_x, dim_y=dim_y, n=n, **options) for seed in seeds]
    results = train_ensemble(configs, samples, boolean(progress, "progress"))
    if single and results[0].diverged is not None:
        raise NeuralMIDivergenceError(results[0].diverged)
    return results
