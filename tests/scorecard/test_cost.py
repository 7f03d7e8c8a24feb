"""Cost criterion: encryption throughput, best of a few timed runs, on the run's device."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers import CipherBase
from imgleak.scorecard.base import BUDGETS, Context, Subject
from imgleak.scorecard.cost import CRITERIA, REPEATS, throughput

PAUSE = 0.02
"""Seconds :class:`Slow` sleeps per call: its throughput can be at most ``images / PAUSE``."""


class Slow(CipherBase):
    """An identity that takes at least :data:`PAUSE` seconds per call and counts its calls."""

    name = "slow"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encrypt(self, x, key, *, first_index=0):
        self.calls.append(int(x.shape[0]))
        time.sleep(PAUSE)
        return x.clone()

    def key_space_log2(self, shape):
        return 0.0


@pytest.fixture
def context(device) -> Context:
    return Context(torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8), seed=0, budget=BUDGETS["quick"],
                   device=device)


def test_row(context):
    (row,) = throughput(Subject("identity", ciphers.get("identity")), context)
    assert set(CRITERIA) == {"throughput"}
    assert (row.criterion, row.unit, row.leaks_more) == ("throughput", "images/s", "none")
    assert row.value > 0 and row.setting["images"] == BUDGETS["quick"].throughput_images
    assert row.setting["device"] == str(context.device) and row.setting["repeats"] == REPEATS


def test_best_of_the_repeats_bounds_the_throughput(context):
    slow = Slow()
    (row,) = throughput(Subject("slow", slow), replace(context, budget=replace(context.budget, throughput_images=7)))
    assert slow.calls == [7] * REPEATS  # the budget's count (the 3 images repeated), in one call per repeat
    assert row.setting["best_seconds"] >= PAUSE
    assert row.value == pytest.approx(7 / row.setting["best_seconds"]) and row.value <= 7 / PAUSE


def test_a_cheap_scheme_is_faster_than_a_slow_one(context):
    fast = throughput(Subject("identity", ciphers.get("identity")), context)[0].value
    slow = throughput(Subject("slow", Slow()), context)[0].value
    assert fast > slow


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_a_wrong_subject_or_context_is_refused_by_name(name, refuses_a_wrong_cell):
    refuses_a_wrong_cell(CRITERIA[name])
