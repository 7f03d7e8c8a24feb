"""The settings and the result of a neural MI estimate (:func:`imgleak.mi.mine.estimate_mi`).

>>> NeuralMIConfig(objective="infonce", critic="separable").bound
'infonce'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from imgleak._checks import boolean, choice, fraction, non_negative_int, number, optional_positive_int, positive_int
from imgleak.results import Result
from imgleak.tensors import resolve_device
from imgleak.training.run_settings import RunSettings, batches_per_epoch, filled

from .bounds import OBJECTIVES
from .critics import ACTIVATIONS

CRITICS = ("joint", "separable")
LR_SCHEDULES = ("cosine", "constant")
FINAL_LR_FACTOR = 0.01  # the cosine schedule ends at lr * FINAL_LR_FACTOR
# A working network never drives the training DV bound far below zero (a constant T gives 0);
# an epoch mean below this is a diverged run whose scores T exploded.
DIVERGED_BELOW_NATS = -5.0
LN2 = math.log(2.0)

__all__ = ["CRITICS", "DIVERGED_BELOW_NATS", "FINAL_LR_FACTOR", "LN2", "LR_SCHEDULES", "NeuralMIConfig",
           "NeuralMIDivergenceError", "NeuralMIResult", "OBJECTIVES"]


class NeuralMIDivergenceError(FloatingPointError, ValueError):
    """Training diverged: a loss or an estimate became NaN or infinite (the message gives the epoch)."""


@dataclass
class NeuralMIResult(Result):
    """What :func:`estimate_mi` measured (with any objective), and the settings that produced it.

    * ``mi_nats``/``mi_bits``: the held-out bound named by ``bound`` (the objective's, e.g. ``"dv"``,
      ``"nwj"``, ``"smile"``, ``"infonce"``) at epoch ``epoch``: the last ``test_curve`` value
      (``epoch`` = ``epochs``), or with ``early_stopping=patience`` the best one (``epoch`` the best
      epoch; the best of several held-out values is biased upwards by their noise - slightly, with a
      few thousand held-out pairs).
    * ``test_curve[e]``: that held-out bound after epoch ``e``; for the DV family the marginal term
      uses ``test_shuffles`` fixed random derangements of the held-out ``y`` (the same every epoch).
    * ``train_curve[e]``: the minibatch DV bound on the training pairs averaged over epoch ``e``
      (optimistic: the network is fitted on those pairs), whatever the objective;
      ``objective_curve[e]``: the same for the objective's own bound.
    * ``ceiling_nats``: the most the reported bound can be - ``log K`` for InfoNCE over held-out
      batches of ``K`` pairs, ``inf`` otherwise.
    * ``diverged``: ``None``, or why the run stopped (then ``mi_nats`` is NaN, ``epoch`` the epoch it
      diverged at and the curves end before it).
    * ``n_train``/``n_test``: sizes of the split; ``seconds``: the wall time of the training that
      produced it (for :func:`~imgleak.mi.mine.estimate_mi_many`, the whole ensemble's).

    A lower bound estimated from samples can be slightly **negative** when the true MI is zero: the
    held-out DV of an independent pair fluctuates around, and slightly below, zero.

    >>> result = NeuralMIResult(mi_nats=math.log(2), mi_bits=1.0, train_curve=[math.log(4)],
    ...                     test_curve=[math.log(2)], settings={}, n_train=8, n_test=2)
    >>> result.train_curve_bits, result.test_curve_bits
    ([2.0], [1.0])
    >>> list(result.to_dataframe().columns)
    ['epoch', 'train_nats', 'test_nats', 'train_bits', 'test_bits', 'objective']
    >>> result.to_dict()["n_train"], result.bound, result.ceiling_nats
    (8, 'dv', inf)
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
    bound: str = "dv"
    epoch: int = 0
    ceiling_nats: float = math.inf
    diverged: str | None = None

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
class NeuralMIConfig(RunSettings):
    """The settings of :func:`~imgleak.mi.mine.estimate_mi`, each with its default; ``asdict()`` of
    the run's filled copy (:meth:`for_data`) is ``NeuralMIResult.settings``. A bad value raises a
    ``TypeError``/``ValueError`` naming it.

    * ``objective``: a name of :data:`~imgleak.mi.bounds.OBJECTIVES` (``"mine"``, ``"dv"``, ``"nwj"``,
      ``"smile"``, ``"infonce"``), whose entry says how it trains and which bound it reports
      (``result.bound``);
    * ``critic``: ``"joint"`` (an MLP on ``[x, y]``) or ``"separable"`` (``g(x)^T h(y)``: every pair
      of a batch in one matrix product; :mod:`imgleak.mi.critics`);
    * ``clip``, ``embedding``: SMILE's ``tau`` (``exp T`` clipped to ``[e^-clip, e^clip]`` in the
      partition term; ``"smile"`` only) and the output dimension of the separable critic's ``g``
      and ``h``;
    * ``early_stopping``: ``None`` (train all ``epochs``) or a patience: stop once the held-out
      bound has not improved for that many epochs and report the best epoch's value;
    * ``epochs``, ``batch_size``, ``lr``: passes over the training pairs, minibatch size (at least
      2, capped at the training pairs; an incomplete last batch is dropped, the pairs are reshuffled
      every epoch) and Adam's learning rate;
    * ``lr_schedule``: ``"cosine"`` from ``lr`` to ``lr / 100`` (a stable last-epoch value) or
      ``"constant"``;
    * ``hidden``, ``layers``, ``activation``: width, hidden layers and activation (``"elu"``,
      ``"relu"``) of ``T``; the defaults (2 x 256 ELU, Adam 1e-3, batch 256, EMA 0.99) are the
      reference's for embeddings;
    * ``ema_decay``: weight on the old value of MINE's moving average (``0.99`` = gtegner's
      ``alpha = 0.01``);
    * ``test_fraction``, ``test_shuffles``: share of the pairs held out (a seeded random split) and
      the number of fixed random derangements of held-out ``y`` for the held-out marginal term;
    * ``standardize``: z-score each feature with the training split's statistics (MI is unchanged);
    * ``ranks``: normal scores per feature, fitted on the training split, before ``standardize``
      (MI is invariant; :func:`~imgleak.mi.ensemble.normal_scores`). For continuous inputs: on the
      ground truth (``bench/README.md``) it removed every heavy-tail miss, but hurt integer-valued
      data;
    * ``seed``: seeds the split, the batches, the shuffles and the network's initialisation (the
      global torch RNG is untouched); ``None`` draws one, recorded here;
    * ``device``: ``None``: ``x``'s device if a tensor, else CPU; ``"auto"``: CUDA when available;
      or any torch device.

    Filled by :meth:`for_data`: the data's shape (``dim_x``, ``dim_y``, ``n`` pairs), ``device``,
    ``effective_batch_size`` (``batch_size`` capped at the training pairs) and ``batches_per_epoch``
    (InfoNCE's held-out batches have ``min(effective_batch_size, n_test)`` pairs).

    >>> config = NeuralMIConfig(batch_size=512).for_data(n=1000, dim_x=2, dim_y=3, device="cpu")
    >>> config.n_train, config.n_test, config.effective_batch_size, config.batches_per_epoch
    (800, 200, 512, 1)
    >>> NeuralMIConfig(ema_decay=1.0)
    Traceback (most recent call last):
    ...
    ValueError: ema_decay must be a number in [0, 1), got 1.0
    """

    objective: str = "mine"
    critic: str = "joint"
    clip: float = 5.0
    early_stopping: int | None = None
    embedding: int = 32
    epochs: int = 100
    batch_size: int = 256
    effective_batch_size: int | None = field(default=None, init=False)
    batches_per_epoch: int | None = field(default=None, init=False)
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    hidden: int = 256
    layers: int = 2
    activation: str = "elu"
    ema_decay: float = 0.99
    test_fraction: float = 0.2
    test_shuffles: int = 10
    standardize: bool = True
    ranks: bool = False
    device: str | torch.device | None = None
    dim_x: int | None = field(default=None, init=False)
    dim_y: int | None = field(default=None, init=False)
    n: int | None = field(default=None, init=False)
    optimizer: str = field(default="Adam", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        checked = {
            "objective": choice(self.objective, "objective", tuple(OBJECTIVES)),
            "critic": choice(self.critic, "critic", CRITICS),
            "clip": number(self.clip, "clip", positive=True),
            "early_stopping": optional_positive_int(self.early_stopping, "early_stopping"),
            "embedding": positive_int(self.embedding, "embedding"),
            "batch_size": _batch_size(self.batch_size),
            "lr_schedule": choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES),
            "hidden": positive_int(self.hidden, "hidden"),
            "layers": positive_int(self.layers, "layers"),
            "activation": choice(self.activation, "activation", tuple(ACTIVATIONS)),
            "ema_decay": fraction(self.ema_decay, "ema_decay", zero=True),
            "test_fraction": fraction(self.test_fraction, "test_fraction"),
            "test_shuffles": positive_int(self.test_shuffles, "test_shuffles"),
            "standardize": boolean(self.standardize, "standardize"),
            "ranks": boolean(self.ranks, "ranks"),
        }
        for name, value in checked.items():
            self._set(name, value)

    def for_data(self, *, n: int, dim_x: int, dim_y: int, device: str | torch.device) -> NeuralMIConfig:
        """This config filled for ``n`` pairs of ``dim_x``- and ``dim_y``-dimensional samples, on
        ``device`` unless the config names one."""
        config = filled(self, n=non_negative_int(n, "n"), dim_x=positive_int(dim_x, "dim_x"),
                        dim_y=positive_int(dim_y, "dim_y"),
                        device=str(resolve_device(device if self.device is None else self.device)))
        if config.n_test < 2 or config.n_train < 2:
            raise ValueError(
                f"too few samples: N={n} with test_fraction={self.test_fraction} gives {config.n_train} "
                f"training and {config.n_test} held-out pairs; both need at least 2 (give more pairs or change "
                "test_fraction)"
            )
        batch = min(self.batch_size, config.n_train)
        # the ensemble stacks its members' batches into one tensor: only full batches (smallest last = batch)
        steps = batches_per_epoch(config.n_train, batch, batch)
        return filled(config, effective_batch_size=batch, batches_per_epoch=steps)

    @property
    def bound(self) -> str:
        """The held-out bound reported: ``OBJECTIVES[objective].bound``."""
        return OBJECTIVES[self.objective].bound

    @property
    def n_test(self) -> int:
        """Held-out pairs: ``round(n * test_fraction)``."""
        return int(round(self.n * self.test_fraction))

    @property
    def n_train(self) -> int:
        """Training pairs: the rest."""
        return self.n - self.n_test


def _batch_size(value: Any) -> int:
    """A batch of at least 2 pairs: the critic's product-of-marginals pairs each ``x`` with the ``y`` of
    another row of its batch, and a batch of one has no other row."""
    value = positive_int(value, "batch_size")
    if value < 2:
        raise ValueError("batch_size must be at least 2: the shuffled (product-of-marginals) pairs match each x "
                         "with another row's y in its batch, and with one row the 'shuffled' pair is the pair "
                         "itself (the estimate would be about 0 nats whatever the data)")
    return value
