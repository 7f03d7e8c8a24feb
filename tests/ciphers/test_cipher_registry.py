"""The cipher registry: names, construction, unknown names (every scheme's behaviour: test_conformance.py)."""

from __future__ import annotations

import pytest

from imgleak import ciphers


def test_available_lists_selective():
    assert "selective" in ciphers.available()
    assert ciphers.available() == sorted(ciphers.available())


def test_get_builds_the_scheme_with_its_parameters():
    cipher = ciphers.get("selective", bits=3)
    assert isinstance(cipher, ciphers.SelectiveEncryption)
    assert cipher == ciphers.SelectiveEncryption(3)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown cipher 'nope'.*selective"):
        ciphers.get("nope")


def test_bad_parameters_are_reported_by_the_scheme():
    with pytest.raises(ValueError, match="0 to 8"):
        ciphers.get("selective", bits=12)
    with pytest.raises(TypeError):
        ciphers.get("selective", bits=3, rounds=2)
