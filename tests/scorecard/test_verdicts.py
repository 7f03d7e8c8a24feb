"""Verdicts: a gallery of deliberately broken schemes is caught, the pad and a correct per-image
ChaCha20 XOR are not, identity is never "random", and one scheme's verdicts do not depend on the others."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from imgleak.scorecard import games, key as key_criteria, statistical
from imgleak.scorecard.gallery import broken_schemes, secure_reference
from imgleak.scorecard.runner import run
from imgleak.scorecard.schemes import library_schemes
from imgleak.scorecard.verdicts import against_pad, fisher, holm, verdicts


GALLERY = broken_schemes()
SECURE = {"one_time_pad": library_schemes()["one_time_pad"], "per_image_chacha": secure_reference()}
CHEAP = {**statistical.CRITERIA, **games.CRITERIA, **key_criteria.CRITERIA}


@pytest.fixture(scope="module")
def gallery_table(tmp_path_factory) -> pd.DataFrame:
    subjects = [library_schemes()["identity"], *SECURE.values(), *GALLERY.values()]
    return run(subjects, CHEAP, None, "quick", 3, tmp_path_factory.mktemp("gallery"), device="cpu", progress=False)


@pytest.fixture(scope="module")
def gallery(gallery_table) -> pd.DataFrame:
    return verdicts(gallery_table)


def test_the_gallery_holds_the_mistakes_the_issue_names():
    assert {"one_key_byte", "repeated_row", "reused_pad", "permutation_only", "key_16_bits"} <= set(GALLERY)
    assert len(GALLERY) >= 7


@pytest.mark.parametrize("scheme", sorted(GALLERY))
def test_every_broken_scheme_leaks_somewhere_at_adjusted_p_below_001(gallery, scheme):
    rows = gallery[gallery["scheme"] == scheme]
    caught = rows[(rows["verdict"] == "leaks") & (rows["p_adjusted"] < 0.01)]
    assert len(caught), rows[["criterion", "effect", "p_adjusted", "verdict"]].to_string()


@pytest.mark.parametrize("scheme", sorted(SECURE))
def test_secure_schemes_leak_nowhere(gallery, scheme):
    rows = gallery[gallery["scheme"] == scheme]
    assert not (rows["verdict"] == "leaks").any(), rows[rows["verdict"] == "leaks"].to_string()
    assert (rows["verdict"] == "random").sum() >= 10  # and they are judged, not waved through as inconclusive


def test_identity_is_never_random(gallery):
    identity = gallery[gallery["scheme"] == "identity"]
    assert not (identity["verdict"] == "random").any()
    assert (identity["verdict"] == "leaks").sum() >= 10


def test_the_caught_schemes_are_caught_by_the_attacker_that_should_catch_them(gallery):
    def verdict(scheme, criterion):
        return gallery.set_index(["scheme", "criterion"]).loc[(scheme, criterion), "verdict"]

    assert verdict("reused_pad", "known_plaintext") == "leaks"  # one pad for every image
    assert verdict("repeated_row", "known_plaintext") == "leaks"  # one keystream row on every row
    assert verdict("key_16_bits", "empirical_key_space") == "leaks"  # 16 effective key bits
    assert verdict("key_16_bits", "distinguishing_advantage") == "random"  # otherwise a good pad
    assert verdict("one_time_pad", "key_space") == "random"
    assert set(gallery["adversary"]) >= {"statistical", "chosen-plaintext", "known-plaintext", "key"}


def test_a_schemes_verdicts_do_not_depend_on_the_other_schemes(gallery_table, gallery):
    fewer = gallery_table[~gallery_table["scheme"].isin(["reused_pad", "caesar_shift", "per_image_chacha"])]
    again = verdicts(fewer).set_index(["scheme", "criterion"])
    full = gallery.set_index(["scheme", "criterion"]).loc[again.index]
    pd.testing.assert_frame_equal(full, again)


def test_fisher_holm_and_the_pad_test_are_the_textbook_ones():
    assert fisher([0.2]) == pytest.approx(0.2)
    assert holm([0.01, 0.02, 0.03]).tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert math.isnan(against_pad([1.0], [0.0, 0.1], "higher"))
    assert against_pad([0.0, 0.1, 0.05], [0.9, 0.8, 0.85], "lower") < 0.01


def test_without_controls_nothing_is_judged():
    table = pd.DataFrame({"scheme": "x", "criterion": "m", "seed": [0, 1], "value": [1.0, 2.0],
                          "leaks_more": "higher", "p_value": [1e-9, 1e-9]})
    row = verdicts(table).iloc[0]
    assert row["verdict"] == "inconclusive" and "controls" in row["note"] and math.isnan(row["effect"])


def test_bad_tables_are_refused_by_name():
    with pytest.raises(TypeError, match="DataFrame"):
        verdicts([1, 2])
    with pytest.raises(ValueError, match="lacks the column"):
        verdicts(pd.DataFrame({"scheme": ["a"]}))
