"""Critics ``T(x, y)`` for the neural MI estimators: one network per run, and ensembles of them.

Two architectures, each first built as one ``nn.Module`` per run (seeded, so a run's
initialisation does not depend on what it is trained with), then stacked:

* :class:`StatisticsNetwork` - the **joint** critic: an MLP on ``[x, y]``; scoring all ``K x K``
  pairs of a batch costs ``K^2`` MLP evaluations (the first layer is split, ``W [x, y] = W_x x +
  W_y y``, so only the layers after it run ``K^2`` times);
* :class:`SeparableNetwork` - the **separable** critic ``g(x)^T h(y)``: two MLPs to an embedding,
  so all ``K x K`` pairs of a batch are one matrix product.

Activations: ELU (default) or ReLU; ELU is smooth, which suits the smooth log-density ratio that
``T`` has to learn, and leaves no dead units.

:class:`CriticEnsemble` trains ``E`` such networks as one model: every linear layer becomes a
:class:`StackedLinear` (weights ``(E, out, in)``), activations and the bounds run on the
stacked ``(E, R, features)`` tensors, and one Adam steps all the weights. The inputs are
``(E, R, d)`` (each member its own rows) or ``(R, d)`` (the same rows for every member). Member
``e`` computes exactly what its own network computes - bit for bit on the CPU, where each
member's matrix products are the single network's calls; on CUDA the products are batched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.functional import linear

from imgleak._checks import choice, positive_int

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU}

__all__ = ["ACTIVATIONS", "CriticEnsemble", "SeparableNetwork", "StackedLinear", "StatisticsNetwork"]


def _checked(sizes: dict[str, int], activation: str) -> None:
    for name, value in sizes.items():
        positive_int(value, name)
    choice(activation, "activation", tuple(ACTIVATIONS))


def _body(hidden: int, layers: int, dim_out: int, activation: str) -> list[nn.Module]:
    """What follows an MLP's first layer: ``layers - 1`` hidden layers, then the output layer."""
    modules: list[nn.Module] = []
    for _ in range(layers - 1):
        modules += [ACTIVATIONS[activation](), nn.Linear(hidden, hidden)]
    return modules + [ACTIVATIONS[activation](), nn.Linear(hidden, dim_out)]


def _mlp(dim_in: int, hidden: int, layers: int, dim_out: int, activation: str) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units, then a linear output of ``dim_out``."""
    return nn.Sequential(nn.Linear(dim_in, hidden), *_body(hidden, layers, dim_out, activation))


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
        _checked({"dim_x": dim_x, "dim_y": dim_y, "hidden": hidden, "layers": layers}, activation)
        self.input_x = nn.Linear(dim_x, hidden)
        self.input_y = nn.Linear(dim_y, hidden, bias=False)
        bound = 1.0 / math.sqrt(dim_x + dim_y)  # what nn.Linear(dim_x + dim_y, hidden) would use
        with torch.no_grad():
            for tensor in (self.input_x.weight, self.input_x.bias, self.input_y.weight):
                tensor.uniform_(-bound, bound)
        self.body = nn.Sequential(*_body(hidden, layers, 1, activation))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(self.input_x(x) + self.input_y(y)).squeeze(-1)

    def joint_and_marginal(
        self, x: torch.Tensor, y: torch.Tensor, marginal_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of the pairs ``(x_i, y_i)`` and of the shuffled pairs ``(x_i, y_index[i])``."""
        hx, hy = self.input_x(x), self.input_y(y)
        scores = self.body(torch.cat([hx + hy, hx + hy[marginal_index]])).squeeze(-1)
        return scores[: x.shape[0]], scores[x.shape[0]:]


