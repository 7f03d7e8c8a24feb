"""Utility criterion: a small ViT trained on encrypted digits beside the same on plain digits."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers import CipherBase
from imgleak.images import load_digits
from imgleak.scorecard.base import BUDGETS, Context, Subject
from imgleak.scorecard.utility import CRITERIA, DIGIT_SIDE, digit_split, plain_accuracy, utility

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = BUDGETS["quick"]
TRAINED = replace(QUICK, utility_train=500, utility_test=300, utility_epochs=3)
"""Just enough for the small CNN to learn the plain digits (about 60 %, 2 s); the quick budget's
single epoch of 3 steps leaves every run at chance."""
CONTEXT = Context(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), seed=0, budget=TRAINED)
CHANCE_MARGIN = 0.15
"""The pad's digits carry nothing: its accuracy stays within this of chance (0.1)."""


class ColourOnly(CipherBase):
    """A stand-in scheme that refuses grey images (no library scheme does)."""

    name = "colour_only"

    def encrypt(self, x, key, *, first_index=0):
        if x.shape[-3] != 3:
            raise ValueError(f"x must have 3 channels, got {x.shape[-3]}")
        return x.clone()

    def key_space_log2(self, shape):
        return 0.0


def test_identity_keeps_the_plain_accuracy_exactly():
    rows = {m.criterion: m for m in utility(Subject("identity", ciphers.get("identity")), CONTEXT)}
    assert set(rows) == {"accuracy", "plain_accuracy"} and set(CRITERIA) == {"utility"}
    assert rows["accuracy"].value == rows["plain_accuracy"].value  # same images, same seed: the same run
    assert rows["plain_accuracy"].value > 0.5  # it learnt something (chance: 0.1)
    assert all(m.leaks_more == "none" and m.unit == "fraction" for m in rows.values())
    assert rows["accuracy"].setting["train"] == TRAINED.utility_train
    assert rows["accuracy"].setting["model"].startswith("SmallClassifier")


def test_pad_trains_and_the_plain_run_is_cached():
    before = plain_accuracy.cache_info().hits
    rows = {m.criterion: m for m in utility(Subject("one_time_pad", ciphers.get("selective", bits=8)), CONTEXT)}
    assert abs(rows["accuracy"].value - 0.1) < CHANCE_MARGIN < rows["plain_accuracy"].value - 0.1
    assert plain_accuracy.cache_info().hits > before  # identity's test trained the plain classifier already


def test_every_library_scheme_takes_one_channel_digits():
    digits = digit_split(0, QUICK)[0].images[:4]
    for name in ciphers.available():
        cipher = ciphers.get(name)
        out = cipher.encrypt(digits, cipher.make_key(0, tuple(digits.shape[1:])), first_index=0)
        assert out.shape == digits.shape and out.dtype == torch.uint8, name


def test_a_scheme_that_refuses_grey_digits_gets_nan_with_a_note():
    rows = {m.criterion: m for m in utility(Subject("colour_only", ColourOnly()), replace(CONTEXT, budget=QUICK))}
    assert math.isnan(rows["accuracy"].value) and "3 channels" in rows["accuracy"].setting["note"]
    assert 0.0 <= rows["plain_accuracy"].value <= 1.0


def test_digit_split_is_disjoint_seeded_and_upscaled_by_nearest():
    train, test = digit_split(3, QUICK)
    assert train.images.shape == (QUICK.utility_train, 1, DIGIT_SIDE, DIGIT_SIDE) and len(test) == QUICK.utility_test
    original = load_digits().images
    block = DIGIT_SIDE // 8
    small = train.images[:, :, ::block, ::block]  # nearest up-scaling repeats each pixel block x block times
    assert torch.equal(small.repeat_interleave(block, -1).repeat_interleave(block, -2), train.images)
    rows = {tuple(x.flatten().tolist()) for x in original}
    assert all(tuple(x.flatten().tolist()) in rows for x in small[:20])
    pairs = {tuple(x.flatten().tolist()) for x in train.images} & {tuple(x.flatten().tolist()) for x in test.images}
    assert not pairs  # disjoint (the 1,797 digit images are all different)
    assert torch.equal(digit_split(3, QUICK)[0].images, train.images)
    assert not torch.equal(digit_split(4, QUICK)[0].images, train.images)


def test_budget_too_large_for_the_digits_is_named():
    with pytest.raises(ValueError, match="budget.utility_train"):
        digit_split(0, replace(QUICK, utility_train=1700, utility_test=200))


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_a_wrong_subject_or_context_is_refused_by_name(name, refuses_a_wrong_cell):
    refuses_a_wrong_cell(CRITERIA[name])
