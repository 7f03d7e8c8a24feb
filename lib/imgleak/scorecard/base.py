"""What every criterion of the scorecard returns, the budgets that size them, and the context
a cell runs in.

A *cell* is one scheme × one criterion × one seed: an independent task. A criterion is a
function ``criterion(subject, context) -> list[Measurement]``; each measurement becomes one row
of the scorecard table (scheme, criterion, seed, value, unit, which direction leaks more, the
settings that produced it, seconds).

>>> m = Measurement("entropy", 7.99, "bits", "lower", {"images": 4})
>>> m.leaks_more, m.to_row()["setting"]
('lower', '{"images": 4}')
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from .._checks import boolean
from ..ciphers import Cipher
from ..ciphers.base import check_cipher

ADVERSARIES = ("statistical", "ciphertext-only", "known-plaintext", "chosen-plaintext", "key", "none")
"""What the attacker behind a measurement has: cipher images only and no learning (``statistical``),
cipher images and learning (``ciphertext-only``: FR, ITN, GAN, MINE), plain/cipher pairs under the
key (``known-plaintext``), encryptions of images of its choice (``chosen-plaintext``: differential
and distinguishing games), the key's structure (``key``); ``none`` for what is not an attack (cost,
utility). Each criterion module declares its own (``ADVERSARY``; a measurement may name another)."""

DIRECTIONS = ("higher", "lower", "none")
"""Which way a value leaks more: ``higher`` (e.g. MI, SSIM of an attack), ``lower`` (e.g.
entropy, NPCR), ``none`` (cost, key space as a count: not a leakage)."""


def _real(value: Any, name: str, criterion: str) -> float:
    """``value`` as a ``float`` (ints, floats, numpy and 0-d tensor numbers; inf and NaN kept), else a named ``TypeError``."""
    if not isinstance(value, (str, bytes, bool)) and value is not None:
        try:
            return float(value)
        except (TypeError, ValueError, RuntimeError):
            pass
    raise TypeError(f"Measurement {name} must be a real number (inf and NaN allowed), got {type(value).__name__} "
                    f"{value!r} (criterion {criterion!r})")


@dataclass(frozen=True)
class Measurement:
    """One number a criterion measured: ``value`` in ``unit``; ``leaks_more`` is one of
    :data:`DIRECTIONS`; ``setting`` the parameters that produced it (JSON-serialisable);
    ``verdict`` an optional test outcome (``"pass"``/``"fail"``) for statistical tests;
    ``p_value`` the one-sided p-value in the leak direction under the measurement's analytic null
    (a random cipher), NaN where there is none (then the one-time pad's values are the null);
    ``adversary`` one of :data:`ADVERSARIES`, or empty for its module's ``ADVERSARY``."""

    criterion: str
    value: float
    unit: str
    leaks_more: str
    setting: Mapping[str, Any] = field(default_factory=dict)
    verdict: str = ""
    p_value: float = math.nan
    adversary: str = ""

    def __post_init__(self) -> None:
        if self.leaks_more not in DIRECTIONS:
            raise ValueError(f"leaks_more must be one of {DIRECTIONS}, got {self.leaks_more!r}")
        if self.adversary and self.adversary not in ADVERSARIES:
            raise ValueError(f"adversary must be one of {ADVERSARIES}, got {self.adversary!r}")
        object.__setattr__(self, "value", _real(self.value, "value", self.criterion))
        object.__setattr__(self, "p_value", _real(self.p_value, "p_value", self.criterion))

    def to_row(self) -> dict[str, Any]:
        """The measurement as table columns (``setting`` as sorted JSON)."""
        row = asdict(self)
        row["setting"] = json.dumps(dict(self.setting), sort_keys=True, default=str)
        return row


@dataclass(frozen=True)
class Budget:
    """Every size the criteria use, in one place (see :data:`BUDGETS`)."""

    name: str
    images: int  # plain images (crops) the statistical and information criteria use
    size: int  # crop side in pixels (a multiple of 16: every library scheme takes it)
    mine_pairs: int  # co-located patch pairs for MINE
    mine_epochs: int
    patch: int  # patch side for MINE on pixels
    embedding_pairs: int
    attack_train: int  # attack training crops (photos disjoint from the test crops)
    attack_test: int
    attack_epochs: int
    gan_epochs: int
    utility_train: int  # digits
    utility_test: int
    utility_epochs: int
    tn_epochs: int  # training of the TN-model / TN-GAN keys
    throughput_images: int
    attack_batch: int = 32  # minibatch of the ITN and GAN attacks (small budgets need the optimiser steps)
    attack_lr: float | None = None  # the ITN's learning rate; None: the network's own (inverse_network.DEFAULT_LR)


BUDGETS: dict[str, Budget] = {
    "quick": Budget("quick", images=4, size=32, mine_pairs=512, mine_epochs=3, patch=8, embedding_pairs=64,
                    attack_train=128, attack_test=32, attack_epochs=4, gan_epochs=4, utility_train=400,
                    utility_test=100, utility_epochs=5, tn_epochs=1, throughput_images=16, attack_batch=8,
                    attack_lr=1e-2),
    "default": Budget("default", images=16, size=64, mine_pairs=4000, mine_epochs=10, patch=8, embedding_pairs=512,
                      attack_train=256, attack_test=64, attack_epochs=4, gan_epochs=4, utility_train=1000,
                      utility_test=500, utility_epochs=4, tn_epochs=4, throughput_images=128, attack_batch=16,
                      attack_lr=1e-2),
    "paper": Budget("paper", images=100, size=96, mine_pairs=20000, mine_epochs=20, patch=16, embedding_pairs=4000,
                    attack_train=4000, attack_test=1000, attack_epochs=30, gan_epochs=50, utility_train=1400,
                    utility_test=397, utility_epochs=20, tn_epochs=20, throughput_images=1024),
}
"""``quick`` (seconds a cell, for tests and the book), ``default`` (the bundled photos on a 2-core CPU),
``paper`` (a GPU). Even ``quick`` gives the judging criteria enough to learn (``bench/README.md``): 64 optimiser
steps at lr 1e-2 for the ITN attacks (SSIM about 0.9 on ``identity``, 0.6 on ``blockwise``, the guesses about
0.33) and 400 digits x 5 epochs for the utility classifier (0.82-0.88 plain accuracy; 200 x 1 stayed at chance)."""


@dataclass(frozen=True)
class Subject:
    """A scheme under test: its scorecard ``name``, the ``cipher`` (any :class:`~imgleak.ciphers.base.Cipher`)
    and how a key is made for a seed (``make_key(seed, shape)``; default: the cipher's own).

    Learned schemes train their key (a network) on the run's images: ``make_key`` is given the
    context so it can, and ``trained_keys`` says so (criteria that need many keys skip them).
    Keys never leave the process: reports carry :func:`fingerprint` only.
    """

    name: str
    cipher: Cipher
    make_key: Callable[[int, "Context"], Any] | None = None
    trained_keys: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Subject name must be a non-empty str, got {self.name!r}")
        check_cipher(self.cipher, f"Subject {self.name!r}: cipher")
        if self.make_key is not None and not callable(self.make_key):
            raise TypeError(f"Subject {self.name!r}: make_key must be None or a function (seed, context) -> key, "
                            f"got {type(self.make_key).__name__}")
        boolean(self.trained_keys, "trained_keys")

    def key(self, seed: int, context: "Context") -> Any:
        """The key for ``seed`` (the cipher's ``make_key`` unless this subject trains one)."""
        if self.make_key is not None:
            return self.make_key(seed, context)
        return self.cipher.make_key(seed, tuple(context.images.shape[1:]))


@dataclass(frozen=True)
class Context:
    """What a cell runs on: the plain ``images`` (uint8 ``(N, C, H, W)``, ``budget.images`` crops of
    ``budget.size``), the full-size ``sources`` they were cut from (uint8 ``(C, H, W)`` each, in
    order: criteria that need more crops, such as the attacks, cut their own and split them by
    source), the ``seed``, the ``budget`` and the ``device``; ``labels`` (int64 ``(N,)``) when the
    images have classes of their own (the utility criterion's digits), which learned keys train on."""

    images: torch.Tensor
    seed: int
    budget: Budget
    sources: tuple[torch.Tensor, ...] = ()
    device: torch.device = torch.device("cpu")
    labels: torch.Tensor | None = None


Criterion = Callable[[Subject, Context], list[Measurement]]
"""A criterion: measures one subject in one context."""


def check_cell(subject: Any, context: Any) -> tuple[Subject, Context]:
    """``(subject, context)`` if they are a :class:`Subject` and a :class:`Context` (``TypeError`` otherwise):
    the first line of every criterion.

    >>> check_cell("identity", None)
    Traceback (most recent call last):
    ...
    TypeError: subject must be an imgleak.scorecard Subject, got str
    """
    if not isinstance(subject, Subject):
        raise TypeError(f"subject must be an imgleak.scorecard Subject, got {type(subject).__name__}")
    if not isinstance(context, Context):
        raise TypeError(f"context must be an imgleak.scorecard Context, got {type(context).__name__}")
    return subject, context


def check_budget(budget: Budget | str) -> Budget:
    """``budget`` as a :class:`Budget` (a name of :data:`BUDGETS` or one already).

    >>> check_budget("quick").size
    32
    >>> check_budget("huge")
    Traceback (most recent call last):
    ...
    ValueError: budget must be one of ['default', 'paper', 'quick'] or a Budget, got 'huge'
    """
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, str) and budget in BUDGETS:
        return BUDGETS[budget]
    raise ValueError(f"budget must be one of {sorted(BUDGETS)} or a Budget, got {budget!r}")
