"""The settings every run shares: checked once, one seed rule, one short-last-batch rule, and keyword
overrides of a config."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from imgleak.training.run_settings import (
    SEED_END,
    RunSettings,
    TrainingSettings,
    batches_per_epoch,
    configured,
    filled,
    run_seed,
    setting_names,
)


def test_settings_are_checked_once_and_normalised():
    settings = TrainingSettings(epochs=2, batch_size=4, lr=1, seed=5, device="cpu")
    assert (settings.lr, settings.device, settings.seed, settings.num_threads) == (1.0, "cpu", 5, None)
    assert RunSettings(device=None).device is None  # the loop takes its data's device
    assert RunSettings(lr=None).lr is None  # the loop picks one per network
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("field, value, error, match", [
    ("epochs", 0, ValueError, "epochs"),
    ("batch_size", 1.5, ValueError, "batch_size must be a positive int"),
    ("lr", 0, ValueError, "lr must be a positive"),
    ("seed", "1", TypeError, "seed must be an int"),
    ("seed", -1, ValueError, r"seed must be in \[0, 2\*\*63 - 1\), got -1"),
    ("seed", 2**63 - 1, ValueError, r"seed must be in \[0, 2\*\*63 - 1\)"),
    ("num_threads", 0, ValueError, "num_threads"),
    ("device", "tpu", ValueError, "device"),
])
def test_settings_name_the_bad_value(field, value, error, match):
    with pytest.raises(error, match=match):
        TrainingSettings(**{field: value})


def test_one_seed_rule():
    assert run_seed(0) == 0 and run_seed(SEED_END - 1) == SEED_END - 1
    drawn = RunSettings(seed=None).seed
    assert isinstance(drawn, int) and 0 <= drawn < SEED_END
    torch.Generator().manual_seed(drawn + 1)  # seed + 1 seeds the batches' generator


@pytest.mark.parametrize("n, batch_size, smallest_last, count", [
    (10, 4, 2, 3), (9, 4, 2, 2), (8, 4, 2, 2), (3, 8, 2, 1), (1, 4, 2, 1),
    (33, 16, 4, 2), (40, 16, 4, 3), (129, 128, 32, 1), (600, 32, 8, 19),
    (160, 64, 64, 2), (200, 64, 64, 3),
])
def test_one_short_last_batch_rule(n, batch_size, smallest_last, count):
    assert batches_per_epoch(n, batch_size, smallest_last) == count


def test_overrides_replace_and_name_the_unknown():
    base = TrainingSettings(epochs=2, seed=3, device="cpu")
    changed = configured(base, TrainingSettings, {"epochs": 4, "num_threads": 1})
    assert (changed.epochs, changed.seed, changed.num_threads) == (4, 3, 1)
    assert configured(base, TrainingSettings, {}) is base
    with pytest.raises(TypeError, match=r"unknown setting 'batchsize' for TrainingSettings \(did you mean "
                                        r"'batch_size'\?\); accepted: batch_size, device, epochs, lr"):
        configured(base, TrainingSettings, {"batchsize": 8})
    with pytest.raises(TypeError, match="unknown setting 'colour' for TrainingSettings; accepted"):
        configured(base, TrainingSettings, {"colour": 1})
    with pytest.raises(TypeError, match="config must be a TrainingSettings, got dict"):
        configured({"epochs": 2}, TrainingSettings, {})
    with pytest.raises(ValueError, match="epochs"):
        configured(base, TrainingSettings, {"epochs": 0})  # an override is checked like a setting


def test_filled_keeps_every_other_field():
    base = TrainingSettings(epochs=2, seed=3, device="cpu")
    more = filled(base, num_threads=2)
    assert (more.num_threads, more.epochs, base.num_threads) == (2, 2, None)
    assert setting_names(TrainingSettings) == ["batch_size", "device", "epochs", "lr", "num_threads", "seed"]
