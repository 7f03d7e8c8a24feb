"""A small U-Net (Ronneberger et al. 2015): the TN-model / TN-GAN generator and the ITN- and
GAN-Attack network for their images.

It lives with the ciphers, not in :mod:`imgleak.nets`, because it is the learned schemes' key
format: a TN key is a trained U-Net, which the cipher layer must be able to build and load.

>>> import torch
>>> net = UNet(3, 3, base=4, depth=2)
>>> net.multiple, net(torch.rand(1, 3, 8, 8)).shape
(4, torch.Size([1, 3, 8, 8]))
>>> sum(p.numel() for p in UNet().parameters())  # the defaults: base 16, depth 3
482771
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import positive_int


def double_conv(cin: int, cout: int) -> nn.Sequential:
    """Two 3 × 3 convs (no bias), each followed by BatchNorm and ReLU: one U-Net level."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A small U-Net: [0, 1] images in, [0, 1] images out.

    ``depth`` levels of (2 × 2 max-pool, :func:`double_conv`) doubling the width from ``base``,
    then as many (2 × 2 transposed conv, concatenation with the skip, :func:`double_conv`), a
    1 × 1 conv and a sigmoid (``sigmoid(2z) = (tanh(z) + 1) / 2``, a DCGAN tanh output rescaled).
    Inputs are mapped to [−1, 1] inside. Image sides must be multiples of ``2 ** depth``
    (:attr:`multiple`). ``config`` holds the constructor arguments.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base: int = 16, depth: int = 3) -> None:
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        out_channels = positive_int(out_channels, "out_channels")
        base = positive_int(base, "base")
        depth = positive_int(depth, "depth")
        self.config = {"in_channels": in_channels, "out_channels": out_channels, "base": base, "depth": depth}
        self.inc = double_conv(in_channels, base)
        self.downs = nn.ModuleList()
        width = base
        for _ in range(depth):
            self.downs.append(nn.Sequential(nn.MaxPool2d(2), double_conv(width, 2 * width)))
            width *= 2
        self.ups = nn.ModuleList()
        self.up_convs = nn.ModuleList()
        for _ in range(depth):
            self.ups.append(nn.ConvTranspose2d(width, width // 2, 2, stride=2))
            self.up_convs.append(double_conv(width, width // 2))
            width //= 2
        self.out = nn.Conv2d(base, out_channels, 1)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (``2 ** depth``)."""
        return 2 ** self.config["depth"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.multiple
        if h % m or w % m:
            raise ValueError(
                f"the U-Net (depth {self.config['depth']}) needs image sides that are multiples of {m}, got {h}x{w}"
            )
        if x.shape[1] != self.config["in_channels"]:
            raise ValueError(f"the U-Net expects {self.config['in_channels']} channels, got {x.shape[1]}")
        feature = self.inc(x * 2 - 1)
        skips = []
        for down in self.downs:
            skips.append(feature)
            feature = down(feature)
        for up, conv in zip(self.ups, self.up_convs):
            feature = conv(torch.cat([skips.pop(), up(feature)], dim=1))
        return torch.sigmoid(self.out(feature))


__all__ = ["UNet", "double_conv"]
