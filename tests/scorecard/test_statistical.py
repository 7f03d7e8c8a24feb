"""Statistical criteria: Wu et al.'s published tables, closed forms, and identity >= every scheme >= one-time pad."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from imgleak import ciphers, metrics
from imgleak.scorecard.base import BUDGETS, Context, Subject
from imgleak.scorecard.statistical import (
    ALPHAS, CRITERIA, block_entropy_moments, choose_block_side, cipher_images, correlation, entropy,
    histogram_uniformity, local_entropy, local_entropy_critical_values, local_shannon_entropy, npcr_uaci,
    npcr_uaci_critical_values, one_pixel_change, random_blocks,
)

IDENTITY = Subject("identity", ciphers.get("identity"))
OTP = Subject("one_time_pad", ciphers.get("selective", bits=8))

# Wu, Noonan & Agaian (2011), Table: N*_alpha and [U*-_alpha, U*+_alpha] (%) for alpha = 0.05, 0.01, 0.001
WU_TABLE = {
    256: ((99.5693, 99.5527, 99.5341), ((33.2824, 33.6447), (33.2255, 33.7016), (33.1594, 33.7677))),
    512: ((99.5893, 99.5810, 99.5717), ((33.3730, 33.5541), (33.3445, 33.5826), (33.3115, 33.6156))),
    1024: ((99.5994, 99.5952, 99.5906), ((33.4183, 33.5088), (33.4040, 33.5231), (33.3875, 33.5396))),
}


def _context(images: torch.Tensor, seed: int = 0) -> Context:
    return Context(images, seed=seed, budget=BUDGETS["quick"])


# --- published tables -------------------------------------------------------------------------


@pytest.mark.parametrize("side", sorted(WU_TABLE))
def test_npcr_uaci_critical_values_match_wu_noonan_agaian_table(side):
    npcr_row, uaci_row = WU_TABLE[side]
    for alpha, n_star, (u_low, u_high) in zip(ALPHAS, npcr_row, uaci_row):
        c = npcr_uaci_critical_values(side * side, alpha)
        assert (round(c.npcr_critical, 4), round(c.uaci_low, 4), round(c.uaci_high, 4)) == (n_star, u_low, u_high)
        assert c.npcr_mean == pytest.approx(100 * 255 / 256) and c.uaci_mean == pytest.approx(100 * 257 / 768)


def test_npcr_uaci_expected_values_agree_with_metrics():
    c = npcr_uaci_critical_values(100, 0.05)
    assert (c.npcr_mean, c.uaci_mean) == pytest.approx(metrics.expected_npcr_uaci())


def test_local_entropy_matches_wu_et_al_2013():
    """k = 30, T_B = 1936: mu = 7.902469317 and the published interval [7.901515698, 7.903422936],
    which the paper's rule (sigma_B / k) gives at alpha = 0.001 (exact sums: 7.9015156972...)."""
    mean, left, right = local_entropy_critical_values(1936, 30, 0.001, spread="paper")
    assert mean == pytest.approx(7.902469317, abs=5e-10)
    assert left == pytest.approx(7.901515698, abs=1e-9)
    assert right == pytest.approx(7.903422936, abs=5e-10)
    assert local_entropy_critical_values(1936, 30, 0.05, spread="paper") == pytest.approx(
        (7.902469317, 7.901901305, 7.903037329), abs=1e-9)


# --- closed forms ---------------------------------------------------------------------------


def _enumerated_entropy_moments(block_pixels: int, levels: int) -> tuple[float, float]:
    values = []
    for sample in itertools.product(range(levels), repeat=block_pixels):
        p = np.bincount(sample, minlength=levels) / block_pixels
        values.append(-sum(q * math.log2(q) for q in p if q > 0))
    return float(np.mean(values)), float(np.var(values))


@pytest.mark.parametrize("block_pixels,levels", [(2, 2), (4, 3), (5, 2), (3, 4)])
def test_block_entropy_moments_equal_full_enumeration(block_pixels, levels):
    assert block_entropy_moments(block_pixels, levels) == pytest.approx(
        _enumerated_entropy_moments(block_pixels, levels), abs=1e-12)


def test_sampling_interval_holds_random_images_and_the_papers_rule_does_not():
    """Means of 30 blocks of 1936 random samples: about 5 % fall outside the alpha = 0.05 sampling
    interval, but most fall outside the paper's alpha = 0.001 interval (sigma_B / k is sqrt(30) too narrow)."""
    generator = torch.Generator().manual_seed(1)
    blocks = torch.randint(0, 256, (300 * 30, 1, 44, 44), generator=generator, dtype=torch.uint8)
    means = metrics.shannon_entropy(blocks).view(300, 30).mean(1)
    _, low, high = local_entropy_critical_values(1936, 30, 0.05, spread="sampling")
    _, paper_low, paper_high = local_entropy_critical_values(1936, 30, 0.001, spread="paper")
    outside = ((means < low) | (means > high)).float().mean()
    outside_paper = ((means < paper_low) | (means > paper_high)).float().mean()
    assert 0.01 < outside < 0.10
    assert outside_paper > 0.4


