"""Pieces shared by the training loops: checks, seeded batches, the differentiable SSIM, the clock."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from imgleak.metrics import ssim
from imgleak.training.common import (
    EpochClock,
    GANSettings,
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


def test_gan_settings_and_finite():
    settings = GANSettings(beta1=0, disc_width=8, lr=1e-3)
    assert (settings.betas, settings.discriminator, settings.lr) == ([0.0, 0.999], {"width": 8}, 1e-3)
    assert dataclasses.replace(settings, epochs=3).betas == [0.0, 0.999]  # the shorthands leave no trace
    assert settings.discriminator_for([3, 16, 24]) == {"channels": 3, "image_size": 16, "width": 8,
                                                       "max_downsamplings": 4}
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\)"):
        GANSettings(beta1=1.0)
    with pytest.raises(ValueError, match=r"betas must be \[beta1, 0.999\]"):
        GANSettings(betas=[0.5, 0.9])
    with pytest.raises(ValueError, match="disc_width must be a positive int"):
        GANSettings(disc_width=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        GANSettings(lr=0)
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


def test_epoch_clock_counts_images_over_timed_seconds():
    clock = EpochClock()
    assert clock.images_per_second == 0
    clock.add(time.perf_counter() - 2.0, 10)
    assert clock.images == 10 and 2.0 <= clock.seconds < 3 and 3 < clock.images_per_second <= 5
