"""Tasks with a known mutual information, for checking MI estimators against the truth.

Each task is a frozen dataclass with a ``name``, its true ``mi_nats`` and a method
``sample(n, seed)`` returning ``n`` paired samples ``(x, y)`` as CPU ``float32`` tensors
``(n, dx)`` and ``(n, dy)`` (drawn in float64 with ``numpy.random.default_rng(seed)``):

* :class:`CorrelatedGaussian` - ``X ~ N(0, I_d)``, ``Y = rho X + sqrt(1 - rho^2) Z``:
  ``I = -d/2 log(1 - rho^2)``; ``rho = 0`` gives independent pairs, ``I = 0``.
* :class:`StudentT` - the same pair divided by one shared ``sqrt(W / nu)``, ``W ~ chi2(nu)``:
  ``(X, Y)`` is jointly multivariate t with ``nu`` degrees of freedom and scale
  ``R = [[I, rho I], [rho I, I]]``. Its MI (Arellano-Valle, Contreras-Reyes & Genton 2013,
  Scand. J. Stat. 40) is the Gaussian term plus a positive term in ``nu`` and the dimensions:
  the shared scale makes ``X`` and ``Y`` dependent even for ``rho = 0``.
* :class:`Transformed` - any task with strictly increasing maps applied to every coordinate of
  ``x`` and of ``y`` (:data:`MONOTONE_MAPS`): the MI is unchanged, the marginals are not.
* :class:`NoisyModular` - ``X`` uniform on ``{0, ..., K-1}``, ``Y = X + D mod K`` with
  ``D = -1`` or ``+1`` each with probability ``flip / 2`` (else 0): ``I = log K - H(D)``. The
  values are integers stored as floats; the plug-in histogram MI of a sample is the exact MI of
  its empirical table.

:data:`SUITE` holds the tasks of the accuracy benchmark (``bench/mi_accuracy.py``);
:func:`find_task` looks one up by name.

>>> [task.name for task in SUITE][:4]
['gauss-1d-rho0.75', 'gauss-5d-rho0.5', 'gauss-10d-rho0.5', 'gauss-20d-rho0.4']
>>> round(find_task("t-5d-rho0-nu3").mi_nats, 4)  # no correlation, yet dependent
0.2985
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import digamma, gammaln

from imgleak._checks import choice, fraction, non_negative_int, number, positive_int

Pair = tuple[np.ndarray, np.ndarray]
Map = Callable[[np.ndarray], np.ndarray]


def _cube(values: np.ndarray) -> np.ndarray:
    return values**3


# name -> (map applied to every coordinate of x, map applied to every coordinate of y);
# all strictly increasing on the whole real line
MONOTONE_MAPS: dict[str, tuple[Map, Map]] = {
    "cube-exp": (_cube, np.exp),
    "sinh-asinh": (np.sinh, np.arcsinh),
    "asinh": (np.arcsinh, np.arcsinh),
}

__all__ = ["MONOTONE_MAPS", "SUITE", "CorrelatedGaussian", "NoisyModular", "StudentT", "Transformed",
           "find_task", "student_t_dof_term"]


class _Task:
    """What every task shares: ``sample`` draws with a seeded numpy generator from ``_draw``."""

    def _draw(self, n: int, rng: np.random.Generator) -> Pair:
        raise NotImplementedError

    def sample(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` pairs ``(x, y)``: CPU ``float32`` tensors ``(n, dx)``, ``(n, dy)``; the same seed gives the same pairs.

        >>> x, y = CorrelatedGaussian(dim=3, rho=0.5).sample(4, seed=1)
        >>> x.shape, y.dtype
        (torch.Size([4, 3]), torch.float32)
        >>> torch.equal(x, CorrelatedGaussian(dim=3, rho=0.5).sample(4, seed=1)[0])
        True
        """
        n = positive_int(n, "n")
        x, y = self._draw(n, np.random.default_rng(non_negative_int(seed, "seed")))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def _correlation(rho: float) -> float:
    rho = number(rho, "rho", allow_negative=True)
    if not -1 < rho < 1:
        raise ValueError(f"rho must be a number in (-1, 1), got {rho!r}")
    return rho


def _gaussian_pair(n: int, dim: int, rho: float, rng: np.random.Generator) -> Pair:
    x = rng.standard_normal((n, dim))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))


