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

>>> t_joint, t_marg = torch.tensor([[1.0, 1.0]]), torch.tensor([[0.0, 0.0]])
>>> dv(t_joint, t_marg), nwj(t_joint, t_marg)
(tensor([1.]), tensor([0.6321]))
"""

from __future__ import annotations

import math

import torch
from torch.nn.functional import softplus

__all__ = ["dv", "ema_update", "infonce", "js", "log_mean_exp", "mine_surrogate", "nwj", "off_diagonal", "smile"]


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
