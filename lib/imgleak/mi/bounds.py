"""Variational lower bounds on mutual information, as functions of critic scores.

Every function takes the scores of ``E`` critics at once (an ensemble; ``E = 1`` for one run) and
returns one value per critic, shape ``(E,)``:

* ``t_joint`` ``(E, B)``: ``T(x_i, y_i)`` on the pairs as given (samples of ``P = P_XY``);
* ``t_marg`` ``(E, M)``: ``T`` on shuffled pairs (samples of ``Q = P_X P_Y``);
* ``scores`` ``(E, K, K)``: ``T(x_i, y_j)`` for every pair of a batch (InfoNCE).

Bounds (``I(X; Y) >= bound`` for every ``T``; equality at the optimal ``T``):

- ``dv``: Donsker-Varadhan, ``E_P[T] - log E_Q[e^T]``;
- ``nwj``: Nguyen-Wainwright-Jordan (MINE-f), ``E_P[T] - E_Q[e^(T - 1)]`` (never above DV for the same ``T``);
- ``smile``: DV with the partition term's ``e^T`` clipped to ``[e^-tau, e^tau]`` (Song & Ermon 2020):
  lower variance, a small bias, no longer a strict bound;
- ``infonce``: ``mean_i [T(x_i, y_i) - log mean_j e^T(x_i, y_j)]`` over a batch of ``K`` pairs, at most ``log K``;
- ``js``: the Jensen-Shannon (f-GAN) objective ``-E_P[softplus(-T)] - E_Q[softplus(T)]``, not an MI
  bound: SMILE trains its critic on it (its maximiser is ``T = log p/q``).

The **objectives** of :func:`~imgleak.mi.mine.estimate_mi` (``objective=``) are the entries of
:data:`OBJECTIVES`, one :class:`Objective` each, below the formulas they use: what the critic is
trained on, the bound reported on held-out pairs, whether a batch's ``B x B`` pairs are all
scored. Adding an objective is adding one entry (:func:`register`).

>>> t_joint, t_marg = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.0]])
>>> dv(t_joint, t_marg), nwj(t_joint, t_marg)
(tensor([1.]), tensor([0.6321]))
>>> {name: objective.bound for name, objective in OBJECTIVES.items()}
{'mine': 'dv', 'dv': 'dv', 'nwj': 'nwj', 'smile': 'smile', 'infonce': 'infonce'}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch.nn.functional import softplus

__all__ = ["HeldOutScores", "OBJECTIVES", "Objective", "Settings", "TrainingScores", "dv", "ema_update", "infonce",
           "js", "log_mean_exp", "log_mean_exp_shuffles", "mine_surrogate", "nwj", "off_diagonal", "register",
           "smile"]


def log_mean_exp(values: torch.Tensor) -> torch.Tensor:
    """``log mean exp`` over the last dimension, with ``logsumexp`` (no overflow).

    >>> log_mean_exp(torch.tensor([[0.0, math.log(3.0)]]))
    tensor([0.6931])
    """
    return torch.logsumexp(values, -1) - math.log(values.shape[-1])


def dv(t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
    """The Donsker-Varadhan bound ``mean T_joint - log mean exp T_marg``, one per critic.

    >>> dv(torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0, 0.0]]))
    tensor([1.])
    """
    return t_joint.mean(-1) - log_mean_exp(t_marg)


def nwj(t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
    """The NWJ (MINE-f) bound ``mean T_joint - mean exp(T_marg - 1)``, one per critic.

    >>> nwj(torch.tensor([[1.0]]), torch.tensor([[1.0, 1.0]]))
    tensor([0.])
    """
    return t_joint.mean(-1) - torch.exp(t_marg - 1.0).mean(-1)


def smile(t_joint: torch.Tensor, t_marg: torch.Tensor, clip: float) -> torch.Tensor:
    """DV with ``T_marg`` clamped to ``[-clip, clip]`` in the partition term (``clip(e^T, e^-tau, e^tau)``).

    >>> smile(torch.tensor([[1.0]]), torch.tensor([[9.0, -9.0]]), clip=1.0)  # = 1 - log cosh 1
    tensor([0.5662])
    """
    return t_joint.mean(-1) - log_mean_exp(t_marg.clamp(-clip, clip))


def js(t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon objective ``-mean softplus(-T_joint) - mean softplus(T_marg)`` (SMILE's training loss).

    >>> js(torch.zeros(1, 2), torch.zeros(1, 2)) == -2 * math.log(2)
    tensor([True])
    """
    return -softplus(-t_joint).mean(-1) - softplus(t_marg).mean(-1)


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE of a batch's score matrices ``(E, K, K)``: ``mean_i [S_ii - log mean_j exp S_ij]`` <= ``log K``.

    >>> infonce(torch.tensor([[[50.0, 0.0], [0.0, 50.0]]]))  # a perfect critic reaches log K = log 2
    tensor([0.6931])
    """
    size = scores.shape[-1]
    return (scores.diagonal(dim1=-2, dim2=-1) - torch.logsumexp(scores, -1)).mean(-1) + math.log(size)


def off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    """The ``K (K - 1)`` scores ``S_ij``, ``i != j``, of each ``(K, K)`` matrix: ``(E, K, K) -> (E, K (K - 1))``.

    >>> off_diagonal(torch.arange(9.0).view(1, 3, 3))
    tensor([[1., 2., 3., 5., 6., 7.]])
    """
    size = scores.shape[-1]
    keep = ~torch.eye(size, dtype=torch.bool, device=scores.device)
    return scores.masked_select(keep).view(scores.shape[0], size * (size - 1))


def ema_update(log_ema: torch.Tensor | None, batch_log: torch.Tensor, decay: float) -> torch.Tensor:
    """MINE's moving average in the log domain: ``log(decay * e^log_ema + (1 - decay) * e^batch_log)``.

    ``decay`` is the weight kept on the **old** average; ``log_ema=None`` (the first step) gives
    ``batch_log``, and so does ``decay=0`` exactly (``logaddexp(-inf, b) == b``).

    >>> a, b = torch.tensor([0.0]), torch.tensor([math.log(3.0)])
    >>> ema_update(a, b, 0.75).exp()  # 0.75 * 1 + 0.25 * 3
    tensor([1.5000])
    >>> bool(ema_update(a, b, 0.0) == b), bool(ema_update(None, b, 0.9) == b)
    (True, True)
    """
    if log_ema is None:
        return batch_log
    log_decay = math.log(decay) if decay > 0 else -math.inf
    return torch.logaddexp(log_decay + log_ema, math.log1p(-decay) + batch_log)


def mine_surrogate(t_joint: torch.Tensor, t_marg: torch.Tensor, log_ema: torch.Tensor) -> torch.Tensor:
    """MINE's bias-corrected surrogate ``mean T_joint - mean exp(T_marg) / ema`` (``log_ema`` detached, ``(E,)``).

    Its gradient is ``E[grad T_joint] - E[exp(T_marg) grad T_marg] / ema``: DV's, with the
    minibatch denominator replaced by the moving average.

    >>> mine_surrogate(torch.tensor([[1.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([0.0]))
    tensor([0.])
    """
    return t_joint.mean(-1) - torch.exp(t_marg - log_ema[:, None]).mean(-1)


def log_mean_exp_shuffles(t_marg: torch.Tensor) -> torch.Tensor:
    """``log mean exp`` over held-out shuffles ``(E, S, n)``: one ``logsumexp`` per shuffle, then over shuffles.

    >>> log_mean_exp_shuffles(torch.tensor([[[0.0, 0.0], [math.log(3.0), math.log(3.0)]]]))  # log 2
    tensor([0.6931])
    """
    count = t_marg.shape[-1] * t_marg.shape[-2]
    return torch.logsumexp(torch.logsumexp(t_marg, -1), -1) - math.log(count)


# ------------------------------------------------------------------ the objectives, one entry each


class Settings(Protocol):
    """The run's settings an objective may read (a :class:`~imgleak.mi.config.NeuralMIConfig`)."""

    clip: float
    ema_decay: float


@dataclass(frozen=True)
class TrainingScores:
    """The critic's scores on one training minibatch, per member: ``joint`` ``(E, B)``, ``marginal``
    ``(E, M)`` (shuffled pairs) and ``grid`` ``(E, B, B)`` (every pair; ``None`` unless scored)."""

    joint: torch.Tensor
    marginal: torch.Tensor
    grid: torch.Tensor | None = None


class HeldOutScores(Protocol):
    """The critic's scores on the held-out pairs, computed when an objective asks for them.

    >>> class Known:  # held-out scores given outright: T = 1 on the pairs and on the shuffled pairs
    ...     def shuffled(self):
    ...         return torch.ones(1, 2), torch.ones(1, 1, 2)
    >>> OBJECTIVES["nwj"].held_out(Known(), None), OBJECTIVES["dv"].held_out(Known(), None)
    (tensor([0.]), tensor([0.]))
    """

    def shuffled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``joint`` ``(E, n)`` and ``marginal`` ``(E, S, n)`` on ``S`` fixed derangements of held-out ``y``."""

    def batches(self) -> list[torch.Tensor]:
        """The score grids ``(E, K, K)`` of the held-out pairs cut into whole batches of ``K``."""


@dataclass(frozen=True)
class Objective:
    """One objective of :func:`~imgleak.mi.mine.estimate_mi`: how its critic learns, what it reports.

    ``train(scores, settings, state)`` returns the value maximised on a minibatch and the training
    value of the objective's own bound, one per member (``state``: a dict kept across the run's
    steps, e.g. MINE's moving average). ``held_out(scores, settings)`` is the bound reported on the
    held-out pairs (``NeuralMIResult.bound`` = ``bound``). ``all_pairs``: training needs every pair
    of a batch (``TrainingScores.grid``). ``batch_ceiling``: the bound is at most ``log K`` for
    held-out batches of ``K`` pairs. ``label`` names the estimator in messages; ``remedy`` is what to
    try when it diverges; ``summary`` is one line for the docs.
    """

    name: str
    label: str
    bound: str
    train: Callable[[TrainingScores, Settings, dict], tuple[torch.Tensor, torch.Tensor]]
    held_out: Callable[[HeldOutScores, Settings], torch.Tensor]
    summary: str
    all_pairs: bool = False
    batch_ceiling: bool = False
    remedy: str = "objective='mine'"


OBJECTIVES: dict[str, Objective] = {}
"""The neural MI objectives by name, one :class:`Objective` each (filled by :func:`register`)."""


def register(objective: Objective) -> Objective:
    """Add ``objective`` to :data:`OBJECTIVES` (under ``objective.name``); it is then an ``objective=``
    of :func:`~imgleak.mi.mine.estimate_mi` and :func:`~imgleak.mi.mine.estimate_mi_many`.

    >>> register(OBJECTIVES["dv"]) is OBJECTIVES["dv"]
    True
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"register takes an Objective, got {type(objective).__name__}")
    OBJECTIVES[objective.name] = objective
    return objective


def _held_out_dv(scores: HeldOutScores, settings: Settings) -> torch.Tensor:
    """DV on the held-out pairs: the partition term over every shuffle of held-out ``y``."""
    joint, marginal = scores.shuffled()
    return joint.mean(-1) - log_mean_exp_shuffles(marginal)


def _train_mine(scores: TrainingScores, settings: Settings, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """DV trained with the moving-average **bias-corrected gradient** of the MINE paper (Sec. 3.2).

    The minibatch gradient of ``log mean(exp T_marg)`` is ``mean(exp(T_marg) grad T_marg) /
    mean(exp T_marg)``, biased because the denominator is a minibatch mean; MINE replaces that
    denominator by an exponential moving average (EMA)::

        m   = mean_batch(exp(T_marg))                       # detached
        ema = m                                  on the first step
        ema = ema_decay * ema + (1 - ema_decay) * m          afterwards (ema_decay = 0.99)
        surrogate = mean(T_joint) - mean(exp(T_marg)) / ema  # maximised (mine_surrogate)

    ``ema_decay`` is the weight kept on the **old** average. gtegner/mine-pytorch (and other
    re-implementations with ``ma_rate = 0.01``) write the same recursion with a rate ``alpha = 0.01``
    on the **new** batch: our default ``ema_decay=0.99`` is numerically identical to their
    ``alpha=0.01`` (``ema_decay = 1 - alpha``). BMI, SMILE and torch-mist keep 0.9 on the old value,
    i.e. ``ema_decay=0.9`` here (a memory of about 10 batches instead of 100). The EMA is held in
    the log domain (:func:`ema_update`) so ``exp(T)`` is never formed outside ``exp(T_marg -
    log_ema)``. With ``ema_decay=0`` the EMA is the batch's own mean and the gradient is DV's: the
    run follows ``"dv"``'s to float32 rounding (``exp(T - (lse - log B)) / B`` against autograd's
    ``exp(T - lse)``), not bit for bit.
    """
    with torch.no_grad():
        state["log_ema"] = ema_update(state.get("log_ema"), log_mean_exp(scores.marginal).detach(),
                                      settings.ema_decay)
    return mine_surrogate(scores.joint, scores.marginal, state["log_ema"]), dv(scores.joint, scores.marginal)


def _train_dv(scores: TrainingScores, settings: Settings, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The plain minibatch DV bound, maximised as it is (a biased gradient, no EMA)."""
    value = dv(scores.joint, scores.marginal)
    return value, value


def _train_nwj(scores: TrainingScores, settings: Settings, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """NWJ (MINE-f), ``mean(T_joint) - mean(exp(T_marg - 1))``, maximised directly (an unbiased
    minibatch gradient, no EMA)."""
    value = nwj(scores.joint, scores.marginal)
    return value, value


def _held_out_nwj(scores: HeldOutScores, settings: Settings) -> torch.Tensor:
    """NWJ on the held-out pairs (never above the held-out DV of the same critic: ``log m <= m / e``)."""
    joint, marginal = scores.shuffled()
    return nwj(joint, marginal.flatten(1))


def _train_smile(scores: TrainingScores, settings: Settings, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """As Song & Ermon (2020) and torch-mist do it: the critic learns the Jensen-Shannon objective
    (:func:`js`: an unbiased minibatch gradient whose optimum is ``T = log p/q``); its bound is DV
    with ``exp T`` clipped to ``[e^-clip, e^clip]`` (``clip`` = their tau): lower variance than DV,
    a small bias (no longer a strict lower bound)."""
    return js(scores.joint, scores.marginal), smile(scores.joint, scores.marginal, settings.clip)


def _held_out_smile(scores: HeldOutScores, settings: Settings) -> torch.Tensor:
    """SMILE on the held-out pairs: the shuffled scores clipped in the partition term only."""
    joint, marginal = scores.shuffled()
    return joint.mean(-1) - log_mean_exp_shuffles(marginal.clamp(-settings.clip, settings.clip))


def _train_infonce(scores: TrainingScores, settings: Settings, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE over each minibatch's ``B x B`` score matrix (at most ``log B``). With the joint critic
    the ``B^2`` pairs cost ``B^2`` evaluations of the layers after the first: ``B`` times the work of
    the DV objectives; the separable critic does it in one matrix product."""
    value = infonce(scores.grid)
    return value, value


def _held_out_infonce(scores: HeldOutScores, settings: Settings) -> torch.Tensor:
    """InfoNCE averaged over the held-out pairs cut (in split order) into whole batches of
    ``K = min(batch size, held-out pairs)``; the rest is left out. At most ``log K``."""
    return torch.stack([infonce(grid) for grid in scores.batches()]).mean(0)


for _objective in (
    Objective("mine", "MINE", "dv", _train_mine, _held_out_dv, remedy="a larger ema_decay",
              summary="DV bound, trained with MINE's moving-average (EMA) bias-corrected gradient"),
    Objective("dv", "DV", "dv", _train_dv, _held_out_dv,
              summary="DV bound, trained on the plain minibatch DV (biased gradient; for comparison)"),
    Objective("nwj", "NWJ", "nwj", _train_nwj, _held_out_nwj,
              summary="NWJ (MINE-f) bound, trained and reported (looser than DV, unbiased gradient)"),
    Objective("smile", "SMILE", "smile", _train_smile, _held_out_smile,
              summary="Jensen-Shannon training, DV with exp T clipped to [e^-clip, e^clip] reported"),
    Objective("infonce", "InfoNCE", "infonce", _train_infonce, _held_out_infonce, all_pairs=True,
              batch_ceiling=True, summary="InfoNCE over every pair of a batch, at most log(batch size)"),
):
    register(_objective)
del _objective
