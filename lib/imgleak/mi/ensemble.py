"""The training loop behind :func:`~imgleak.mi.mine.estimate_mi` and :func:`~imgleak.mi.mine.estimate_mi_many`.

``E`` runs (one per pair of samples, each with its own :class:`~imgleak.mi.config.NeuralMIConfig`;
``E = 1`` for :func:`estimate_mi`) are trained as one :class:`~imgleak.mi.critics.CriticEnsemble`
with one Adam over the stacked weights. Member ``e`` draws everything random from its own
sources, exactly as a run on its own does: the split from ``torch.Generator().manual_seed(seed)``,
the held-out derangements and then every epoch's batch order (and derangements) from a
``device`` generator seeded with ``seed + 1``, its network's initialisation from ``seed``. The
members never mix: the loss is the sum of the members' losses (its gradient with respect to
member ``e``'s weights is member ``e``'s own gradient, exactly) and Adam is elementwise. So
member ``e``'s curves are those of the run on its own, bit for bit on the CPU (the batched
matrix products are checked to equal the single ones in the tests); on CUDA the batched
``cuBLAS`` kernels may round differently from the single ones, so there the members agree with
separate runs only to float32 rounding, amplified by training.

When every member sees the same ``x`` and the same seed (the selective-encryption sweep: one
original, one clear part per level), the members' batches share their ``x`` rows, which are
gathered once for all members (each member still projects them with its own weights: one product
per member on the CPU, where one wide product was measured to round differently; one batched
product on CUDA).

Data: ``uint8`` inputs are scaled to ``[0, 1]`` and everything is computed in ``float32``. The
pairs are split once (``test_fraction`` held out), then per feature, fitted on the training split
only: with ``ranks`` mapped to normal scores (:func:`normal_scores`), then with ``standardize``
z-scored. Both are invertible (increasing) per-feature maps, which leave the MI unchanged; z-scores
keep Adam's step size meaningful for pixels, embeddings and Gaussians alike, normal scores also
remove heavy tails and monotone distortions, whose held-out outliers otherwise blow up ``exp(T)``.

Training: Adam with a cosine learning-rate decay from ``lr`` to ``lr / 100`` (``lr_schedule=
"cosine"``), which makes the reported last-epoch value stable; the training pairs are reshuffled
every epoch and an incomplete last batch is dropped. The shuffled pairs (samples of ``P_X P_Y``)
are, with the joint critic, ``y`` permuted inside each minibatch by a random derangement (no pair
kept by accident); with the separable critic, all ``B (B - 1)`` mismatched pairs of the minibatch.
Each step, the objective's entry (:data:`~imgleak.mi.bounds.OBJECTIVES`) turns the scores into
the value maximised; the held-out bound is its ``held_out`` on the held-out pairs after each epoch.

Divergence: a member whose training values or held-out estimate explode (:func:`_problem`: an
epoch's training loss or estimate, or the held-out estimate, is NaN or infinite, or the epoch's
training value of the objective's bound falls below ``DIVERGED_BELOW_NATS``, -5 nats: a constant
``T`` already scores 0, and all sums are ``logsumexp``-stable, so a too-large learning rate shows
up as absurd negative values rather than as ``inf``) stops alone, as under early stopping, and its
result says so (``diverged``: the message, naming the epoch and suggesting a lower learning rate;
``mi_nats`` NaN, ``epoch`` the epoch it diverged at); the others train on, unchanged (its NaNs
stay in its own slice of the stacked weights, and Adam is elementwise); a single run
(:func:`~imgleak.mi.mine.estimate_mi`) raises it as :class:`~imgleak.mi.config.NeuralMIDivergenceError`.
Finiteness is checked once per epoch (one device synchronisation per epoch, not per step).

Early stopping (``early_stopping=patience``): a member stops when its held-out bound has not
improved for ``patience`` epochs; it reports its best epoch's value. A stopped member keeps
being updated with the others until every member has stopped (its results are final; the
work is wasted, not harmful), so the ensemble costs its longest member.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial

import torch
from tqdm import tqdm

from imgleak.training.seeding import seeded_training

from .bounds import OBJECTIVES, TrainingScores, dv, off_diagonal
from .config import DIVERGED_BELOW_NATS, FINAL_LR_FACTOR, LN2, NeuralMIConfig, NeuralMIResult
from .critics import CriticEnsemble, SeparableNetwork, StatisticsNetwork

__all__ = ["derangement_rows", "normal_scores", "train_ensemble"]

HELD_OUT_CHUNK = 65536  # rows of held-out pairs scored at once, per member


def derangement_rows(rows: int, size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``rows`` random derangements of ``range(size)`` (no fixed point when size > 1): ``(rows, size)``.

    A random order ``p`` is read as one cycle, ``p[i] -> p[i + 1]``: a uniformly random
    ``size``-cycle, so no index is mapped to itself.

    >>> index = derangement_rows(2, 5, torch.Generator().manual_seed(0), torch.device("cpu"))
    >>> index.shape, bool((index == torch.arange(5)).any())
    (torch.Size([2, 5]), False)
    """
    order = torch.rand(rows, size, generator=generator, device=device).argsort(dim=1)
    index = torch.empty_like(order)
    index.scatter_(1, order, order.roll(-1, dims=1))
    return index


