"""Pieces shared by the training loops: checks, seeded batches, the differentiable SSIM, the clock."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
import torch

from imgleak.metrics import ssim
from imgleak.training.common import (
    EpochClock,
    adam_schedule,
    check_run_settings,
    class_labels,
    finite,
    image_set,
    shuffled_batches,
    soft_ssim,
)


@pytest.mark.parametrize("n, batch_size, sizes", [(10, 4, [4, 4, 2]), (9, 4, [4, 4]), (3, 8, [3]), (1, 4, [1])])
def test_shuffled_batches_partition_and_drop_a_trailing_one(n, batch_size, sizes):
    batches = shuffled_batches(n, batch_size, torch.Generator().manual_seed(0))
    assert [b.numel() for b in batches] == sizes
    seen = torch.cat(batches)
    assert len(set(seen.tolist())) == seen.numel() and set(seen.tolist()) <= set(range(n))
    again = shuffled_batches(n, batch_size, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def test_image_set_and_class_labels_checks():
    x = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    assert image_set(x, "images") is x
    with pytest.raises(ValueError, match="images needs at least 4 images, got 3"):
        image_set(x, "images", minimum=4)
    with pytest.raises(ValueError, match="a single image"):
        image_set(x[0], "images")
    with pytest.raises(TypeError, match="images must have dtype torch.uint8"):
        image_set(x.float(), "images")
    y = torch.tensor([0, 2, 1])
    assert class_labels(y, 3, "labels") is y
    with pytest.raises(TypeError, match="torch.int64"):
        class_labels(y.int(), 3, "labels")
    with pytest.raises(TypeError, match="labels must be a torch.int64 tensor"):
        class_labels([0, 1, 2], 3, "labels")
    with pytest.raises(ValueError, match="N = 4"):
        class_labels(y, 4, "labels")


def test_adam_schedule_and_finite():
    assert adam_schedule(2, 8, 1e-3, 0) == (2, 8, 1e-3, 0.0)
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\)"):
        adam_schedule(2, 8, 1e-3, 1.0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        adam_schedule(2, 8, 0, 0.5)
    assert finite(1.5, "loss") == 1.5
    with pytest.raises(FloatingPointError, match="the loss became nan"):
        finite(float("nan"), "the loss")


def test_soft_ssim_matches_the_metric_and_is_differentiable():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (2, 3, 24, 24), generator=g, dtype=torch.uint8)
    b = (a.int() + torch.randint(-40, 40, a.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    x = (a.float() / 255).requires_grad_()
    soft = soft_ssim(x, b.float() / 255)
    torch.testing.assert_close(soft, ssim(a, b), atol=0.01, rtol=0)
    soft.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    torch.testing.assert_close(soft_ssim(a.float() / 255, a.float() / 255), torch.ones(2))
    with pytest.raises(ValueError, match="one shape"):
        soft_ssim(x, x[:1])
    with pytest.raises(ValueError, match="window"):
        soft_ssim(a.float(), a.float(), window=25)


@dataclass(frozen=True)
class _Run:
    epochs: object = 2
    batch_size: object = 4
    lr: object = 1
    image_shape: object = (3, 8, 8)
    seed: object = 5
    device: object = "cpu"
    num_threads: object = None


def test_check_run_settings_normalises_and_names():
    run = _Run(lr=1, image_shape=(3, 8, 8))
    check_run_settings(run)
    assert (run.lr, run.image_shape, run.device, run.seed) == (1.0, [3, 8, 8], "cpu", 5)
    for field, value, error, match in [("epochs", 0, ValueError, "epochs"), ("seed", "1", TypeError, "seed"),
                                       ("seed", 2**63, ValueError, "seed must be in"),
                                       ("num_threads", 0, ValueError, "num_threads"),
                                       ("device", "tpu", ValueError, "device")]:
        with pytest.raises(error, match=match):
            check_run_settings(_Run(**{field: value}))


def test_epoch_clock_counts_images_over_timed_seconds():
    clock = EpochClock()
    assert clock.images_per_second == 0
    clock.add(time.perf_counter() - 2.0, 10)
    assert clock.images == 10 and 2.0 <= clock.seconds < 3 and 3 < clock.images_per_second <= 5