def test_entropy_of_every_value_once_is_eight_bits():
    every_value = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    (m,) = entropy(IDENTITY, _context(every_value))
    assert m.value == 8.0 and m.unit == "bits/sample" and m.leaks_more == "lower"


def test_correlation_of_a_constant_step_ramp_is_one_in_every_direction():
    ramp = (4 * torch.arange(16)[:, None] + 8 * torch.arange(16)).to(torch.uint8).expand(2, 3, 16, 16)
    rows = correlation(IDENTITY, _context(ramp.contiguous()))
    assert [m.criterion for m in rows] == ["correlation_horizontal", "correlation_vertical", "correlation_diagonal"]
    assert [m.value for m in rows] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)


def test_correlation_skips_constant_images_and_is_nan_when_none_is_defined():
    ramp = (4 * torch.arange(16)[:, None] + 8 * torch.arange(16)).to(torch.uint8).view(1, 1, 16, 16)
    mixed = torch.cat([ramp, torch.zeros_like(ramp)])
    row = correlation(IDENTITY, _context(mixed))[0]
    assert row.value == pytest.approx(1.0, abs=1e-6) and row.setting["undefined"] == 1
    assert math.isnan(correlation(IDENTITY, _context(torch.zeros_like(ramp)))[0].value)


def test_identity_npcr_and_uaci_see_exactly_the_one_changed_sample():
    images = torch.full((2, 3, 8, 8), 7, dtype=torch.uint8)
    npcr, uaci = npcr_uaci(IDENTITY, _context(images))
    assert npcr.value == pytest.approx(100 / 192) and npcr.verdict == "fail"
    assert uaci.setting["uaci"] == pytest.approx(100 / 255 / 192)
    assert uaci.value == pytest.approx(npcr_uaci_critical_values(384).uaci_mean - 100 / 255 / 192)
    assert set(npcr.setting["verdicts"]) == {"0.05", "0.01", "0.001"}


def test_one_pixel_change_changes_one_sample_per_image_by_one_level_and_is_seeded():
    images = torch.randint(0, 256, (3, 2, 5, 5), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    images[:, 0] = 255  # a saturated channel: its samples go down by one, never wrap to 0
    changed, where = one_pixel_change(images, seed=4)
    diff = (changed.to(torch.int16) - images.to(torch.int16)).flatten(1)
    assert diff.count_nonzero(1).tolist() == [1, 1, 1] and diff.abs().max() == 1
    assert (changed <= images).all() == (where < 25).all()
    assert torch.equal(where, one_pixel_change(images, seed=4)[1])


def test_histogram_of_every_value_once_is_too_flat_to_be_random():
    (m,) = histogram_uniformity(IDENTITY, _context(torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)))
    assert (m.value, m.setting["p_value"], m.verdict) == (0.0, 0.0, "fail")  # the test is two-sided
    assert m.p_value == 0.0


def test_block_side_follows_the_images():
    assert choose_block_side((16, 3, 64, 64)) == 44  # the default budget holds the paper's 30 blocks of 44 x 44
    assert choose_block_side((4, 3, 32, 32)) == 16
    assert choose_block_side((1, 1, 40, 40), blocks=4) == 20


def test_random_blocks_do_not_overlap_and_are_seeded():
    x = torch.arange(4 * 16 * 16, dtype=torch.int64).view(1, 4, 16, 16)  # every sample distinct
    blocks = random_blocks(x, 4, 40, seed=3)
    assert blocks.shape == (40, 1, 4, 4) and blocks.unique().numel() == 40 * 16
    assert torch.equal(blocks, random_blocks(x, 4, 40, seed=3))
    assert not torch.equal(blocks, random_blocks(x, 4, 40, seed=4))


def test_local_entropy_records_its_choice(photos):
    (m,) = local_entropy(OTP, photos)
    s = m.setting
    assert (s["block_side"], s["block_pixels"], s["blocks"], s["blocks_available"]) == (16, 256, 30, 48)
    mean, low, high = local_entropy_critical_values(256, 30, 0.05, spread="sampling")
    assert s["expected"] == mean and s["interval"] == [low, high]
    assert m.verdict == s["verdicts"]["0.05"] == "pass"


# --- identity >= every scheme >= one-time pad --------------------------------------------------


def _by_name(rows):
    return {m.criterion: m for m in rows}


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_identity_leaks_at_least_as_much_as_the_one_time_pad(name, photos):
    plain, pad = _by_name(CRITERIA[name](IDENTITY, photos)), _by_name(CRITERIA[name](OTP, photos))
    assert plain.keys() == pad.keys()
    for criterion, row in plain.items():
        assert row.leaks_more in ("higher", "lower"), criterion
        if row.leaks_more == "higher":
            assert row.value >= pad[criterion].value, criterion
        else:
            assert row.value <= pad[criterion].value, criterion


