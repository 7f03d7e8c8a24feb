"""MINE: mutual information neural estimation (Belghazi et al., ICML 2018) for paired vectors.

Given N paired samples ``x`` (N, dx) and ``y`` (N, dy), a statistics network ``T(x, y)`` is
trained to maximise a variational lower bound on ``I(X; Y) = KL(P_XY || P_X P_Y)``:

* Donsker-Varadhan (DV): ``E_P[T] - log E_Q[exp T]``;
* f-divergence / NWJ ("MINE-f"): ``E_P[T] - E_Q[exp(T - 1)]`` (looser, unbiased minibatch gradient).

``P`` is the joint distribution (the pairs as given) and ``Q = P_X P_Y`` the product of the
marginals, sampled by shuffling ``y`` inside each minibatch (a random derangement, so no pair
is kept by accident).

Objectives (``objective=``)

``"mine"`` (default)
    The DV bound trained with the moving-average **bias-corrected gradient** of the MINE paper
    (Sec. 3.2). The minibatch gradient of ``log mean(exp T_marg)`` is
    ``mean(exp(T_marg) grad T_marg) / mean(exp T_marg)``, biased because the denominator is a
    minibatch mean; MINE replaces that denominator by an exponential moving average (EMA)::

        m   = mean_batch(exp(T_marg))                       # detached
        ema = m                                  on the first step
        ema = ema_decay * ema + (1 - ema_decay) * m          afterwards (ema_decay = 0.99)
        surrogate = mean(T_joint) - mean(exp(T_marg)) / ema  # maximised; its gradient is
                  # E[grad T_joint] - E[exp(T_marg) grad T_marg] / ema

    ``ema_decay`` is the weight kept on the **old** average. gtegner/mine-pytorch (and other
    common re-implementations with ``ma_rate = 0.01``) write the same recursion with a rate ``alpha = 0.01`` on
    the **new** batch, ``ema = alpha * m + (1 - alpha) * ema``: our default ``ema_decay=0.99``
    is numerically identical to their ``alpha=0.01`` (``ema_decay = 1 - alpha``). BMI, SMILE
    and torch-mist keep 0.9 on the old value, i.e. ``ema_decay=0.9`` here (a shorter memory of
    about 10 batches instead of 100). The EMA is held in the log domain
    (``log_ema = logaddexp(log(decay) + log_ema, log(1 - decay) + log m)``, with ``log m`` from
    ``logsumexp``) so ``exp(T)`` is never formed outside ``exp(T_marg - log_ema)``.
``"mine_f"``
    Maximises ``mean(T_joint) - mean(exp(T_marg - 1))`` directly (no EMA).
``"dv"``
    Maximises the plain minibatch DV bound (biased gradient, no EMA) - for comparison.

What is reported, whatever the objective: the **DV bound**, in nats and bits.

* ``train_curve[e]``: the mean over epoch ``e``'s minibatches of the minibatch DV bound (the
  training estimate, optimistic because the network is fitted on those pairs);
* ``test_curve[e]``: the DV bound on the held-out pairs after epoch ``e``, with the marginal
  term ``log mean exp T(x_i, y_j)`` over ``test_shuffles`` fixed random derangements of the
  held-out ``y`` (the same ones every epoch), computed with ``logsumexp``;
* ``mi_nats`` / ``mi_bits``: the last ``test_curve`` value - the plain DV bound on held-out data.

Training uses Adam with a cosine learning-rate decay from ``lr`` to ``lr / 100``
(``lr_schedule="cosine"``), which makes the reported last-epoch value stable.

Divergence: the run stops with :class:`MineDivergenceError` (a ``FloatingPointError`` and a
``ValueError``) naming the epoch and suggesting a lower learning rate when an epoch's training
loss or estimate, or the held-out estimate, is NaN or infinite, or when the epoch's training DV
estimate falls below ``DIVERGED_BELOW_NATS`` (-5 nats): a constant ``T`` already scores 0, so a
network far below zero has exploded (all sums are ``logsumexp``-stable, so a too-large learning
rate shows up as absurd negative values rather than as ``inf``). Finiteness is checked once per
epoch (one device synchronisation per epoch, not per step).

A lower bound estimated from samples can be slightly **negative** when the true MI is zero:
that is normal (the held-out DV of an independent pair fluctuates around, and slightly below,
zero), not a bug.

Statistics network (:class:`StatisticsNetwork`): an MLP on the concatenation ``[x, y]`` with
``layers`` hidden layers of width ``hidden`` and ELU activations (``activation="relu"`` is the
alternative; ELU is smooth, which suits the smooth log-density-ratio that ``T`` has to learn,
and does not leave dead units). The first layer is split as ``W [x, y] = W_x x + W_y y``, which
is the same function, so the joint and the shuffled pairs share the ``x`` (and ``y``)
projections: one matmul per input per batch instead of two.

Inputs are standardised per feature with the training split's mean and standard deviation
(``standardize=True``); an invertible per-feature affine map leaves the MI unchanged and keeps
Adam's step size meaningful for pixels, embeddings and Gaussians alike. ``uint8`` inputs are
first scaled to ``[0, 1]``; everything is computed in ``float32``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from imgleak._checks import boolean, choice, fraction, non_negative_int, number, positive_int
from imgleak._checks import seed as checked_seed
from imgleak.results import Result
from imgleak.tensors import resolve_device
from imgleak.training.seeding import seeded_training

OBJECTIVES = ("mine", "mine_f", "dv")
LR_SCHEDULES = ("cosine", "constant")
FINAL_LR_FACTOR = 0.01  # the cosine schedule ends at lr * FINAL_LR_FACTOR
# A working network never drives the training DV bound far below zero (a constant T gives 0);
# an epoch mean below this is a diverged run whose scores T exploded.
DIVERGED_BELOW_NATS = -5.0
ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU}
LN2 = math.log(2.0)

__all__ = [
    "ACTIVATIONS",
    "DIVERGED_BELOW_NATS",
    "LR_SCHEDULES",
    "MineConfig",
    "MineDivergenceError",
    "MineResult",
    "OBJECTIVES",
    "StatisticsNetwork",
    "estimate_mi",
]


class MineDivergenceError(FloatingPointError, ValueError):
    """Training diverged: a loss or an estimate became NaN or infinite (the message gives the epoch)."""


class StatisticsNetwork(nn.Module):
    """``T(x, y)``: an MLP on ``[x, y]`` with ``layers`` hidden layers of ``hidden`` units.

    ``forward(x, y)`` returns one score per row, shape ``(N,)``. The first linear layer is
    stored as two blocks (``input_x`` for ``x``, ``input_y`` for ``y``, initialised like a
    single ``nn.Linear(dx + dy, hidden)``) so :meth:`joint_and_marginal` can reuse the
    projections for the shuffled pairs.

    >>> net = StatisticsNetwork(dim_x=3, dim_y=2, hidden=8)
    >>> x, y = torch.rand(5, 3), torch.rand(5, 2)
    >>> net(x, y).shape
    torch.Size([5])
    >>> joint, marginal = net.joint_and_marginal(x, y, torch.tensor([1, 2, 3, 4, 0]))
    >>> torch.allclose(joint, net(x, y)), torch.allclose(marginal, net(x, y[[1, 2, 3, 4, 0]]))
    (True, True)
    """

    def __init__(
        self, dim_x: int, dim_y: int, hidden: int = 256, layers: int = 2, activation: str = "elu"
    ) -> None:
        super().__init__()
        for name, value in (("dim_x", dim_x), ("dim_y", dim_y), ("hidden", hidden), ("layers", layers)):
            positive_int(value, name)
        choice(activation, "activation", tuple(ACTIVATIONS))
        self.input_x = nn.Linear(dim_x, hidden)
        self.input_y = nn.Linear(dim_y, hidden, bias=False)
        bound = 1.0 / math.sqrt(dim_x + dim_y)  # what nn.Linear(dim_x + dim_y, hidden) would use
        with torch.no_grad():
            for tensor in (self.input_x.weight, self.input_x.bias, self.input_y.weight):
                tensor.uniform_(-bound, bound)
        body: list[nn.Module] = []
        for _ in range(layers - 1):
            body += [ACTIVATIONS[activation](), nn.Linear(hidden, hidden)]
        body += [ACTIVATIONS[activation](), nn.Linear(hidden, 1)]
        self.body = nn.Sequential(*body)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(self.input_x(x) + self.input_y(y)).squeeze(-1)

    def joint_and_marginal(
        self, x: torch.Tensor, y: torch.Tensor, marginal_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of the pairs ``(x_i, y_i)`` and of the shuffled pairs ``(x_i, y_index[i])``."""
        hx, hy = self.input_x(x), self.input_y(y)
        scores = self.body(torch.cat([hx + hy, hx + hy[marginal_index]])).squeeze(-1)
        return scores[: x.shape[0]], scores[x.shape[0]:]


