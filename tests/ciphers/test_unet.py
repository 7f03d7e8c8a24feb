"""The U-Net: shapes, output range, device, its configuration and named errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.ciphers.unet import UNet, double_conv


@pytest.mark.parametrize("size", [16, 32])
def test_unet_shapes_range_and_device(device, size):
    torch.manual_seed(0)
    net = UNet(3, 2, base=4, depth=3).to(device)
    x = torch.rand(2, 3, size, size, device=device)
    with torch.no_grad():
        y = net(x)
    assert (y.shape, y.device) == ((2, 2, size, size), x.device) and 0 <= float(y.min()) and float(y.max()) <= 1
    assert net.config == {"in_channels": 3, "out_channels": 2, "base": 4, "depth": 3} and net.multiple == 8


def test_unet_levels_double_the_width():
    net = UNet(1, 1, base=4, depth=2)
    assert [level[1][0].out_channels for level in net.downs] == [8, 16]
    assert [conv[0].out_channels for conv in net.up_convs] == [8, 4]
    layers = list(double_conv(2, 5))
    assert [type(m) for m in layers] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
    assert layers[0].bias is None and layers[3].in_channels == 5


def test_unet_errors_name_what_is_needed(device):
    net = UNet(3, 3, base=4, depth=3).to(device)
    with pytest.raises(ValueError, match="multiples of 8, got 12x12"):
        net(torch.rand(1, 3, 12, 12, device=device))
    with pytest.raises(ValueError, match="expects 3 channels, got 1"):
        net(torch.rand(1, 1, 16, 16, device=device))
    for kwargs, name in (({"base": 0}, "base"), ({"depth": 1.5}, "depth"), ({"in_channels": True}, "in_channels")):
        with pytest.raises(ValueError, match=f"{name} must be a positive int"):
            UNet(**kwargs)
