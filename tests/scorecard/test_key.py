"""Key criteria: key space, key sensitivity (|share of changed bits - 50 %|) and key fingerprints."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers.rvt import Vortex, VortexKey
from imgleak.keys import Key
from imgleak.scorecard.base import Context, Subject
from imgleak.scorecard.key import CRITERIA, changed_bits, fingerprint, flip_bit, key_sensitivity, key_space

IDENTITY = Subject("identity", ciphers.get("identity"))
OTP = Subject("one_time_pad", ciphers.get("selective", bits=8))


def test_key_space_is_zero_for_identity_and_the_master_key_for_the_pad(photos):
    assert key_space(IDENTITY, photos)[0].value == 0.0
    (pad,) = key_space(OTP, photos)
    assert pad.value == 256 and pad.leaks_more == "lower" and pad.setting["shape"] == [3, 32, 32]
    assert pad.setting["key_material_bits"] == 8 * 3 * 32 * 32  # the pad's length, derived from 256 bits


def test_identity_ignores_its_key_and_the_pad_changes_half_the_bits(photos):
    (plain,) = key_sensitivity(IDENTITY, photos)
    assert (plain.value, plain.setting["share"]) == (50.0, 0.0)
    (pad,) = key_sensitivity(OTP, photos)
    assert pad.setting["bits_compared"] == 8 * 4 * 3 * 32 * 32
    assert pad.value < 4 * pad.setting["random_sd"] + pad.setting["random_mean"]  # ~0.13 pp for 98,304 bits
    assert pad.leaks_more == "higher" and pad.unit.startswith("percentage points")


@pytest.mark.parametrize("name", sorted(CRITERIA))
def test_identity_leaks_at_least_as_much_as_the_one_time_pad(name, photos):
    plain, pad = CRITERIA[name](IDENTITY, photos)[0], CRITERIA[name](OTP, photos)[0]
    assert plain.value >= pad.value if plain.leaks_more == "higher" else plain.value <= pad.value


def test_a_key_that_is_not_a_key_gets_nan_and_a_note(photos):
    subject = Subject("tn_model", ciphers.get("tn_model"))
    (row,) = key_sensitivity(subject, photos)
    assert math.isnan(row.value) and "not applicable" in row.setting["note"] and "TransformNet" in row.setting["note"]
    assert row.setting["key"] == fingerprint(subject.key(photos.seed, photos))


def test_key_sensitivity_flips_a_seeded_bit_and_writes_no_key_material(photos):
    rows = [key_sensitivity(OTP, Context(photos.images, seed=s, budget=photos.budget))[0] for s in (0, 0, 1)]
    assert rows[0] == rows[1] and rows[0].setting["flipped_bit"] != rows[2].setting["flipped_bit"]
    key = OTP.key(0, photos)
    text = str(rows[0].to_row())
    assert key.hex() not in text and key.material.hex()[:16] not in text
    assert rows[0].setting["key"] == hashlib.sha256(key.material).hexdigest()[:12]


def test_flip_bit_changes_exactly_one_bit():
    key = Key.from_seed(3)
    for bit in (0, 7, 8, 255):
        flipped = flip_bit(key, bit)
        assert sum(bin(a ^ b).count("1") for a, b in zip(key.material, flipped.material)) == 1
        assert flip_bit(flipped, bit) == key


def test_changed_bits_counts_bits_not_bytes():
    a = torch.zeros(4, dtype=torch.uint8)
    assert changed_bits(a, a) == 0.0 and changed_bits(a, a + 255) == 100.0
    assert changed_bits(a, torch.tensor([1, 0, 0, 0], dtype=torch.uint8)) == 100 / 32


def test_fingerprints_name_keys_without_showing_them():
    vortex = VortexKey((Vortex((5, 6), 3, (0.1, 0.2, 0.3)),))
    assert fingerprint(vortex) == hashlib.sha256(vortex.to_json().encode()).hexdigest()[:12]
    tn = ciphers.get("tn_model")
    first, again, other = (tn.make_key(s, (3, 8, 8)) for s in (0, 0, 1))
    assert fingerprint(first) == fingerprint(again) != fingerprint(other)
    network = torch.nn.Linear(2, 2)
    before = fingerprint(network)
    with torch.no_grad():
        network.weight[0, 0] += 1
    assert fingerprint(network) != before
    assert fingerprint("anything") == hashlib.sha256(b"'anything'").hexdigest()[:12]
    for key in (Key.from_seed(0), vortex, first, network, None):
        assert len(fingerprint(key)) == 12 and int(fingerprint(key), 16) >= 0


def test_bad_arguments_are_refused_by_name(photos):
    with pytest.raises(TypeError, match="key must be an imgleak Key"):
        flip_bit(b"\0" * 32, 0)
    with pytest.raises(ValueError, match="bit must be below 256"):
        flip_bit(Key.from_seed(0), 256)
    with pytest.raises(ValueError, match="bit must be a non-negative int"):
        flip_bit(Key.from_seed(0), -1)
    with pytest.raises(TypeError, match="subject"):
        key_space(None, photos)
    with pytest.raises(TypeError, match="context"):
        key_sensitivity(IDENTITY, {"seed": 0})
    with pytest.raises(ValueError, match="same shape|one shape"):
        changed_bits(torch.zeros(2, dtype=torch.uint8), torch.zeros(3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        changed_bits(torch.zeros(2), torch.zeros(2))
