"""Information criteria: histogram MI (identity = H(plain), pad ≈ 0 above the independence
baseline), MINE on patches and on embeddings (labelled encoder), the RVT information loss rate."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from imgleak import ciphers
from imgleak.images import bundled_photos
from imgleak.mi import entropy
from imgleak.mi.encoders import WeightsUnavailableError
from imgleak.scorecard import information
from imgleak.scorecard.base import BUDGETS, DIRECTIONS, Context, Measurement, Subject
from imgleak.scorecard.information import CRITERIA, frozen_encoder, histogram_mi, information_loss, mine_embeddings

IDENTITY = Subject("identity", ciphers.get("identity"))
OTP = Subject("one_time_pad", ciphers.get("selective", bits=8))
PIXELWISE = Subject("pixelwise-same", ciphers.get("pixelwise"))
SUBJECTS = (IDENTITY, PIXELWISE, OTP)

PAD_EXCESS_BITS = 0.05
"""|excess MI| of the one-time pad: independent pixels, 4 x 3 x 32 x 32 samples (measured spread ≈ 0.01)."""
MINE_BITS = 0.15
"""MINE's held-out estimate on independent pairs stays within this of 0 at the quick budget."""


@pytest.fixture(scope="module")
def context() -> Context:
    """The quick budget's 4 crops (32 x 32) of four photographs, which are also the sources."""
    size = BUDGETS["quick"].size
    sources = tuple(p.image for p in bundled_photos(["astronaut", "coffee", "chelsea", "rocket"]))
    crops = torch.stack([s[:, :size, :size] for s in sources])
    return Context(crops, seed=0, budget=BUDGETS["quick"], sources=sources)


@pytest.fixture(scope="module")
def table(context) -> dict[tuple[str, str], Measurement]:
    """Every information measurement of identity, pixel-wise and the pad: (subject, measurement) -> row."""
    return {(s.name, m.criterion): m for s in SUBJECTS for cell in CRITERIA.values() for m in cell(s, context)}


def test_cells_and_rows(table):
    assert set(CRITERIA) == {"histogram_mi", "mine_pixels", "mine_embeddings", "information_loss"}
    names = {name for _, name in table}
    assert names == {"histogram_mi", "histogram_mi_excess", "mine_pixels", "mine_embeddings", "information_loss"}
    assert all(m.leaks_more in DIRECTIONS[:2] for m in table.values())  # every row is a leakage measurement
    assert table[("identity", "information_loss")].leaks_more == "lower"


def test_identity_leaks_at_least_as_much_as_the_pad_on_every_row(table):
    for (subject, name), row in table.items():
        if subject != "identity":
            continue
        pad = table[("one_time_pad", name)].value
        if math.isnan(pad):  # the loss rate is not defined for the pad (it changes values): checked below
            continue
        assert row.value >= pad if row.leaks_more == "higher" else row.value <= pad, name


def test_histogram_mi_identity_is_the_plain_entropy_and_bounds_every_scheme(table, context):
    plain_entropy = entropy(context.images, bins=256)
    assert table[("identity", "histogram_mi")].value == pytest.approx(plain_entropy, abs=1e-9)
    for name in ("histogram_mi", "histogram_mi_excess"):
        identity, middle, pad = (table[(s.name, name)].value for s in SUBJECTS)
        assert identity >= middle >= pad  # pixel-wise keeps each pixel up to a flip and a channel order


def test_pad_is_independent_within_the_stated_tolerance(table):
    excess = table[("one_time_pad", "histogram_mi_excess")]
    assert abs(excess.value) < PAD_EXCESS_BITS
    raw = table[("one_time_pad", "histogram_mi")]
    assert raw.value == pytest.approx(raw.setting["independent_mi_bits"], abs=PAD_EXCESS_BITS)
    assert raw.value > 1  # the plug-in bias at this sample count: why the excess row exists
    assert abs(table[("one_time_pad", "mine_pixels")].value) < MINE_BITS


def test_mine_sees_the_identity(table):
    for name in ("mine_pixels", "mine_embeddings"):
        assert table[("identity", name)].value > table[("one_time_pad", name)].value + MINE_BITS, name
    row = table[("identity", "mine_pixels")]
    assert row.setting["pairs"] == BUDGETS["quick"].mine_pairs and row.setting["mine"]["epochs"] == 3


def test_mine_is_seeded(context):
    first = information.mine_pixels(PIXELWISE, context)[0].value
    assert information.mine_pixels(PIXELWISE, context)[0].value == first


def test_encoder_label_says_what_embedded(table):
    encoder, label = frozen_encoder(torch.device("cpu"))
    assert table[("identity", "mine_embeddings")].setting["encoder"] == label
    assert label == ("resnet18 (pretrained: ImageNet)" if encoder.pretrained
                     else "resnet18 (random-init: no weights here)")


def test_missing_weights_fall_back_to_a_labelled_random_encoder(context, monkeypatch):
    def offline(name, pretrained=True, **kwargs):
        if pretrained:
            raise WeightsUnavailableError("no weights here (test)")
        return load(name, pretrained=False, **kwargs)

    load = information.load_encoder
    monkeypatch.setattr(information, "load_encoder", offline)
    frozen_encoder.cache_clear()
    try:
        (row,) = mine_embeddings(IDENTITY, replace(context, budget=replace(context.budget, embedding_pairs=16)))
    finally:
        frozen_encoder.cache_clear()
    assert row.setting["encoder"] == "resnet18 (random-init: no weights here)" and row.setting["pretrained"] is False


def test_information_loss_orders_the_pixel_movers(context):
    rates = {name: information_loss(Subject(name, ciphers.get(name)), context)[0].value
             for name in ("identity", "rvt", "permutation")}
    assert rates["identity"] == 0.0  # nothing moves: least loss, leaks most
    assert 0 < rates["rvt"] < rates["permutation"] <= 1  # local vortices keep more neighbours than a shuffle


def test_information_loss_is_nan_with_a_note_where_undefined(table):
    row = table[("one_time_pad", "information_loss")]
    assert math.isnan(row.value) and "only move pixels" in row.setting["note"]


def test_named_errors(context):
    too_big = replace(context, budget=replace(context.budget, patch=64))
    with pytest.raises(ValueError, match="budget.patch"):
        information.mine_pixels(IDENTITY, too_big)
    with pytest.raises(ValueError, match="context.sources"):
        mine_embeddings(IDENTITY, replace(context, sources=()))
    with pytest.raises(TypeError, match="x must"):
        histogram_mi(IDENTITY, replace(context, images=context.images.float()))


def test_a_diverging_mine_run_is_a_measurement_with_its_reason_not_a_failed_cell(context, monkeypatch):
    real = information.estimate_mi_many

    def exploding(pairs, **options):  # a huge learning rate on unstandardised values: the run diverges
        return real(pairs, **{**options, "lr": 50.0, "standardize": False})

    monkeypatch.setattr(information, "estimate_mi_many", exploding)
    (row,) = information.mine_pixels(Subject("identity", ciphers.get("identity")), context)
    assert math.isnan(row.value) and row.setting["note"].startswith("diverged: MINE diverged at epoch")


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_a_wrong_subject_or_context_is_refused_by_name(name, refuses_a_wrong_cell):
    refuses_a_wrong_cell(CRITERIA[name])
