"""Tests for imgleak.nets.resnet: ResNet-18 with either stem."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.nets.resnet import resnet18_classifier


@pytest.mark.parametrize("size, final", [(16, 2), (8, 1)])
def test_small_stem_keeps_the_resolution_until_the_strided_stages(size: int, final: int) -> None:
    model = resnet18_classifier(2, 3).eval()
    features = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                             model.layer1, model.layer2, model.layer3, model.layer4)
    with torch.inference_mode():
        assert features(torch.rand(1, 2, size, size)).shape == (1, 512, final, final)
        assert model(torch.rand(4, 2, size, size)).shape == (4, 3)


def test_resnet18_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="in_channels must be a positive int, got 0"):
        resnet18_classifier(0, 10)
    with pytest.raises(ValueError, match="num_classes"):
        resnet18_classifier(1, True)
    with pytest.raises(TypeError, match="small_stem"):
        resnet18_classifier(1, 10, small_stem=1)