@dataclass
class MineResult(Result):
    """What :func:`estimate_mi` measured, and the settings that produced it.

    ``mi_nats``/``mi_bits``: the DV bound on the held-out pairs after the last epoch.
    ``train_curve``/``test_curve``: per-epoch DV estimates in nats (minibatch mean on the
    training pairs; held-out DV). ``n_train``/``n_test``: sizes of the split.

    >>> result = MineResult(mi_nats=math.log(2), mi_bits=1.0, train_curve=[math.log(4)],
    ...                     test_curve=[math.log(2)], settings={}, n_train=8, n_test=2)
    >>> result.train_curve_bits, result.test_curve_bits
    ([2.0], [1.0])
    >>> list(result.to_dataframe().columns)
    ['epoch', 'train_nats', 'test_nats', 'train_bits', 'test_bits', 'objective']
    >>> result.to_dict()["n_train"]
    8
    """

    mi_nats: float
    mi_bits: float
    train_curve: list[float]
    test_curve: list[float]
    settings: dict[str, Any]
    n_train: int
    n_test: int
    seconds: float = 0.0
    objective_curve: list[float] = field(default_factory=list)

    @property
    def train_curve_bits(self) -> list[float]:
        return [v / LN2 for v in self.train_curve]

    @property
    def test_curve_bits(self) -> list[float]:
        return [v / LN2 for v in self.test_curve]

    def to_dataframe(self):
        """One row per epoch: ``epoch, train_nats, test_nats, train_bits, test_bits, objective``."""
        import pandas as pd

        return pd.DataFrame(
            {
                "epoch": range(1, len(self.test_curve) + 1),
                "train_nats": self.train_curve,
                "test_nats": self.test_curve,
                "train_bits": self.train_curve_bits,
                "test_bits": self.test_curve_bits,
                "objective": self.objective_curve or [float("nan")] * len(self.test_curve),
            }
        )