class SeparableNetwork(nn.Module):
    """``T(x, y) = g(x)^T h(y)``: two MLPs (``layers`` x ``hidden``, ``activation``) to ``embedding`` dims.

    >>> net = SeparableNetwork(dim_x=3, dim_y=2, hidden=8, embedding=4)
    >>> x, y = torch.rand(5, 3), torch.rand(5, 2)
    >>> net(x, y).shape, net.scores(x, y).shape
    (torch.Size([5]), torch.Size([5, 5]))
    >>> torch.allclose(net.scores(x, y).diagonal(), net(x, y))
    True
    """

    def __init__(
        self, dim_x: int, dim_y: int, hidden: int = 256, layers: int = 2, activation: str = "elu",
        embedding: int = 32,
    ) -> None:
        super().__init__()
        sizes = {"dim_x": dim_x, "dim_y": dim_y, "hidden": hidden, "layers": layers, "embedding": embedding}
        _checked(sizes, activation)
        self.g = _mlp(dim_x, hidden, layers, embedding, activation)
        self.h = _mlp(dim_y, hidden, layers, embedding, activation)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.g(x) * self.h(y)).sum(-1)

    def scores(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``T(x_i, y_j)`` for every ``i, j``: ``(N, M)``, one matrix product."""
        return self.g(x) @ self.h(y).T


class StackedLinear(nn.Module):
    """``E`` linear layers as one: ``weight (E, out, in)``, ``bias (E, out)`` (or none).

    ``forward(x)`` takes ``(E, R, in)`` (member ``e`` maps ``x[e]``) or ``(R, in)`` (every member
    maps the same rows) and returns ``(E, R, out)``. On the CPU each member's product is the very
    call a single ``nn.Linear`` makes (``F.linear`` on its slice of the weights), so a member
    computes what its own network computes, bit for bit: batched kernels (``bmm``) round
    differently from single ones for some shapes and thread counts. On CUDA the members run as
    one ``baddbmm`` (far fewer kernel launches), equal to single runs to float32 rounding.

    >>> layers = [nn.Linear(3, 2) for _ in range(4)]
    >>> stacked, x = StackedLinear.stack(layers), torch.rand(5, 3)
    >>> out = stacked(x)
    >>> out.shape, all(torch.equal(out[e], layers[e](x)) for e in range(4))
    (torch.Size([4, 5, 2]), True)
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = None if bias is None else nn.Parameter(bias)

    @classmethod
    def stack(cls, layers: Sequence[nn.Linear]) -> StackedLinear:
        """The members' layers (copied) as one module."""
        weight = torch.stack([layer.weight.detach() for layer in layers])
        has_bias = layers[0].bias is not None
        return cls(weight, torch.stack([layer.bias.detach() for layer in layers]) if has_bias else None)

    @property
    def batched(self) -> bool:
        """Whether the members' products run as one ``baddbmm`` (on CUDA) rather than one by one.

        >>> StackedLinear.stack([nn.Linear(2, 2)]).batched
        False
        """
        return self.weight.is_cuda

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members = self.weight.shape[0]
        if self.batched:
            x = x.expand(members, *x.shape) if x.dim() == 2 else x
            weight = self.weight.transpose(1, 2)
            return torch.bmm(x, weight) if self.bias is None else torch.baddbmm(self.bias[:, None], x, weight)
        inputs = [x] * members if x.dim() == 2 else x.unbind(0)
        biases = [None] * members if self.bias is None else self.bias.unbind(0)
        return torch.stack([linear(*args) for args in zip(inputs, self.weight.unbind(0), biases)])


class _StackedMLP(nn.Sequential):
    """The members' ``nn.Sequential`` MLPs as one: linear layers stacked, activations shared."""

    @classmethod
    def stack(cls, mlps: Sequence[nn.Sequential]) -> _StackedMLP:
        modules = [StackedLinear.stack(list(parts)) if isinstance(parts[0], nn.Linear) else parts[0]
                   for parts in zip(*mlps)]
        return cls(*modules)


class CriticEnsemble(nn.Module):
    """``E`` critics of one architecture trained as one model; member ``e`` is ``members[e]`` (copied).

    Features: :meth:`features` maps ``x`` ``(E, R, dx)`` or ``(R, dx)`` and ``y`` ``(E, R, dy)``
    to per-member features (the first-layer projections for the joint critic, the embeddings
    ``g(x)``, ``h(y)`` for the separable one); :meth:`paired` scores row ``i`` against row ``i``
    ``(E, R)``; :meth:`grid` scores every row of ``x`` against every row of ``y`` ``(E, R, R')``.

    >>> members = [StatisticsNetwork(3, 2, hidden=8) for _ in range(2)]
    >>> ensemble, x, y = CriticEnsemble(members), torch.rand(5, 3), torch.rand(5, 2)
    >>> fx, fy = ensemble.features(x, y.expand(2, 5, 2))
    >>> scores = ensemble.paired(fx, fy)
    >>> scores.shape, torch.allclose(scores[1], members[1](x, y))
    (torch.Size([2, 5]), True)
    >>> torch.allclose(ensemble.grid(fx, fy)[0, 1, 3], members[0](x[1:2], y[3:4])[0])
    True
    """

    def __init__(self, members: Sequence[StatisticsNetwork | SeparableNetwork]) -> None:
        super().__init__()
        self.separable = isinstance(members[0], SeparableNetwork)
        if self.separable:
            self.g = _StackedMLP.stack([m.g for m in members])
            self.h = _StackedMLP.stack([m.h for m in members])
        else:
            self.input_x = StackedLinear.stack([m.input_x for m in members])
            self.input_y = StackedLinear.stack([m.input_y for m in members])
            self.body = _StackedMLP.stack([m.body for m in members])

    def features(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-member features of ``x`` and ``y``, ``(E, R, features)`` each."""
        if self.separable:
            return self.g(x), self.h(y)
        return self.input_x(x), self.input_y(y)

    def paired(self, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        """``T(x_i, y_i)`` from the features of aligned rows: ``(E, R)``."""
        if self.separable:
            return (fx * fy).sum(-1)
        return self.body(fx + fy).squeeze(-1)

    def grid(self, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        """``T(x_i, y_j)`` for all ``i, j``: ``(E, R, R')``. Separable: one matrix product per member
        (one ``bmm`` on CUDA); joint: ``R R'`` evaluations of the layers after the first
        (``(E, R R', hidden)`` activations)."""
        if self.separable and fx.is_cuda:
            return torch.bmm(fx, fy.transpose(1, 2))
        if self.separable:  # member by member, as a single network's matmul (see StackedLinear)
            return torch.stack([a @ b.T for a, b in zip(fx.unbind(0), fy.unbind(0))])
        members, rows, width = fx.shape
        pairs = (fx[:, :, None, :] + fy[:, None, :, :]).reshape(members, -1, width)
        return self.body(pairs).view(members, rows, fy.shape[1])