@dataclass(frozen=True)
class CorrelatedGaussian(_Task):
    """``X ~ N(0, I_dim)``, ``Y = rho X + sqrt(1 - rho^2) Z``: ``I(X; Y) = -dim/2 log(1 - rho^2)`` nats.

    >>> task = CorrelatedGaussian(dim=5, rho=0.5)
    >>> task.name, round(task.mi_nats, 4)
    ('gauss-5d-rho0.5', 0.7192)
    >>> CorrelatedGaussian(dim=5, rho=0.0).name, CorrelatedGaussian(dim=5, rho=0.0).mi_nats
    ('independent-5d', 0.0)
    """

    dim: int
    rho: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", positive_int(self.dim, "dim"))
        object.__setattr__(self, "rho", _correlation(self.rho))

    @property
    def name(self) -> str:
        """``gauss-{dim}d-rho{rho}``, or ``independent-{dim}d`` when ``rho = 0``.

        >>> CorrelatedGaussian(dim=1, rho=0.75).name
        'gauss-1d-rho0.75'
        """
        return f"independent-{self.dim}d" if self.rho == 0 else f"gauss-{self.dim}d-rho{self.rho:g}"

    @property
    def mi_nats(self) -> float:
        """``-dim/2 log(1 - rho^2)``.

        >>> math.isclose(CorrelatedGaussian(dim=2, rho=math.sqrt(0.75)).mi_nats, math.log(4))
        True
        """
        return -self.dim / 2 * math.log1p(-self.rho**2)

    def _draw(self, n: int, rng: np.random.Generator) -> Pair:
        return _gaussian_pair(n, self.dim, self.rho, rng)


def student_t_dof_term(dof: float, dim_x: int, dim_y: int) -> float:
    """The part of a multivariate t pair's MI that depends on the degrees of freedom ``nu`` only
    (Arellano-Valle, Contreras-Reyes & Genton 2013): with ``a = nu/2``, ``p = dim_x/2``, ``q = dim_y/2``,
    ``lgamma(a) + lgamma(a+p+q) - lgamma(a+p) - lgamma(a+q)
    + (a+p) psi(a+p) + (a+q) psi(a+q) - a psi(a) - (a+p+q) psi(a+p+q)``; it is positive and
    tends to 0 as ``nu`` grows (the Gaussian limit; about ``dim_x dim_y / (2 nu^2)``, lost to
    rounding beyond ``nu ~ 1e4``).

    >>> round(student_t_dof_term(1.0, 1, 1), 4), 0 < student_t_dof_term(1e4, 3, 2) < 1e-7
    (0.2242, True)
    """
    a, p, q = number(dof, "dof", positive=True) / 2, positive_int(dim_x, "dim_x") / 2, positive_int(dim_y, "dim_y") / 2
    log_gammas = gammaln(a) + gammaln(a + p + q) - gammaln(a + p) - gammaln(a + q)
    digammas = (a + p) * digamma(a + p) + (a + q) * digamma(a + q) - a * digamma(a) - (a + p + q) * digamma(a + p + q)
    return float(log_gammas + digammas)


@dataclass(frozen=True)
class StudentT(_Task):
    """``(X, Y)`` jointly multivariate t with ``dof`` degrees of freedom, ``dim`` + ``dim``
    coordinates and correlation ``rho`` between ``X_i`` and ``Y_i``: the
    :class:`CorrelatedGaussian` pair divided by one shared ``sqrt(W / dof)``, ``W ~ chi2(dof)``.
    ``I = -dim/2 log(1 - rho^2) + student_t_dof_term(dof, dim, dim)``.

    >>> task = StudentT(dim=2, rho=0.5, dof=5)
    >>> task.name, round(task.mi_nats, 4)
    ('t-2d-rho0.5-nu5', 0.3384)
    >>> task.mi_nats > CorrelatedGaussian(dim=2, rho=0.5).mi_nats  # heavier tails, more MI
    True
    """

    dim: int
    rho: float
    dof: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "dim", positive_int(self.dim, "dim"))
        object.__setattr__(self, "rho", _correlation(self.rho))
        object.__setattr__(self, "dof", number(self.dof, "dof", positive=True))

    @property
    def name(self) -> str:
        """``t-{dim}d-rho{rho}-nu{dof}``.

        >>> StudentT(dim=1, rho=0.0, dof=3).name
        't-1d-rho0-nu3'
        """
        return f"t-{self.dim}d-rho{self.rho:g}-nu{self.dof:g}"

    @property
    def mi_nats(self) -> float:
        """The Gaussian term ``-dim/2 log(1 - rho^2)`` plus :func:`student_t_dof_term`.

        >>> StudentT(dim=1, rho=0.0, dof=1).mi_nats == student_t_dof_term(1, 1, 1)
        True
        """
        return -self.dim / 2 * math.log1p(-self.rho**2) + student_t_dof_term(self.dof, self.dim, self.dim)

    def _draw(self, n: int, rng: np.random.Generator) -> Pair:
        x, y = _gaussian_pair(n, self.dim, self.rho, rng)
        scale = np.sqrt(self.dof / rng.chisquare(self.dof, (n, 1)))
        return x * scale, y * scale