def _lr_factor(schedule: str, total_steps: int, step: int) -> float:
    """The learning rate's factor at ``step``: a cosine from 1 to ``FINAL_LR_FACTOR``, or 1."""
    if schedule == "constant":
        return 1.0
    return FINAL_LR_FACTOR + (1 - FINAL_LR_FACTOR) * 0.5 * (1 + math.cos(math.pi * step / total_steps))


def normal_scores(train: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Per-column normal scores of ``values`` ``(m, d)`` fitted on ``train`` ``(n, d)`` alone: ``Phi^-1(u)``.

    A training value gets ``u = r / (n + 1)``, ``r`` its (mid-)rank in its column (ties share
    their mid-rank); any other value is mapped through the piecewise-linear interpolation of that
    empirical CDF between the sorted training values, and beyond the training range takes the
    extreme training value's ``u``. The map is non-decreasing in each coordinate and strictly
    increasing on the training range, so it leaves the MI of a pair unchanged while making every
    marginal (about) standard normal: heavy tails and monotone distortions are gone.

    >>> train = torch.tensor([[3.0], [1.0], [2.0]])
    >>> normal_scores(train, train).flatten().tolist()  # u = 3/4, 1/4, 2/4
    [0.6744897365570068, -0.6744897365570068, 0.0]
    >>> normal_scores(train, torch.tensor([[1.5], [0.0], [9.0]])).flatten().tolist()  # u = 3/8, 1/4, 3/4
    [-0.3186393678188324, -0.6744897365570068, 0.6744897365570068]
    """
    n = train.shape[0]
    ordered = train.sort(dim=0).values.T.contiguous()  # (d, n)
    below = torch.searchsorted(ordered, ordered, side="left")
    upto = torch.searchsorted(ordered, ordered, side="right")
    u = (below + upto + 1).to(torch.float64) / (2 * (n + 1))  # mid-rank / (n + 1) of each sorted value
    columns = values.T.contiguous()
    index = torch.searchsorted(ordered, columns, side="right")  # training values <= each value
    low, high = (index - 1).clamp(0, n - 1), index.clamp(0, n - 1)
    x_low, x_high = ordered.gather(1, low).double(), ordered.gather(1, high).double()
    width = x_high - x_low
    weight = torch.where(width > 0, (columns.double() - x_low) / width.where(width > 0, torch.ones_like(width)), 0.0)
    scores = u.gather(1, low) + weight * (u.gather(1, high) - u.gather(1, low))
    return torch.special.ndtri(scores).to(values.dtype).T


def _split(values: torch.Tensor, config: NeuralMIConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``train, test`` rows on the config's device: a split seeded with ``config.seed``, mapped to
    normal scores fitted on the training rows when ``config.ranks`` (:func:`normal_scores`), then
    standardised with the training rows' statistics when ``config.standardize``."""
    device = torch.device(config.device)
    split = torch.randperm(config.n, generator=torch.Generator().manual_seed(config.seed)).to(device)
    values = values.to(device)
    train, test = values[split[: config.n_train]], values[split[config.n_train:]]
    if config.ranks:
        train, test = normal_scores(train, train), normal_scores(train, test)
    if config.standardize:
        mean = train.mean(0, keepdim=True)
        std = train.std(0, keepdim=True)  # n_train >= 2
        std = torch.where(std > 0, std, torch.ones_like(std))
        train.sub_(mean).div_(std)
        test.sub_(mean).div_(std)
    return train, test


@dataclass
class _Member:
    """One run of the ensemble: its settings, data, random source, curves and early-stopping state."""

    config: NeuralMIConfig
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    generator: torch.Generator
    test_index: torch.Tensor = field(init=False)
    curves: dict[str, list[float]] = field(default_factory=lambda: {"train_curve": [], "test_curve": [],
                                                                       "objective_curve": []})
    best: float = -math.inf
    best_epoch: int = 0
    stale: int = 0
    stopped: bool = False
    diverged: str | None = None
    diverged_epoch: int = 0

    def __post_init__(self) -> None:
        self.test_index = derangement_rows(self.config.test_shuffles, self.config.n_test, self.generator,
                                           torch.device(self.config.device))

    def critic(self) -> StatisticsNetwork | SeparableNetwork:
        """The member's network, initialised from its seed (on the CPU: only its RNG is used)."""
        c = self.config
        with seeded_training(c.seed, torch.device("cpu")):
            if c.critic == "separable":
                return SeparableNetwork(c.dim_x, c.dim_y, c.hidden, c.layers, c.activation, c.embedding)
            return StatisticsNetwork(c.dim_x, c.dim_y, c.hidden, c.layers, c.activation)

    def batches(self, needs_derangements: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This epoch's batch order ``(batches, B)`` and, for the joint critic's shuffled pairs, derangements."""
        c, device = self.config, torch.device(self.config.device)
        batch, count = c.effective_batch_size, c.batches_per_epoch
        order = torch.randperm(c.n_train, generator=self.generator, device=device)[: count * batch].view(count, batch)
        return order, derangement_rows(count, batch, self.generator, device) if needs_derangements else None

    def record(self, epoch: int, train: float, objective: float, test: float) -> None:
        """Append the epoch's values; stop after ``early_stopping`` epochs without a better held-out value."""
        for name, value in zip(self.curves, (train, test, objective)):
            self.curves[name].append(value)
        if test > self.best:
            self.best, self.best_epoch, self.stale = test, epoch, 0
        else:
            self.stale += 1
        patience = self.config.early_stopping
        self.stopped = patience is not None and self.stale >= patience

    def fail(self, epoch: int, message: str) -> None:
        """Stop this member for good: it diverged at ``epoch`` (``message`` says how and what to try)."""
        self.stopped, self.diverged, self.diverged_epoch = True, message, epoch

    def result(self, seconds: float) -> NeuralMIResult:
        c, curves = self.config, self.curves
        early = c.early_stopping is not None
        if self.diverged is not None:
            mi_nats, epoch = math.nan, self.diverged_epoch
        else:
            mi_nats = self.best if early else curves["test_curve"][-1]
            epoch = self.best_epoch if early else len(curves["test_curve"])
        ceiling = math.log(min(c.effective_batch_size, c.n_test)) if OBJECTIVES[c.objective].batch_ceiling else math.inf
        return NeuralMIResult(mi_nats=mi_nats, mi_bits=mi_nats / LN2, settings=asdict(c), n_train=c.n_train,
                          n_test=c.n_test, seconds=seconds, bound=c.bound, epoch=epoch, ceiling_nats=ceiling,
                          diverged=self.diverged, **curves)


def _diverged(epoch: int, what: str, config: NeuralMIConfig, label: str) -> str:
    """The message of a member that diverged at ``epoch``: what happened and what to try."""
    lr, objective = config.lr, OBJECTIVES[config.objective]
    return (f"{objective.label}{label} diverged at epoch {epoch}: {what} (the scores T / exp(T) exploded). "
            f"Try a lower learning rate than lr={lr:g} (e.g. lr={lr / 10:g}), a larger batch_size "
            f"or {objective.remedy}.")


def _problem(training: tuple[float, float, float], test: float) -> str | None:
    """What says an epoch diverged - training values not finite, the training value of the
    objective's own bound far below zero, or a held-out estimate that is not finite - or ``None``.

    The objective's own bound, not DV: a critic trained on InfoNCE is only defined up to a shift
    ``c(y)`` that InfoNCE ignores and DV does not, so its DV can sit far below zero (it did at n = 0
    in the selective-encryption sweep) while InfoNCE is near its ceiling.
    """
    if not all(math.isfinite(v) for v in training):
        return "the training loss is NaN or infinite"
    if training[1] < DIVERGED_BELOW_NATS:
        return f"the training estimate fell to {training[1]:.4g} nats (below {DIVERGED_BELOW_NATS:g})"
    if not math.isfinite(test):
        return "the held-out estimate is NaN or infinite"
    return None


def _gather_rows(features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``features[e, index[e, i]]``: ``(E, R, f)`` rows picked by ``(E, R')`` -> ``(E, R', f)``."""
    return torch.gather(features, 1, index[..., None].expand(-1, -1, features.shape[-1]))


class _Trainer:
    """The ensemble's critic, Adam and schedule, MINE's moving averages, and one epoch of training."""

    def __init__(self, members: list[_Member], shared_x: bool) -> None:
        self.members, self.shared_x, self.config = members, shared_x, members[0].config
        c = self.config
        self.critic = CriticEnsemble([m.critic() for m in members]).to(torch.device(c.device))
        self.optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.lr)
        factor = partial(_lr_factor, c.lr_schedule, c.epochs * c.batches_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
        self.objective = OBJECTIVES[c.objective]
        self.state: dict = {}  # kept by the objective across steps (MINE's moving average)
        # all K x K pairs of a batch: an all-pairs objective, and the separable critic (its shuffled pairs are free)
        self.uses_grid = self.objective.all_pairs or c.critic == "separable"

    def _rows(self, parts: list[torch.Tensor], indices: list[torch.Tensor], shared: bool) -> torch.Tensor:
        if shared:
            return parts[0][indices[0]]
        return torch.stack([part[index] for part, index in zip(parts, indices)])

    def _scores(self, x: torch.Tensor, y: torch.Tensor, marginal: torch.Tensor | None) -> TrainingScores:
        """``joint (E, B)``, ``marginal (E, M)`` and the ``(E, B, B)`` grid (or ``None``)."""
        fx, fy = self.critic.features(x, y)
        if self.uses_grid:
            grid = self.critic.grid(fx, fy)
            return TrainingScores(grid.diagonal(dim1=1, dim2=2), off_diagonal(grid), grid)
        both = self.critic.paired(torch.cat([fx, fx], 1), torch.cat([fy, _gather_rows(fy, marginal)], 1))
        return TrainingScores(both[:, : x.shape[-2]], both[:, x.shape[-2]:])

    def epoch(self) -> list[tuple[float, float, float]]:
        """One pass over every member's training pairs: per member, the mean minibatch DV bound,
        the mean training value of its bound and the summed surrogate (one synchronisation)."""
        c, members = self.config, self.members
        plans = [m.batches(not self.uses_grid) for m in members]
        orders = [plan[0] for plan in plans]
        marginal = None if self.uses_grid else torch.stack([plan[1] for plan in plans])
        sums = torch.zeros(3, len(members), device=torch.device(c.device))
        for b in range(c.batches_per_epoch):
            rows = [order[b] for order in orders]
            x = self._rows([m.x_train for m in members], rows, self.shared_x)
            y = self._rows([m.y_train for m in members], rows, False)
            scores = self._scores(x, y, None if marginal is None else marginal[:, b])
            value, reported = self.objective.train(scores, c, self.state)
            bound = dv(scores.joint, scores.marginal)
            self.optimizer.zero_grad(set_to_none=True)
            (-value).sum().backward()
            self.optimizer.step()
            self.scheduler.step()
            sums[0] += bound.detach()
            sums[1] += reported.detach()
            sums[2] += value.detach()
        train, objective, loss = sums.tolist()
        count = c.batches_per_epoch
        return [(t / count, o / count, v) for t, o, v in zip(train, objective, loss)]

    @torch.no_grad()
    def held_out(self) -> list[float]:
        """Every member's held-out bound (its objective's ``held_out``) after this epoch."""
        members, config = self.members, self.config
        x = members[0].x_test if self.shared_x else torch.stack([m.x_test for m in members])
        scores = _HeldOut(self.critic, *self.critic.features(x, torch.stack([m.y_test for m in members])),
                          torch.stack([m.test_index for m in members]), config.effective_batch_size)
        return OBJECTIVES[config.objective].held_out(scores, config).tolist()


@dataclass
class _HeldOut:
    """The critic's scores on the held-out pairs (:class:`~imgleak.mi.bounds.HeldOutScores`), from the
    features ``fx``, ``fy`` ``(E, n, f)``, the derangements ``index`` ``(E, S, n)`` and the batch size."""

    critic: CriticEnsemble
    fx: torch.Tensor
    fy: torch.Tensor
    index: torch.Tensor
    batch_size: int

    def shuffled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``joint`` ``(E, n)`` and ``marginal`` ``(E, S, n)`` (one derangement of ``y`` per shuffle)."""
        joint = self._paired_chunks(self.fx, self.fy)
        marginal = torch.stack([self._paired_chunks(self.fx, _gather_rows(self.fy, self.index[:, s]))
                                for s in range(self.index.shape[1])], 1)
        return joint, marginal

    def batches(self) -> list[torch.Tensor]:
        """The grids of the held-out pairs cut (in split order) into whole batches of
        ``min(batch size, held-out pairs)``; the rest is left out."""
        n = self.fy.shape[1]
        size = min(self.batch_size, n)
        return [self.critic.grid(self.fx[:, i:i + size], self.fy[:, i:i + size]) for i in range(0, n - size + 1, size)]

    def _paired_chunks(self, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        n = fy.shape[1]
        return torch.cat([self.critic.paired(fx[:, i:i + HELD_OUT_CHUNK], fy[:, i:i + HELD_OUT_CHUNK])
                          for i in range(0, n, HELD_OUT_CHUNK)], 1)


def train_ensemble(configs: list[NeuralMIConfig], samples: list[tuple[torch.Tensor, torch.Tensor]],
                   progress: bool) -> list[NeuralMIResult]:
    """Train one critic per ``(config, (x, y))`` together for ``epochs`` (or until all stopped early).

    A member that diverges comes back as a result with ``diverged`` set (``mi_nats`` NaN); the
    others are unaffected.

    ``configs`` agree on everything but ``seed`` (the caller checks); ``samples`` are float32
    ``(N, d)`` tensors. A tensor given to several members with the same seed is split once.

    >>> from imgleak.mi.config import NeuralMIConfig
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(100, 2, generator=g)
    >>> configs = [NeuralMIConfig(epochs=2, hidden=8, seed=s).for_data(n=100, dim_x=2, dim_y=2, device='cpu')
    ...            for s in (0, 1)]
    >>> [len(r.test_curve) for r in train_ensemble(configs, [(x, x), (x, -x)], progress=False)]
    [2, 2]
    """
    splits: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
    members = []
    for config, pair in zip(configs, samples):
        parts = []
        for values in pair:
            key = (id(values), config.seed)
            if key not in splits:
                splits[key] = _split(values, config)
            parts += splits[key]
        generator = torch.Generator(device=torch.device(config.device)).manual_seed(config.seed + 1)
        members.append(_Member(config, parts[0], parts[2], parts[1], parts[3], generator))
    shared_x = all(x is samples[0][0] and c.seed == configs[0].seed for c, (x, _) in zip(configs, samples))
    trainer, config = _Trainer(members, shared_x), configs[0]
    labels = [""] if len(members) == 1 else [f" (pair {k}, seed {m.config.seed})" for k, m in enumerate(members)]
    start = time.perf_counter()
    bar = tqdm(range(1, config.epochs + 1), desc=OBJECTIVES[config.objective].label, unit="epoch", disable=not progress,
               leave=False)
    with bar:
        for epoch in bar:
            active = [k for k, m in enumerate(members) if not m.stopped]
            if not active:
                break
            training, tests = trainer.epoch(), trainer.held_out()
            for k in active:
                problem = _problem(training[k], tests[k])
                if problem is None:
                    members[k].record(epoch, training[k][0], training[k][1], tests[k])
                else:
                    members[k].fail(epoch, _diverged(epoch, problem, members[k].config, labels[k]))
            bar.set_postfix(train=f"{training[active[0]][0]:.3f}", test=f"{tests[active[0]]:.3f}", refresh=False)
    seconds = time.perf_counter() - start
    return [m.result(seconds) for m in members]