def test_partial_selective_encryption_lies_between_identity_and_the_pad(photos):
    """Selective encryption of the MSB only: on entropy, correlation and histogram, between the two controls.
    (From 3 bits on, selective encryption is as decorrelated as the pad: within the random spread recorded.)"""
    half = Subject("selective_1", ciphers.get("selective", bits=1))
    for name in ("entropy", "correlation", "histogram_uniformity"):
        rows = [_by_name(CRITERIA[name](s, photos)) for s in (IDENTITY, half, OTP)]
        for criterion, row in rows[0].items():
            values = [r[criterion].value for r in rows]
            assert values == (sorted(values) if row.leaks_more == "lower" else sorted(values, reverse=True))


def test_the_pad_passes_the_randomness_tests_and_identity_fails_them(photos):
    for criterion in (local_entropy, histogram_uniformity):
        assert criterion(OTP, photos)[0].verdict == "pass"
        assert criterion(IDENTITY, photos)[0].verdict == "fail"
    for row in entropy(OTP, photos) + correlation(OTP, photos) + histogram_uniformity(OTP, photos):
        assert abs(row.value - row.setting["random_mean"]) < 4 * row.setting["random_sd"], row.criterion


def test_a_stream_cipher_is_judged_on_its_own_message_index(photos):
    """The changed images are new messages: a per-message ChaCha20 pad passes NPCR/UACI, identity fails."""
    npcr, uaci = npcr_uaci(OTP, photos)
    assert npcr.verdict == "pass" and uaci.verdict == "pass" and npcr.p_value > 0.001 and uaci.p_value > 0.001
    assert npcr.adversary == uaci.adversary == "chosen-plaintext"
    npcr, _ = npcr_uaci(IDENTITY, photos)
    assert npcr.value == pytest.approx(100 / photos.images[0].numel()) and npcr.verdict == "fail" and npcr.p_value < 1e-100


def test_cipher_images_use_the_subjects_key_and_first_index_zero(photos):
    key = OTP.key(photos.seed, photos)
    assert torch.equal(cipher_images(OTP, photos), OTP.cipher.encrypt(photos.images, key, first_index=0))


# --- named errors ---------------------------------------------------------------------------


def test_bad_arguments_are_refused_by_name(photos):
    with pytest.raises(ValueError, match="n_pixels"):
        npcr_uaci_critical_values(0)
    with pytest.raises(ValueError, match="alpha"):
        npcr_uaci_critical_values(100, 1.5)
    with pytest.raises(ValueError, match="alpha"):
        local_entropy_critical_values(64, 4, alpha=0)
    with pytest.raises(ValueError, match="spread"):
        local_entropy_critical_values(64, 4, spread="exact")
    with pytest.raises(ValueError, match="block_pixels"):
        block_entropy_moments(0)
    with pytest.raises(TypeError, match="subject"):
        entropy("identity", photos)
    with pytest.raises(TypeError, match="context"):
        entropy(IDENTITY, photos.images)
    with pytest.raises(ValueError, match="cannot hold 30 non-overlapping blocks"):
        choose_block_side((1, 1, 8, 8))
    with pytest.raises(ValueError, match="fewer than blocks=30"):
        local_shannon_entropy(photos.images, side=32)


def test_histogram_chi2_per_dof_is_exact_on_a_two_level_image():
    """Half the 256 samples at 0, half at 255: expected count 1 per bin, so χ² = 2 · 127² + 254 · 1 = 32512
    over 255 degrees of freedom (256 bins less one)."""
    two_levels = torch.tensor([0, 255], dtype=torch.uint8).repeat(128).view(1, 1, 16, 16)
    context = Context(two_levels, seed=0, budget=BUDGETS["quick"])
    (m,) = histogram_uniformity(Subject("identity", ciphers.get("identity")), context)
    assert m.setting["chi2"] == 32512.0 and m.setting["dof"] == 255
    assert m.value == pytest.approx(32512 / 255, rel=1e-12)
    assert m.setting["samples"] == 256 and m.verdict == "fail"


def test_correlation_pair_counts_on_a_non_square_crop():
    """A 3 × 4 × 7 image: horizontal pairs 4 · 6, vertical 3 · 7, diagonal 3 · 6, per channel (3)."""
    image = torch.randint(0, 256, (1, 3, 4, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    context = Context(image, seed=0, budget=BUDGETS["quick"])
    rows = {m.setting["direction"]: m for m in correlation(Subject("identity", ciphers.get("identity")), context)}
    expected = {"horizontal": 3 * 4 * 6, "vertical": 3 * 3 * 7, "diagonal": 3 * 3 * 6}
    for direction, pairs in expected.items():
        m = rows[direction]
        assert m.setting["pairs_per_image"] == pairs
        assert m.setting["random_mean"] == pytest.approx(math.sqrt(2 / (math.pi * pairs)), rel=1e-12)
        r = float(metrics.adjacent_correlation(image, direction)[0])
        assert m.value == pytest.approx(abs(r), rel=1e-6)
        assert m.setting["chi2"] == pytest.approx(pairs * r ** 2, rel=1e-5)