@dataclass(frozen=True)
class Transformed(_Task):
    """``base`` with the strictly increasing maps ``MONOTONE_MAPS[maps]`` applied coordinate-wise
    to ``x`` and to ``y``: the same MI, other marginals. ``sample(n, seed)`` maps ``base``'s
    float64 draw for the same seed.

    >>> task = Transformed(CorrelatedGaussian(dim=1, rho=0.75), "cube-exp")
    >>> task.name, task.mi_nats == task.base.mi_nats
    ('cube-exp(gauss-1d-rho0.75)', True)
    >>> x, y = task.sample(3, seed=0)
    >>> bool((y > 0).all())  # exp(y)
    True
    """

    base: _Task
    maps: str

    def __post_init__(self) -> None:
        if not isinstance(self.base, _Task):
            raise TypeError(f"base must be a task of imgleak.mi.ground_truth, got {type(self.base).__name__}")
        choice(self.maps, "maps", tuple(MONOTONE_MAPS))

    @property
    def name(self) -> str:
        """``{maps}({base.name})``.

        >>> Transformed(StudentT(dim=2, rho=0.5, dof=5), "asinh").name
        'asinh(t-2d-rho0.5-nu5)'
        """
        return f"{self.maps}({self.base.name})"

    @property
    def mi_nats(self) -> float:
        """The base task's MI (invariant under coordinate-wise strictly increasing maps).

        >>> Transformed(CorrelatedGaussian(dim=5, rho=0.5), "sinh-asinh").mi_nats == CorrelatedGaussian(5, 0.5).mi_nats
        True
        """
        return self.base.mi_nats

    def _draw(self, n: int, rng: np.random.Generator) -> Pair:
        map_x, map_y = MONOTONE_MAPS[self.maps]
        x, y = self.base._draw(n, rng)
        return map_x(x), map_y(y)


@dataclass(frozen=True)
class NoisyModular(_Task):
    """``X`` uniform on ``{0, ..., levels-1}``, ``Y = X + D mod levels`` with ``D = -1`` or ``+1``
    each with probability ``flip / 2`` and ``D = 0`` otherwise: ``I = log(levels) - H(D)`` nats.
    Samples are ``(n, 1)`` float tensors holding the integer values.

    >>> task = NoisyModular(levels=8, flip=0.2)
    >>> task.name, round(task.mi_nats, 4)
    ('mod8-flip0.2', 1.4404)
    >>> x, y = task.sample(1000, seed=0)
    >>> sorted(set(((y - x) % 8).flatten().tolist()))  # D mod 8
    [0.0, 1.0, 7.0]
    """

    levels: int = 8
    flip: float = 0.2

    def __post_init__(self) -> None:
        if positive_int(self.levels, "levels") < 3:
            raise ValueError(f"levels must be at least 3 (so that -1 and +1 differ mod levels), got {self.levels}")
        object.__setattr__(self, "flip", fraction(self.flip, "flip", zero=True))

    @property
    def name(self) -> str:
        """``mod{levels}-flip{flip}``.

        >>> NoisyModular(levels=4, flip=0.5).name
        'mod4-flip0.5'
        """
        return f"mod{self.levels}-flip{self.flip:g}"

    @property
    def mi_nats(self) -> float:
        """``log(levels) - H(D)`` with ``H(D) = -(1-f) log(1-f) - f log(f/2)``.

        >>> NoisyModular(levels=4, flip=0.0).mi_nats == math.log(4)
        True
        """
        f = self.flip
        noise_entropy = -(1 - f) * math.log1p(-f) - (f * math.log(f / 2) if f > 0 else 0.0)
        return math.log(self.levels) - noise_entropy

    def _draw(self, n: int, rng: np.random.Generator) -> Pair:
        x = rng.integers(0, self.levels, (n, 1))
        step = rng.choice(np.array([-1, 0, 1]), size=(n, 1), p=[self.flip / 2, 1 - self.flip, self.flip / 2])
        return x.astype(np.float64), ((x + step) % self.levels).astype(np.float64)


SUITE: tuple[_Task, ...] = (
    CorrelatedGaussian(dim=1, rho=0.75),
    CorrelatedGaussian(dim=5, rho=0.5),
    CorrelatedGaussian(dim=10, rho=0.5),
    CorrelatedGaussian(dim=20, rho=0.4),
    Transformed(CorrelatedGaussian(dim=1, rho=0.75), "cube-exp"),
    Transformed(CorrelatedGaussian(dim=5, rho=0.5), "cube-exp"),
    Transformed(CorrelatedGaussian(dim=5, rho=0.5), "sinh-asinh"),
    StudentT(dim=1, rho=0.75, dof=3),
    StudentT(dim=2, rho=0.5, dof=5),
    StudentT(dim=5, rho=0.0, dof=3),
    Transformed(StudentT(dim=2, rho=0.5, dof=5), "asinh"),
    CorrelatedGaussian(dim=5, rho=0.0),
    NoisyModular(levels=8, flip=0.2),
)


def find_task(name: str) -> _Task:
    """The task of :data:`SUITE` called ``name``.

    >>> find_task("mod8-flip0.2")
    NoisyModular(levels=8, flip=0.2)
    >>> find_task("gauss-3d")
    Traceback (most recent call last):
    ...
    ValueError: task must be one of 'gauss-1d-rho0.75', ...; got 'gauss-3d'
    """
    by_name = {task.name: task for task in SUITE}
    return by_name[choice(name, "task", tuple(by_name))]
