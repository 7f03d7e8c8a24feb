"""The small CNN classifier and the normalising wrapper."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.nets.small_cnn import Normalised, SmallClassifier


def test_small_classifier_logits_and_device(device):
    net = SmallClassifier(3, 5, width=4).to(device)
    logits = net(torch.rand(3, 3, 16, 16, device=device))
    assert logits.shape == (3, 5) and logits.device.type == torch.device(device).type
    widths = [m.out_channels for m in net.features if isinstance(m, nn.Conv2d)]
    assert widths == [4, 4, 8, 16] and net.head.in_features == 16
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        SmallClassifier(3, 0)


def test_normalised_feeds_the_normalised_image():
    inner = nn.Conv2d(2, 1, 1)
    wrapped = Normalised(inner, [0.5, 0.25], [0.5, 2.0])
    x = torch.rand(2, 2, 3, 3)
    expected = inner(torch.stack([(x[:, 0] - 0.5) / 0.5, (x[:, 1] - 0.25) / 2.0], dim=1))
    torch.testing.assert_close(wrapped(x), expected)
    assert set(dict(wrapped.named_buffers())) == {"mean", "std"}  # they move with .to(device)
