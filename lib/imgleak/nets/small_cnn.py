"""A small CNN classifier on [0, 1] images, and a wrapper that feeds [0, 1] images to a
classifier trained on normalised inputs.

>>> import torch
>>> SmallClassifier(3, 5, width=4)(torch.rand(2, 3, 16, 16)).shape
torch.Size([2, 5])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._checks import positive_int


class SmallClassifier(nn.Module):
    """A small CNN classifier on [0, 1] images: 3 × 3 conv (``width``) then three stride-2 3 × 3
    conv blocks (``width``, 2·, 4·; BN + ReLU), global average pooling, a linear layer."""

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        channels = positive_int(channels, "channels")
        num_classes = positive_int(num_classes, "num_classes")
        width = positive_int(width, "width")
        layers: list[nn.Module] = []
        cin = channels
        for cout, stride in ((width, 1), (width, 2), (2 * width, 2), (4 * width, 2)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x * 2 - 1).mean(dim=(2, 3)))


class Normalised(nn.Module):
    """``network`` fed with ``(x - mean) / std`` per channel: a classifier trained on normalised
    inputs (:mod:`imgleak.training.classifier`) used on [0, 1] images."""

    def __init__(self, network: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network((x - self.mean) / self.std)


__all__ = ["Normalised", "SmallClassifier"]
