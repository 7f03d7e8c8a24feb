"""The utility criterion of the scorecard: can a model still learn from the encrypted images?

A small CNN (:class:`~imgleak.nets.small_cnn.SmallClassifier`, width :data:`WIDTH`) is trained with
:func:`~imgleak.training.classifier.train_classifier` on ``budget.utility_train`` encrypted
digits and tested on ``budget.utility_test`` other encrypted digits (scikit-learn's 1,797 8 × 8
digits, :func:`imgleak.images.load_digits`, scaled up by nearest neighbour to
:data:`DIGIT_SIDE` pixels so that the block schemes fit), beside the same classifier trained on
the plain digits. Both are utility, not leakage: ``leaks_more="none"``.

The digits are split with a permutation seeded by ``context.seed``; the training digits are
images 0… of the encrypted set and the test digits follow them (``first_index``), so
per-image-key schemes give every digit its own key. Learned schemes get their key from a
context holding the training digits. A scheme that cannot take 1-channel 32 × 32 digits
(every library scheme can) gets NaN with ``setting["note"]`` naming the error.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F

from ..images import LabelledImages, load_digits
from ..nets.small_cnn import SmallClassifier
from ..training.classifier import train_classifier
from ..training.seeding import seeded_training
from .base import Budget, Context, Criterion, Measurement, Subject, check_cell

DIGIT_SIDE = 32
"""Side of the up-scaled digits: a multiple of 16, so every library scheme (EtC's 16-pixel
blocks included) takes them."""

WIDTH = 32
"""Width of the small CNN. Chosen over the small ViT and ResNet-18 by measurement (1,000 digits,
4 epochs, 2 CPU cores): small CNN 93 % plain accuracy in 2.3 s; ResNet-18 98 % in about 90 s;
small ViT 22 % in about 10 s (it needs far more steps than this budget gives)."""

TRAINING: dict[str, Any] = {"batch_size": 64}
"""Settings of :func:`~imgleak.training.classifier.train_classifier` (the rest are its defaults:
SGD with Nesterov momentum, cosine schedule, no augmentation)."""


@functools.lru_cache(maxsize=1)
def _digits() -> LabelledImages:
    digits = load_digits()
    side = DIGIT_SIDE // int(digits.images.shape[-1])
    images = F.interpolate(digits.images, scale_factor=side, mode="nearest")  # uint8 in, uint8 out
    return replace(digits, images=images.contiguous())


def digit_split(seed: int, budget: Budget) -> tuple[LabelledImages, LabelledImages]:
    """``budget.utility_train`` training and ``budget.utility_test`` test digits (``DIGIT_SIDE``
    pixels, uint8 ``(N, 1, 32, 32)``), disjoint, drawn with a permutation seeded by ``seed``.

    >>> from imgleak.scorecard.base import BUDGETS
    >>> train, test = digit_split(0, BUDGETS["quick"])
    >>> train.images.shape, len(test)
    (torch.Size([400, 1, 32, 32]), 100)
    """
    digits = _digits()
    n_train, n_test = budget.utility_train, budget.utility_test
    if n_train + n_test > len(digits):
        raise ValueError(f"budget.utility_train + budget.utility_test must be at most {len(digits)} (the digits), "
                         f"got {n_train} + {n_test}")
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(seed))
    parts = order[:n_train], order[n_train:n_train + n_test]
    return tuple(LabelledImages(f"digits-{name}", digits.images[rows], digits.labels[rows], digits.classes)
                 for name, rows in zip(("train", "test"), parts))


def _train(train: LabelledImages, test: LabelledImages, seed: int, budget: Budget, device: torch.device) -> float:
    """Best test accuracy of the small CNN (initialised from ``seed``) trained ``budget.utility_epochs`` epochs."""
    with seeded_training(seed, torch.device("cpu")):
        network = SmallClassifier(int(train.images.shape[1]), len(train.classes), WIDTH)
    result = train_classifier(train, test, network, epochs=budget.utility_epochs, seed=seed, device=device,
                              progress=False, **TRAINING)
    return result.best_test_accuracy


@functools.lru_cache(maxsize=16)
def plain_accuracy(seed: int, budget: Budget, device: torch.device) -> float:
    """Accuracy of the classifier trained and tested on the plain digits (cached per process).

    >>> plain_accuracy.cache_info().maxsize  # seeds × budgets × devices kept
    16
    """
    train, test = digit_split(seed, budget)
    return _train(train, test, seed, budget, device)


def utility(subject: Subject, context: Context) -> list[Measurement]:
    """``accuracy`` on encrypted digits and ``plain_accuracy`` on plain ones (fractions; see the module docstring).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), 0, BUDGETS["quick"])
    >>> rows = utility(Subject("identity", ciphers.get("identity")), context)
    >>> [r.criterion for r in rows], rows[0].value == rows[1].value  # identity: the plain run again
    (['accuracy', 'plain_accuracy'], True)
    """
    subject, context = check_cell(subject, context)
    budget, seed = context.budget, context.seed
    train, test = digit_split(seed, budget)
    plain = plain_accuracy(seed, budget, torch.device(context.device))
    setting: dict[str, Any] = {"model": f"SmallClassifier (width {WIDTH})", "epochs": budget.utility_epochs,
                               "train": len(train), "test": len(test), "digit_side": DIGIT_SIDE,
                               "metric": "best test accuracy", **TRAINING}
    digits = Context(train.images, seed, budget, (), context.device, labels=train.labels)
    try:
        key = subject.key(seed, digits)
        x_train = subject.cipher.encrypt(train.images, key, first_index=0)
        x_test = subject.cipher.encrypt(test.images, key, first_index=len(train))
    except (TypeError, ValueError) as err:
        note = f"{subject.name} cannot encrypt 1-channel {DIGIT_SIDE}x{DIGIT_SIDE} digits: {type(err).__name__}: {err}"
        accuracy, setting = math.nan, {**setting, "note": note}
    else:
        accuracy = _train(replace(train, images=x_train), replace(test, images=x_test), seed, budget,
                          torch.device(context.device))
    return [Measurement("accuracy", accuracy, "fraction", "none", setting),
            Measurement("plain_accuracy", plain, "fraction", "none", setting)]


FAMILY = "utility"
ADVERSARY = "none"  # what a user keeps, not an attack

CRITERIA: dict[str, Criterion] = {"utility": utility}
"""The utility cell, by name."""

__all__ = ["ADVERSARY", "FAMILY", "CRITERIA", "DIGIT_SIDE", "TRAINING", "WIDTH", "digit_split", "plain_accuracy", "utility"]
