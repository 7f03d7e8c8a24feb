"""The DCGAN-style patch discriminator and the DCGAN initialisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from imgleak.nets.discriminator import Discriminator, dcgan_init


@pytest.mark.parametrize("size, patches, strided", [(16, 1, 2), (32, 5, 2), (64, 5, 3), (96, 9, 3)])
def test_discriminator_patch_map(device, size, patches, strided):
    disc = Discriminator(3, size, width=8).to(device)
    x = torch.rand(2, 3, size, size, device=device)
    assert disc(x).shape == (2, 1, patches, patches)
    torch.testing.assert_close(disc.score(x), disc(x).flatten(1).mean(1))
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert sum(c.stride == (2, 2) for c in convs) == strided and convs[-1].out_channels == 1
    assert disc.config == {"channels": 3, "image_size": size, "width": 8, "max_downsamplings": 4}


def test_discriminator_errors():
    with pytest.raises(ValueError, match="side >= 16, got 8"):
        Discriminator(3, 8)
    with pytest.raises(ValueError, match="width must be a positive int"):
        Discriminator(3, 32, width=0)


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(4096), nn.ConvTranspose2d(64, 64, 3), nn.Linear(3, 3))
    linear = net[3].weight.clone()
    dcgan_init(net)
    net.requires_grad_(False)
    for conv in (net[0], net[2]):
        assert abs(float(conv.weight.std()) - 0.02) < 1e-3 and abs(float(conv.weight.mean())) < 1e-3
        assert torch.equal(conv.bias, torch.zeros_like(conv.bias))
    assert abs(float(net[1].weight.mean()) - 1) < 2e-3 and abs(float(net[1].weight.std()) - 0.02) < 2e-3
    assert torch.equal(net[1].bias, torch.zeros(4096))
    assert torch.equal(net[3].weight, linear)  # only convolutions and BatchNorm
