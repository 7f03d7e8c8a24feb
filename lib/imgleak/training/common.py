"""Pieces shared by the training loops (transformation networks, ITN- and GAN-Attack): argument
checks for image sets and labels, the settings of adversarial runs, seeded minibatches, a divergence check, a
differentiable SSIM and the epoch timer behind every ``images_per_second``.

>>> shuffled_batches(5, 2, torch.Generator().manual_seed(0))  # the trailing batch of one is dropped
[tensor([4, 0]), tensor([1, 3])]
"""

from __future__ import annotations

import math
import time
from dataclasses import InitVar, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .._checks import number, positive_int
from ..tensors import as_image_batch
from .run_settings import TrainingSettings, batches_per_epoch


def image_set(x: Any, name: str, minimum: int = 2) -> torch.Tensor:
    """``x`` checked as a uint8 batch ``(N, C, H, W)`` of at least ``minimum`` images."""
    if isinstance(x, torch.Tensor) and x.dim() == 3:
        raise ValueError(f"{name} must be a batch shaped (N, C, H, W), got a single image {tuple(x.shape)}")
    batch, _ = as_image_batch(x, name)
    if batch.shape[0] < minimum:
        raise ValueError(f"{name} needs at least {minimum} images, got {batch.shape[0]}")
    return batch


def class_labels(y: Any, n: int, name: str) -> torch.Tensor:
    """``y`` checked as ``n`` class indices: a ``torch.int64`` tensor ``(n,)`` of values >= 0."""
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64:
        got = y.dtype if isinstance(y, torch.Tensor) else type(y).__name__
        raise TypeError(f"{name} must be a torch.int64 tensor shaped (N,), got {got}")
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be shaped (N,) with N = {n} (the number of images), got {tuple(y.shape)}")
    if int(y.min()) < 0:
        raise ValueError(f"{name} must be class indices >= 0, got {int(y.min())}")
    return y


@dataclass(frozen=True, kw_only=True)
class GANSettings(TrainingSettings):
    """:class:`~imgleak.training.run_settings.TrainingSettings` of an adversarial run (TN-GAN,
    GAN-Attack), and:

    * ``betas``: Adam's ``[beta1, 0.999]`` for every network, ``beta1`` in [0, 1) (CycleGAN's and
      the GAN-Attack paper's 0.5); ``beta1=`` alone sets ``betas[0]``;
    * ``discriminator``: the discriminators' :class:`~imgleak.nets.discriminator.Discriminator`
      options, ``{"width": 32}`` (first width; DCGAN's is 64) until :meth:`discriminator_for` adds
      the images' ``channels`` and ``image_size`` and ``max_downsamplings``; ``disc_width=`` alone
      sets ``width``.

    >>> GANSettings(beta1=0.9, disc_width=8).betas, GANSettings(beta1=0.9, disc_width=8).discriminator
    ([0.9, 0.999], {'width': 8})
    """

    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    beta1: InitVar[float | None] = None
    discriminator: dict[str, int] = field(default_factory=lambda: {"width": 32})
    disc_width: InitVar[int | None] = None

    def __post_init__(self, beta1: float | None, disc_width: int | None) -> None:  # type: ignore[override]
        super().__post_init__()
        betas = self.betas
        if not isinstance(betas, (list, tuple)) or len(betas) != 2 or betas[1] != 0.999:
            raise ValueError(f"betas must be [beta1, 0.999], got {betas!r}")
        beta1 = number(betas[0] if beta1 is None else beta1, "beta1")
        if beta1 >= 1:
            raise ValueError(f"beta1 must be in [0, 1), got {beta1}")
        self._set("betas", [beta1, 0.999])
        if not isinstance(self.discriminator, dict):
            raise TypeError(f"discriminator must be a dict, got {type(self.discriminator).__name__}")
        width = self.discriminator.get("width") if disc_width is None else disc_width
        self._set("discriminator", {**self.discriminator, "width": positive_int(width, "disc_width")})

    def discriminator_for(self, image_shape: list[int]) -> dict[str, int]:
        """The discriminators' options for images ``[C, H, W]``.

        >>> GANSettings(disc_width=8).discriminator_for([3, 16, 24])
        {'channels': 3, 'image_size': 16, 'width': 8, 'max_downsamplings': 4}
        """
        channels, height, width = image_shape
        return {"channels": channels, "image_size": min(height, width), "width": self.discriminator["width"],
                "max_downsamplings": 4}


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """A seeded shuffle of ``range(n)`` in batches; a trailing batch of one is dropped (BatchNorm:
    :func:`~imgleak.training.run_settings.batches_per_epoch` with a smallest last batch of 2)."""
    order = torch.randperm(n, generator=generator)
    return list(order.split(min(batch_size, n)))[:batches_per_epoch(n, batch_size, 2)]


def finite(value: float, what: str) -> float:
    """``value``, or ``FloatingPointError`` naming ``what`` when it is NaN or infinite (a diverged run)."""
    if not math.isfinite(value):
        raise FloatingPointError(f"{what} became {value} (diverged): lower the learning rate")
    return value


def soft_ssim(x: torch.Tensor, y: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Differentiable mean SSIM per image ``(N,)`` of float images in [0, 1].

    The settings of :func:`imgleak.metrics.ssim` (scikit-image's defaults): a ``window`` ×
    ``window`` uniform window, K1 = 0.01, K2 = 0.03, sample covariances, per channel, averaged
    over channels and the valid positions.

    >>> x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> soft_ssim(x, x)
    tensor([1., 1.])
    """
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"soft_ssim needs two (N, C, H, W) tensors of one shape, got {getattr(x, 'shape', x)!r} "
                         f"and {getattr(y, 'shape', y)!r}")
    window = positive_int(window, "window")
    if window < 2 or window > min(x.shape[-2:]):
        raise ValueError(f"window must be at least 2 and at most the image side ({x.shape[-2]}x{x.shape[-1]}), "
                         f"got {window}")
    c1, c2 = 0.01**2, 0.03**2
    norm = window * window / (window * window - 1)
    mu_x, mu_y = F.avg_pool2d(x, window, 1), F.avg_pool2d(y, window, 1)
    var_x = (F.avg_pool2d(x * x, window, 1) - mu_x * mu_x) * norm
    var_y = (F.avg_pool2d(y * y, window, 1) - mu_y * mu_y) * norm
    cov = (F.avg_pool2d(x * y, window, 1) - mu_x * mu_y) * norm
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


class EpochClock:
    """Training time and images seen, over the epochs of a run: ``images_per_second`` counts only
    the timed epochs (not evaluation or pre-training)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.images = 0

    def add(self, started: float, images: int) -> None:
        """Count an epoch that began at ``time.perf_counter()`` value ``started`` and saw ``images``."""
        self.seconds += time.perf_counter() - started
        self.images += images

    @property
    def images_per_second(self) -> float:
        return self.images / max(self.seconds, 1e-9)


__all__ = [
    "EpochClock", "GANSettings", "class_labels", "finite", "image_set", "shuffled_batches",
    "soft_ssim",
]