@dataclass(frozen=True, kw_only=True)
class MineConfig:
    """The checked settings of one :func:`estimate_mi` run; ``asdict()`` is ``MineResult.settings``.

    The arguments are those of :func:`estimate_mi` plus the data's shape (``dim_x``, ``dim_y``,
    ``n`` pairs). ``seed=None`` draws a seed, ``device`` is resolved and kept as a string, and
    ``effective_batch_size`` (``batch_size`` capped at the training pairs) and
    ``batches_per_epoch`` are derived. A bad value raises a ``TypeError``/``ValueError`` naming it.

    >>> config = MineConfig(batch_size=512, dim_x=2, dim_y=3, n=1000)
    >>> config.n_train, config.n_test, config.effective_batch_size, config.batches_per_epoch
    (800, 200, 512, 1)
    >>> MineConfig(ema_decay=1.0, dim_x=2, dim_y=3, n=1000)
    Traceback (most recent call last):
    ...
    ValueError: ema_decay must be a number in [0, 1), got 1.0
    """

    objective: str = "mine"
    epochs: int = 100
    batch_size: int = 256
    effective_batch_size: int = field(init=False)
    batches_per_epoch: int = field(init=False)
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    hidden: int = 256
    layers: int = 2
    activation: str = "elu"
    ema_decay: float = 0.99
    test_fraction: float = 0.2
    test_shuffles: int = 10
    standardize: bool = True
    seed: int | None = 0
    device: str | torch.device = "cpu"
    dim_x: int
    dim_y: int
    n: int
    optimizer: str = field(default="Adam", init=False)

    def __post_init__(self) -> None:
        checked = {
            "objective": choice(self.objective, "objective", OBJECTIVES),
            "epochs": positive_int(self.epochs, "epochs"),
            "batch_size": positive_int(self.batch_size, "batch_size"),
            "lr": number(self.lr, "lr", positive=True),
            "lr_schedule": choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES),
            "hidden": positive_int(self.hidden, "hidden"),
            "layers": positive_int(self.layers, "layers"),
            "activation": choice(self.activation, "activation", tuple(ACTIVATIONS)),
            "ema_decay": fraction(self.ema_decay, "ema_decay", zero=True),
            "test_fraction": fraction(self.test_fraction, "test_fraction"),
            "test_shuffles": positive_int(self.test_shuffles, "test_shuffles"),
            "standardize": boolean(self.standardize, "standardize"),
            "seed": _seed(self.seed),
            "device": str(resolve_device(self.device)),
            "dim_x": positive_int(self.dim_x, "dim_x"),
            "dim_y": positive_int(self.dim_y, "dim_y"),
            "n": non_negative_int(self.n, "n"),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        if self.n_test < 2 or self.n_train < 2:
            raise ValueError(
                f"too few samples: N={self.n} with test_fraction={self.test_fraction} gives {self.n_train} "
                f"training and {self.n_test} held-out pairs; both need at least 2 (give more pairs or change "
                "test_fraction)"
            )
        batch = min(self.batch_size, self.n_train)
        object.__setattr__(self, "effective_batch_size", batch)
        object.__setattr__(self, "batches_per_epoch", self.n_train // batch)

    @property
    def n_test(self) -> int:
        """Held-out pairs: ``round(n * test_fraction)``."""
        return int(round(self.n * self.test_fraction))

    @property
    def n_train(self) -> int:
        """Training pairs: the rest."""
        return self.n - self.n_test


def _seed(value: Any) -> int:
    """A seed in ``[0, 2**63)``; ``None`` draws one from the operating system."""
    value = checked_seed(value)
    if not 0 <= value < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {value}")
    return value


# ----------------------------------------------------------------------------------------- helpers


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


def _derangement_rows(rows: int, size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``rows`` random derangements of ``range(size)`` (no fixed point when size > 1): ``(rows, size)``.

    A random order ``p`` is read as one cycle, ``p[i] -> p[i + 1]``: a uniformly random
    ``size``-cycle, so no index is mapped to itself.
    """
    order = torch.rand(rows, size, generator=generator, device=device).argsort(dim=1)
    index = torch.empty_like(order)
    index.scatter_(1, order, order.roll(-1, dims=1))
    return index


def _diverged(epoch: int, what: str, config: MineConfig) -> MineDivergenceError:
    lr, other = config.lr, "a larger ema_decay" if config.objective == "mine" else "objective='mine'"
    return MineDivergenceError(
        f"MINE diverged at epoch {epoch}: {what} (the scores T / exp(T) exploded). "
        f"Try a lower learning rate than lr={lr:g} (e.g. lr={lr / 10:g}), a larger batch_size "
        f"or {other}."
    )


@torch.no_grad()
def _held_out_dv(
    net: StatisticsNetwork, x: torch.Tensor, y: torch.Tensor, shuffles: torch.Tensor, chunk: int = 65536
) -> torch.Tensor:
    """DV bound on held-out pairs: ``mean T(x_i, y_i) - log mean_{k,i} exp T(x_i, y_{s_k(i)})``."""
    n = x.shape[0]
    hx = net.input_x(x)
    hy = net.input_y(y)
    joint = torch.cat([net.body(hx[i:i + chunk] + hy[i:i + chunk]).squeeze(-1) for i in range(0, n, chunk)])
    lse = [
        torch.logsumexp(net.body(hx[i:i + chunk] + hy[shuffle[i:i + chunk]]).squeeze(-1), 0)
        for shuffle in shuffles
        for i in range(0, n, chunk)
    ]
    log_mean_exp = torch.logsumexp(torch.stack(lse), 0) - math.log(shuffles.numel())
    return joint.mean() - log_mean_exp


# ------------------------------------------------------------------------------------------ steps


def _split(
    config: MineConfig, xs: torch.Tensor, ys: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x_train, y_train, x_test, y_test`` on ``device``: a split seeded with ``config.seed``,
    standardised with the training split's statistics when ``config.standardize``."""
    split = torch.randperm(config.n, generator=torch.Generator().manual_seed(config.seed))
    xs, ys = xs.to(device), ys.to(device)
    split = split.to(device)
    train, test = split[: config.n_train], split[config.n_train:]
    x_train, y_train, x_test, y_test = xs[train], ys[train], xs[test], ys[test]
    if config.standardize:
        for train_part, test_part in ((x_train, x_test), (y_train, y_test)):
            mean = train_part.mean(0, keepdim=True)
            std = train_part.std(0, keepdim=True)  # n_train >= 2
            std = torch.where(std > 0, std, torch.ones_like(std))
            train_part.sub_(mean).div_(std)
            test_part.sub_(mean).div_(std)
    return x_train, y_train, x_test, y_test


def _lr_factor(schedule: str, total_steps: int, step: int) -> float:
    """The learning rate's factor at ``step``: a cosine from 1 to ``FINAL_LR_FACTOR``, or 1."""
    if schedule == "constant":
        return 1.0
    return FINAL_LR_FACTOR + (1 - FINAL_LR_FACTOR) * 0.5 * (1 + math.cos(math.pi * step / total_steps))


@dataclass
class _Trainer:
    """One run's training state: ``T``, Adam and its schedule, the data RNG and the log-domain EMA."""

    config: MineConfig
    net: StatisticsNetwork
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    generator: torch.Generator
    log_ema: torch.Tensor | None = None

    @classmethod
    def start(cls, config: MineConfig, generator: torch.Generator) -> _Trainer:
        """``T`` initialised from ``config.seed`` (built on the CPU: only its RNG is used)."""
        with seeded_training(config.seed, torch.device("cpu")):
            net = StatisticsNetwork(config.dim_x, config.dim_y, config.hidden, config.layers, config.activation)
        net = net.to(torch.device(config.device))
        optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
        factor = partial(_lr_factor, config.lr_schedule, config.epochs * config.batches_per_epoch)
        return cls(config, net, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor), generator)

    def objective(self, t_joint: torch.Tensor, t_marg: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(dv, value, reported)``: the minibatch DV bound, the surrogate maximised, the value reported."""
        mean_joint = t_joint.mean()
        log_mean_exp = torch.logsumexp(t_marg, 0) - math.log(self.config.effective_batch_size)
        dv = mean_joint - log_mean_exp
        if self.config.objective == "mine":
            with torch.no_grad():
                self._update_ema(log_mean_exp.detach())
            # gradient: E[grad T_joint] - E[exp(T_marg) grad T_marg] / ema
            return dv, mean_joint - torch.exp(t_marg - self.log_ema).mean(), dv
        if self.config.objective == "mine_f":
            value = mean_joint - torch.exp(t_marg - 1.0).mean()
            return dv, value, value
        return dv, dv, dv

    def _update_ema(self, batch_log: torch.Tensor) -> None:
        """``ema = decay * ema + (1 - decay) * m`` in the log domain; ``ema = m`` on the first step."""
        decay = self.config.ema_decay
        log_decay = math.log(decay) if decay > 0 else -math.inf
        self.log_ema = (
            batch_log
            if self.log_ema is None
            else torch.logaddexp(log_decay + self.log_ema, math.log1p(-decay) + batch_log)
        )

    def epoch(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
        """One pass over the training pairs: the mean minibatch DV bound, the mean reported value
        and the summed surrogate (one device synchronisation)."""
        batch, n_batches = self.config.effective_batch_size, self.config.batches_per_epoch
        device = torch.device(self.config.device)
        self.net.train()
        order = torch.randperm(self.config.n_train, generator=self.generator, device=device)[: n_batches * batch]
        order = order.view(n_batches, batch)
        marginal = _derangement_rows(n_batches, batch, self.generator, device)
        dv_sum = torch.zeros((), device=device)
        reported_sum = torch.zeros((), device=device)
        loss_sum = torch.zeros((), device=device)  # the surrogate actually optimised (finiteness check)
        for b in range(n_batches):
            rows = order[b]
            dv, value, reported = self.objective(*self.net.joint_and_marginal(x[rows], y[rows], marginal[b]))
            self.optimizer.zero_grad(set_to_none=True)
            (-value).backward()
            self.optimizer.step()
            self.scheduler.step()
            dv_sum += dv.detach()
            reported_sum += reported.detach()
            loss_sum += value.detach()
        return float(dv_sum) / n_batches, float(reported_sum) / n_batches, float(loss_sum)


def _check_training(epoch: int, train_value: float, objective_value: float, loss: float, config: MineConfig) -> None:
    """:class:`MineDivergenceError` when the epoch's training values are not finite or far below zero."""
    if not (math.isfinite(train_value) and math.isfinite(objective_value) and math.isfinite(loss)):
        raise _diverged(epoch, "the training loss is NaN or infinite", config)
    if train_value < DIVERGED_BELOW_NATS:
        what = f"the training estimate fell to {train_value:.4g} nats (below {DIVERGED_BELOW_NATS:g})"
        raise _diverged(epoch, what, config)


def _fit(config: MineConfig, xs: torch.Tensor, ys: torch.Tensor, progress: bool) -> MineResult:
    """Train ``T`` on the training split for ``config.epochs`` epochs, scoring the held-out pairs after each."""
    device = torch.device(config.device)
    x_train, y_train, x_test, y_test = _split(config, xs, ys, device)
    generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    test_index = _derangement_rows(config.test_shuffles, config.n_test, generator, device)
    trainer = _Trainer.start(config, generator)
    curves: dict[str, list[float]] = {"train_curve": [], "test_curve": [], "objective_curve": []}
    start = time.perf_counter()
    bar = tqdm(range(1, config.epochs + 1), desc=f"MINE ({config.objective})", unit="epoch", disable=not progress,
               leave=False)
    with bar:
        for epoch in bar:
            train_value, objective_value, loss = trainer.epoch(x_train, y_train)
            _check_training(epoch, train_value, objective_value, loss, config)
            trainer.net.eval()
            test_value = float(_held_out_dv(trainer.net, x_test, y_test, test_index))
            if not math.isfinite(test_value):
                raise _diverged(epoch, "the held-out estimate is NaN or infinite", config)
            for name, value in zip(curves, (train_value, test_value, objective_value)):
                curves[name].append(value)
            bar.set_postfix(train=f"{train_value:.3f}", test=f"{test_value:.3f}", refresh=False)
    mi_nats = curves["test_curve"][-1]
    return MineResult(mi_nats=mi_nats, mi_bits=mi_nats / LN2, settings=asdict(config), n_train=config.n_train,
                      n_test=config.n_test, seconds=time.perf_counter() - start, **curves)


# ------------------------------------------------------------------------------------------- main


def estimate_mi(
    x: Any,
    y: Any,
    *,
    objective: str = "mine",
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
    seed: int | None = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> MineResult:
    """Estimate ``I(X; Y)`` in nats and bits from paired samples with MINE.

    Parameters
    ----------
    x, y
        Paired samples ``(N, dx)`` and ``(N, dy)`` (1-D inputs are read as ``(N, 1)``): tensors
        or anything ``torch.as_tensor`` accepts. ``uint8`` is scaled to ``[0, 1]``; all is
        computed in ``float32``.
    objective
        ``"mine"`` (DV bound, EMA bias-corrected gradient), ``"mine_f"`` (f-divergence bound)
        or ``"dv"`` (DV bound, plain minibatch gradient). See the module docstring.
    epochs, batch_size, lr
        Passes over the training pairs, minibatch size (capped at the number of training
        pairs; an incomplete last batch is dropped, the pairs are reshuffled every epoch) and
        Adam's learning rate.
    lr_schedule
        ``"cosine"`` (default): the learning rate follows a cosine from ``lr`` down to
        ``lr / 100`` over the run, so the last epochs - whose held-out value is reported - are
        not dominated by optimiser noise; ``"constant"``: plain Adam.
    hidden, layers, activation
        Width, number of hidden layers and activation (``"elu"`` or ``"relu"``) of ``T``.
    ema_decay
        Weight on the old value of the moving average (``"mine"`` only): ``0.99`` equals
        gtegner's ``alpha = 0.01`` on the new batch.
    test_fraction, test_shuffles
        Share of the pairs held out (a seeded random split) and the number of fixed random
        derangements of held-out ``y`` used for the held-out marginal term.
    standardize
        Z-score each feature with the training split's statistics (MI is unchanged).
    seed
        Seeds the split, the batches, the shuffles and the network's initialisation (an int;
        ``None`` draws one and records it in ``settings``). The global torch RNG is untouched.
    device
        ``None``: the device of ``x`` when it is a tensor, else CPU; ``"auto"``: CUDA when
        available; or any torch device.
    progress
        Show a tqdm bar over epochs.

    Defaults follow the reference settings for embeddings (MLP 2 x 256 ELU, Adam 1e-3, batch
    256, EMA 0.99 = gtegner's 0.01).

    Raises
    ------
    TypeError, ValueError
        Bad inputs or settings (the message names the argument).
    MineDivergenceError
        (a ``FloatingPointError`` and a ``ValueError``) when a loss or an estimate becomes NaN or
        infinite; the message gives the epoch and suggests a lower learning rate.

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
    """
    xs, ys = _as_samples(x, "x"), _as_samples(y, "y")
    if ys.shape[0] != xs.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples (rows), got {xs.shape[0]} and {ys.shape[0]}"
        )
    if device is None:
        device = x.device if isinstance(x, torch.Tensor) else torch.device("cpu")
    config = MineConfig(
        objective=objective, epochs=epochs, batch_size=batch_size, lr=lr, lr_schedule=lr_schedule, hidden=hidden,
        layers=layers, activation=activation, ema_decay=ema_decay, test_fraction=test_fraction,
        test_shuffles=test_shuffles, standardize=standardize, seed=seed, device=device,
        dim_x=xs.shape[1], dim_y=ys.shape[1], n=xs.shape[0],
    )
    return _fit(config, xs, ys, boolean(progress, "progress"))
