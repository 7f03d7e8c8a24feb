"""The DCGAN-style patch discriminator (seed paper Fig. 5, proxy) and the DCGAN initialisation.

>>> import torch
>>> disc = Discriminator(3, 32, width=8)
>>> disc(torch.rand(2, 3, 32, 32)).shape, disc.score(torch.rand(2, 3, 32, 32)).shape
(torch.Size([2, 1, 5, 5]), torch.Size([2]))
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import positive_int


class Discriminator(nn.Module):
    """DCGAN-style discriminator: strided 4 × 4 convs, LeakyReLU(0.2).

    ``Conv(C, w, 4, 2, 1)`` → LReLU, then ``Conv(·, 2·, 4, 2, 1)`` → BN → LReLU until the side is
    at most 12 (at least 2, at most ``max_downsamplings`` stride-2 layers: 96 → 48 → 24 → 12, 32 → 16
    → 8), then ``Conv(·, 1, 4, 1, 0)`` gives a map of patch logits. :meth:`forward` returns the
    map ``(N, 1, h, w)``; :meth:`score` its mean, one logit per image (DCGAN's single score; take
    a sigmoid for the probability). Inputs: [0, 1] images of side >= 16.
    """

    def __init__(self, channels: int = 3, image_size: int = 96, width: int = 64, max_downsamplings: int = 4) -> None:
        super().__init__()
        channels = positive_int(channels, "channels")
        image_size = positive_int(image_size, "image_size")
        width = positive_int(width, "width")
        max_downsamplings = positive_int(max_downsamplings, "max_downsamplings")
        if image_size < 16:
            raise ValueError(f"the discriminator needs images of side >= 16, got {image_size}")
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        side, n, c = image_size // 2, 1, width
        while n < 2 or (side > 12 and n < max(2, max_downsamplings)):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, inplace=True)]
            side, n, c = side // 2, n + 1, 2 * c
        layers.append(nn.Conv2d(c, 1, 4, 1, 0))
        self.body = nn.Sequential(*layers)
        self.config = {"channels": channels, "image_size": image_size, "width": width,
                       "max_downsamplings": max_downsamplings}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * 2 - 1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per image: the mean of the patch logits, ``(N,)``."""
        return self.forward(x).flatten(1).mean(1)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation in place: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


__all__ = ["Discriminator", "dcgan_init"]
