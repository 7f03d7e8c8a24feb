"""Every analytic null, checked by simulation: on a one-time pad (a random cipher) the criterion's
p-value falls below α about α of the time - within the binomial interval of the runs."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from imgleak.scorecard import games
from imgleak.scorecard.base import BUDGETS, Context
from imgleak.scorecard.games import determinism, distinguishing_game, empirical_key_space, known_plaintext
from imgleak.scorecard.key import key_sensitivity
from imgleak.scorecard.schemes import library_schemes
from imgleak.scorecard.statistical import correlation, entropy, histogram_uniformity, local_entropy, npcr_uaci

ALPHA = 0.05
PAD = library_schemes()["one_time_pad"]


def _context(seed: int, shape=(4, 3, 32, 32)) -> Context:
    images = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(10_000 + seed), dtype=torch.uint8)
    return Context(images, seed, BUDGETS["quick"])


def _rejections(criterion, runs: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seed in range(runs):
        for m in criterion(PAD, _context(seed)):
            counts[m.criterion] = counts.get(m.criterion, 0) + int(m.p_value < ALPHA)
    return counts


def _interval(runs: int) -> tuple[int, int]:
    """The 99.9 % two-sided binomial interval of the rejections at level α."""
    return int(stats.binom.ppf(0.0005, runs, ALPHA)), int(stats.binom.ppf(0.9995, runs, ALPHA))


@pytest.mark.parametrize("criterion", [entropy, local_entropy, correlation, npcr_uaci, histogram_uniformity])
def test_continuous_nulls_reject_alpha_of_random_ciphers(criterion):
    runs = 200
    low, high = _interval(runs)
    for name, rejected in _rejections(criterion, runs).items():
        assert low <= rejected <= high, f"{name}: {rejected} of {runs} random ciphers rejected at α = {ALPHA}"


@pytest.mark.parametrize("criterion", [key_sensitivity, known_plaintext, determinism])
def test_discrete_nulls_reject_at_most_alpha_of_random_ciphers(criterion):
    # binomial tails are conservative: at most α, within the interval's upper end
    runs = 200
    for name, rejected in _rejections(criterion, runs).items():
        assert rejected <= _interval(runs)[1], f"{name}: {rejected} of {runs} random ciphers rejected"


def test_the_distinguishing_game_is_at_chance_on_random_ciphers(monkeypatch):
    monkeypatch.setattr(games, "GAME_ROUNDS", 64)
    runs = 60
    rejected = _rejections(distinguishing_game, runs)["distinguishing_advantage"]
    assert rejected <= _interval(runs)[1]


def test_no_two_of_a_thousand_pad_keys_collide():
    (m,) = empirical_key_space(PAD, _context(0, (1, 3, 16, 16)))
    assert m.p_value == 1.0 and m.setting["colliding_pairs"] == 0
    assert m.value == pytest.approx(math.log2(math.comb(games.KEY_SAMPLES, 2) / 3))  # a 95 % lower bound, no more
