"""The settings every run shares, checked once: :class:`RunSettings` (and :class:`TrainingSettings`,
with a thread count) is the base of every run's frozen config; :func:`configured` applies a call's
keyword overrides to a config; one seed rule (:func:`run_seed`) and one short-last-batch rule
(:func:`batches_per_epoch`) serve every loop.

>>> settings = TrainingSettings(epochs=2, batch_size=8, lr=0.1, seed=3, device="cpu")
>>> configured(settings, TrainingSettings, {"epochs": 5}).epochs
5
>>> configured(settings, TrainingSettings, {"epoch": 5})
Traceback (most recent call last):
...
TypeError: unknown setting 'epoch' for TrainingSettings (did you mean 'epochs'?); accepted: batch_size, device, epochs, lr, num_threads, seed
"""

from __future__ import annotations

import difflib
import inspect
import secrets
from copy import copy as shallow_copy
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import torch

from .._checks import integer, number, optional_positive_int, positive_int
from ..tensors import resolve_device

SEED_END = 2**63 - 1
"""Seeds are ints in ``[0, SEED_END)``: ``seed + 1`` (the batches' generator) fits a signed 64-bit
int too, and every seed is a valid ``torch.Generator().manual_seed`` argument."""

Settings = TypeVar("Settings", bound="RunSettings")


def run_seed(value: Any, name: str = "seed") -> int:
    """A run's seed: an int in ``[0, 2**63 - 1)``; ``None`` draws one from the operating system.

    >>> run_seed(7), 0 <= run_seed(None) < SEED_END
    (7, True)
    """
    if value is None:
        return secrets.randbelow(SEED_END)
    value = integer(value, name)
    if not 0 <= value < SEED_END:
        raise ValueError(f"{name} must be in [0, 2**63 - 1), got {value}")
    return value


def batches_per_epoch(n: int, batch_size: int, smallest_last: int) -> int:
    """Batches in one pass over ``n`` items cut into batches of ``min(batch_size, n)``: every full
    batch, and the trailing short one only when it holds at least ``smallest_last`` items.

    The one rule of every training loop: a trailing batch smaller than ``smallest_last`` is dropped
    (the order is reshuffled every epoch, so no item is left out for good). Each loop states its
    ``smallest_last`` beside its batches, and why: 2 for the transformation networks and the attacks
    (:func:`~imgleak.training.common.shuffled_batches`: BatchNorm's batch statistics need two rows);
    ``max(2, batch // 4)`` for the classifier (a small batch also skews BatchNorm's running
    statistics); the whole batch for the neural MI ensemble (its members' batches are stacked into
    one tensor, and the shuffled pairs of a batch need other rows). These are the loops' earlier
    rules, so no recorded number moves.

    >>> batches_per_epoch(21, 8, 2), batches_per_epoch(17, 8, 2), batches_per_epoch(21, 8, 8)
    (3, 2, 2)
    """
    batch = min(batch_size, n)
    rest = n % batch
    return n // batch + int(0 < rest and smallest_last <= rest)


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What every run is given, checked here once (a bad value raises a ``TypeError``/``ValueError``
    naming it):

    * ``epochs``: passes over the training data (>= 1);
    * ``batch_size``: minibatch size (>= 1; loops cap it at their training-set size);
    * ``lr``: the learning rate (> 0; ``None`` where the loop picks one per network);
    * ``seed``: an int in ``[0, 2**63 - 1)`` (:func:`run_seed`); ``None`` draws one, recorded here;
    * ``device``: ``"auto"`` (CUDA when present), any torch device (kept as text), or ``None`` where
      the loop takes its data's device.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float | None = None
    seed: int | None = 0
    device: str | torch.device | None = "auto"

    def __post_init__(self) -> None:
        self._set("epochs", positive_int(self.epochs, "epochs"))
        self._set("batch_size", positive_int(self.batch_size, "batch_size"))
        if self.lr is not None:
            self._set("lr", number(self.lr, "lr", positive=True))
        self._set("seed", run_seed(self.seed))
        if self.device is not None:
            self._set("device", str(resolve_device(self.device)))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)


@dataclass(frozen=True, kw_only=True)
class TrainingSettings(RunSettings):
    """:class:`RunSettings` and ``num_threads``: torch's CPU threads for the run only (``None``: the
    caller's count; the caller's count comes back after the run)."""

    num_threads: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("num_threads", optional_positive_int(self.num_threads, "num_threads"))


def filled(config: Settings, **values: Any) -> Settings:
    """A copy of ``config`` with the facts of a run's data (fields no caller passes) set to ``values``.

    >>> settings = TrainingSettings(device="cpu")
    >>> filled(settings, num_threads=2).num_threads, settings.num_threads
    (2, None)
    """
    copy = shallow_copy(config)  # not replace(): it would reset the fields no caller passes
    for name, value in values.items():
        object.__setattr__(copy, name, value)
    return copy


def setting_names(kind: type[RunSettings]) -> list[str]:
    """The names a config of ``kind`` accepts (its constructor's keywords), sorted.

    >>> setting_names(RunSettings)
    ['batch_size', 'device', 'epochs', 'lr', 'seed']
    """
    return sorted(inspect.signature(kind).parameters)


def configured(config: Any, kind: type[Settings], overrides: dict[str, Any]) -> Settings:
    """``config`` (a ``kind``) with a call's keyword ``overrides`` applied by ``dataclasses.replace``;
    a ``TypeError`` for a config of another type or an override ``kind`` does not accept."""
    if not isinstance(config, kind):
        raise TypeError(f"config must be a {kind.__name__}, got {type(config).__name__}")
    accepted = setting_names(kind)
    for name in overrides:
        if name not in accepted:
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"unknown setting {name!r} for {kind.__name__}{hint}; accepted: {', '.join(accepted)}")
    return replace(config, **overrides) if overrides else config


__all__ = ["SEED_END", "RunSettings", "TrainingSettings", "batches_per_epoch", "configured", "filled", "run_seed",
           "setting_names"]
