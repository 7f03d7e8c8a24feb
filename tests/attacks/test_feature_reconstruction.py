"""FR-Attack (Algorithm 1, corrected): the bit rule, invariance to the NP transform, recovered structure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imgleak.attacks import feature_reconstruction
from imgleak.ciphers.blockwise import BlockwiseScramble
from imgleak.ciphers.pixelwise import PixelwiseEncryption
from imgleak.images import extract_patches, load_photo, patch_positions
from imgleak.keys import Key
from imgleak.metrics import ssim


def _reference(p: int, bits: int, b: int) -> int:
    """Algorithm 1 on one byte read as 8 / L fields of L bits, written out plainly."""
    out = 0
    for shift in range(0, 8, bits):
        field = (p >> shift) & ((1 << bits) - 1)
        if field // 2 ** (bits - 1) != b:
            field ^= 2**bits - 1
        out |= field << shift
    return out


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("leading_bit", [0, 1])
def test_every_byte_follows_algorithm_1(device, bits, leading_bit):
    values = torch.arange(256, dtype=torch.uint8, device=device).reshape(1, 16, 16)
    out = feature_reconstruction(values, bits=bits, leading_bit=leading_bit)
    assert (out.shape, out.dtype, out.device) == (values.shape, values.dtype, values.device)
    assert out.flatten().tolist() == [_reference(p, bits, leading_bit) for p in range(256)]


def test_default_folds_every_value_into_0_127(device):
    x = torch.arange(256, dtype=torch.uint8, device=device).reshape(1, 1, 16, 16)
    expected = torch.where(x > 127, 255 - x, x)
    assert torch.equal(feature_reconstruction(x), expected)
    assert int(feature_reconstruction(x).max()) == 127


def test_the_negative_positive_transform_is_removed(device):
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (4, 3, 10, 10), dtype=torch.uint8, generator=generator).to(device)
    y = PixelwiseEncryption("different").encrypt(x, Key.from_seed(1))
    # up to the channel order, the reconstruction does not depend on the key
    assert torch.equal(feature_reconstruction(y, channel_order="sort"), feature_reconstruction(x, channel_order="sort"))
    assert torch.equal(feature_reconstruction(y).sort(dim=1).values, feature_reconstruction(x).sort(dim=1).values)
    # a single image keeps its rank
    assert feature_reconstruction(y[0]).shape == (3, 10, 10)


@pytest.fixture(scope="module")
def crops() -> torch.Tensor:
    """8 crops of 96x96 (STL-10 size) from the astronaut photograph, at fixed positions."""
    image = load_photo("astronaut").image
    return extract_patches(image, patch_positions(512, 512, 96, 8, seed=0), 96)


def test_structure_comes_back_from_pixelwise_ciphers(device, crops):
    x = crops.to(device)
    key = Key.from_seed(2)
    tanaka = BlockwiseScramble().encrypt(x, key)
    tanaka_fr = ssim(feature_reconstruction(tanaka), x).mean().item()
    for mode in ("same", "different"):
        y = PixelwiseEncryption(mode).encrypt(x, key)
        cipher = ssim(y, x).mean().item()  # measured about 0.008
        attacked = ssim(feature_reconstruction(y), x).mean().item()  # measured about 0.42
        assert cipher < 0.05 and attacked > cipher + 0.25
        sorted_channels = ssim(feature_reconstruction(y, channel_order="sort"), x).mean().item()  # about 0.57
        assert sorted_channels > attacked + 0.05
        # Tanaka's scheme resists the attack far better (measured about 0.06), as in the paper
        assert tanaka_fr < attacked - 0.2


def test_errors(device):
    y = torch.zeros(3, 4, 4, dtype=torch.uint8, device=device)
    for bad in (0, 3, 16, True):
        with pytest.raises(ValueError, match="bits .L. must be 1, 2, 4 or 8"):
            feature_reconstruction(y, bits=bad)
    with pytest.raises(ValueError, match="leading_bit .b. must be 0 or 1"):
        feature_reconstruction(y, leading_bit=2)
    with pytest.raises(ValueError, match="channel_order must be one of"):
        feature_reconstruction(y, channel_order="greedy")
    with pytest.raises(TypeError, match="uint8"):
        feature_reconstruction(y.float())


@pytest.mark.parametrize("bits", [8.0, 4.0, "8", None, np.bool_(True)])
def test_bits_that_are_not_integers_are_refused(bits):
    y = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4) * 5
    with pytest.raises(ValueError, match="bits .L. must be 1, 2, 4 or 8"):
        feature_reconstruction(y, bits=bits)


@pytest.mark.parametrize("leading_bit", [0.0, 1.0, "1", None, True])
def test_leading_bit_that_is_not_an_integer_is_refused(leading_bit):
    y = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4) * 5
    with pytest.raises(ValueError, match="leading_bit .b. must be 0 or 1"):
        feature_reconstruction(y, leading_bit=leading_bit)


def test_numpy_integers_are_accepted():
    y = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4) * 5
    expected = feature_reconstruction(y, bits=4, leading_bit=1)
    assert torch.equal(feature_reconstruction(y, bits=np.int64(4), leading_bit=np.int8(1)), expected)
    # bytes above 127 fold to 255 - p with the defaults
    assert torch.equal(feature_reconstruction(y), torch.where(y > 127, 255 - y, y))
