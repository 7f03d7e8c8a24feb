"""The scorecard's building blocks: measurements, subjects, budgets and the cell check every criterion makes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imgleak import ciphers
from imgleak.ciphers.selective import SelectiveEncryption
from imgleak.scorecard.base import BUDGETS, Budget, Context, Measurement, Subject, check_budget, check_cell


@pytest.mark.parametrize("value,expected", [(3, 3.0), (np.float32(0.5), 0.5), (torch.tensor(2.5), 2.5),
                                            (math.inf, math.inf)])
def test_measurement_values_become_floats(value, expected):
    assert Measurement("c", value, "u", "higher").value == expected


def test_measurement_keeps_nan():
    assert math.isnan(Measurement("c", math.nan, "u", "higher").value)


@pytest.mark.parametrize("field,value,shown", [("value", "abc", "str 'abc'"), ("value", None, "NoneType None"),
                                               ("value", True, "bool True"), ("p_value", "x", "str 'x'")])
def test_measurement_refuses_a_value_that_is_not_a_number_by_name(field, value, shown):
    arguments = {"value": 1.0, "p_value": 0.5, field: value}
    with pytest.raises(TypeError, match=rf"Measurement {field} must be a real number \(inf and NaN allowed\), "
                                        rf"got {shown} \(criterion 'entropy'\)"):
        Measurement("entropy", arguments["value"], "bits", "lower", p_value=arguments["p_value"])


def test_subject_refuses_what_is_not_a_cipher_instance():
    with pytest.raises(TypeError, match=r"Subject 'x': cipher must follow the imgleak Cipher interface .* got int"):
        Subject("x", 5)
    with pytest.raises(TypeError, match="Subject 'x': cipher must be a cipher instance, got the class SelectiveEncryption"):
        Subject("x", SelectiveEncryption)
    with pytest.raises(TypeError, match="Subject 'x': make_key must be None or a function"):
        Subject("x", ciphers.get("identity"), make_key=3)
    with pytest.raises(TypeError, match="Subject name must be a non-empty str, got ''"):
        Subject("", ciphers.get("identity"))
    with pytest.raises(TypeError, match="trained_keys must be True or False, got 'yes'"):
        Subject("x", ciphers.get("identity"), trained_keys="yes")


def test_check_budget_takes_a_name_or_a_budget():
    assert check_budget("quick") is BUDGETS["quick"]
    custom = Budget(**{**vars(BUDGETS["quick"]), "name": "mine", "images": 2})
    assert check_budget(custom) is custom
    with pytest.raises(ValueError, match=r"budget must be one of \['default', 'paper', 'quick'\] or a Budget, got 0"):
        check_budget(0)


def test_check_cell_names_the_wrong_argument():
    subject = Subject("identity", ciphers.get("identity"))
    context = Context(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 0, BUDGETS["quick"])
    assert check_cell(subject, context) == (subject, context)
    with pytest.raises(TypeError, match="subject must be an imgleak.scorecard Subject, got str"):
        check_cell("identity", context)
    with pytest.raises(TypeError, match="context must be an imgleak.scorecard Context, got Budget"):
        check_cell(subject, BUDGETS["quick"])
