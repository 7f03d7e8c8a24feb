"""ResNet-18 classifiers from scratch, with the small-input stem used for 28- and 32-pixel images.

>>> import torch
>>> resnet18_classifier(1, 10)(torch.rand(2, 1, 8, 8)).shape
torch.Size([2, 10])
"""

from __future__ import annotations

from torch import nn

from .._checks import boolean, positive_int


def resnet18_classifier(in_channels: int, num_classes: int, small_stem: bool = True) -> nn.Module:
    """torchvision's ResNet-18 (``weights=None``, about 11.2 M parameters) for ``in_channels``
    inputs and ``num_classes`` logits (``fc = Linear(512, num_classes)``).

    ``small_stem=True`` replaces the stem by a 3×3, stride-1, padding-1 convolution without
    max-pool (for small images: 16×16 inputs reach the last stage at 2×2); ``False`` keeps the
    7×7 stride-2 convolution and max-pool (the RVT paper's choice for inputs up-sampled to 224).
    Any image size of at least one pixel works (global average pooling).
    """
    from torchvision.models import resnet18

    in_channels, num_classes = positive_int(in_channels, "in_channels"), positive_int(num_classes, "num_classes")
    small_stem = boolean(small_stem, "small_stem")
    model = resnet18(weights=None, num_classes=num_classes)
    if small_stem:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    else:  # torchvision's ImageNet stem
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


__all__ = ["resnet18_classifier"]
