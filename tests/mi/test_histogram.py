"""Plug-in entropy and mutual information: known values, the selective-encryption law, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imgleak.ciphers import SelectiveEncryption
from imgleak.keys import Key
from imgleak.mi import entropy, mutual_information, per_image_mutual_information


def _uniform(shape: tuple[int, ...], levels: int, seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, levels, shape, generator=generator).to(torch.uint8).to(device)


@pytest.fixture(scope="module")
def uniform_images(device) -> torch.Tensor:
    """Eight uniform random 8-bit images of 500 x 500: two million samples."""
    return _uniform((8, 1, 500, 500), 256, 0, device)


def test_entropy_of_known_distributions(device):
    assert entropy(torch.zeros(100, dtype=torch.uint8, device=device)) == 0.0
    assert entropy(torch.tensor([0, 1] * 50, device=device)) == pytest.approx(1.0)
    assert entropy(torch.arange(1024, device=device)) == pytest.approx(10.0)
    assert entropy(_uniform((1_000_000,), 256, 1, device)) == pytest.approx(8.0, abs=0.01)


def test_miller_madow_adds_the_bias_term(device):
    x = _uniform((10_000,), 16, 2, device)
    correction = 15 / (2 * 10_000 * math.log(2))
    assert entropy(x, miller_madow=True) == pytest.approx(entropy(x) + correction)


def test_mutual_information_with_itself_is_the_entropy(device):
    x = _uniform((3, 32, 32), 256, 3, device)
    assert mutual_information(x, x) == pytest.approx(entropy(x), abs=1e-9)


def test_independent_variables_have_mutual_information_near_zero(device):
    x, y = _uniform((1_000_000,), 16, 4, device), _uniform((1_000_000,), 16, 5, device)
    assert 0 <= mutual_information(x, y) < 0.01
    # With 256 x 256 bins the plug-in bias, about 255**2 / (2 N ln 2) bits, dominates ...
    x, y = _uniform((1_000_000,), 256, 6, device), _uniform((1_000_000,), 256, 7, device)
    plug_in = mutual_information(x, y)
    assert plug_in == pytest.approx(255**2 / (2e6 * math.log(2)), rel=0.1)
    # ... and Miller-Madow removes most of it.
    corrected = mutual_information(x, y, miller_madow=True)
    assert abs(corrected) < 0.01
    assert abs(corrected) < abs(plug_in)


@pytest.mark.parametrize("bits", range(9))
def test_clear_part_of_uniform_images_keeps_8_minus_n_bits(uniform_images, bits):
    cipher = SelectiveEncryption(bits)
    y = cipher.encrypt(uniform_images, Key.from_seed(bits))
    clear = mutual_information(uniform_images, cipher.clear_part(y))
    assert clear == pytest.approx(8 - bits, abs=0.05)
    # The scaled clear part is a bijection of the clear part: same information.
    assert mutual_information(uniform_images, cipher.scaled_clear_part(y)) == pytest.approx(clear, abs=1e-9)
    # The whole cipher image carries the same information when the key bits are uniform.
    full = mutual_information(uniform_images, y, miller_madow=True)
    assert full == pytest.approx(8 - bits, abs=0.05)


def test_mutual_information_is_symmetric(device):
    x = _uniform((200_000,), 64, 8, device)
    y = ((x.long() + _uniform((200_000,), 8, 9, device)) % 50).to(torch.uint8)
    assert mutual_information(x, y) == pytest.approx(mutual_information(y, x), abs=1e-9)
    assert mutual_information(x, y, miller_madow=True) == pytest.approx(
        mutual_information(y, x, miller_madow=True), abs=1e-9
    )


def test_deterministic_function_keeps_its_entropy(device):
    x = _uniform((100_000,), 256, 10, device)
    fx = (x.long() * x.long()) % 37
    assert mutual_information(x, fx) == pytest.approx(entropy(fx), abs=1e-9)


def test_bins_accept_larger_counts_and_reject_values_outside(device):
    x = _uniform((1000,), 10, 11, device)
    y = (x // 2).to(torch.uint8)
    assert entropy(x, bins=256) == pytest.approx(entropy(x))
    assert mutual_information(x, y, bins=(256, 64)) == pytest.approx(mutual_information(x, y))
    assert mutual_information(x, y, bins=16) == pytest.approx(mutual_information(x, y))
    with pytest.raises(ValueError, match="outside bins=5"):
        entropy(x, bins=5)
    with pytest.raises(ValueError, match="positive int"):
        mutual_information(x, y, bins=0)
    with pytest.raises(ValueError, match="pair"):
        mutual_information(x, y, bins=(16, 16, 16))


def test_any_integer_dtype_and_shape_with_equal_sizes(device):
    x = torch.arange(600, device=device).reshape(20, 30) % 300
    y = (x % 7).to(torch.int16).reshape(600)
    assert mutual_information(x, y) == pytest.approx(entropy(y), abs=1e-9)


@pytest.mark.parametrize("miller_madow", [False, True])
def test_per_image_values_match_single_calls(device, miller_madow):
    x = _uniform((5, 3, 16, 16), 256, 12, device)
    y = SelectiveEncryption(3).encrypt(x, Key.from_seed(0))
    values = per_image_mutual_information(x, y, miller_madow=miller_madow)
    assert values.shape == (5,)
    assert values.dtype == torch.float64
    assert values.device == device
    for i in range(5):
        single = mutual_information(x[i], y[i], miller_madow=miller_madow)
        assert float(values[i]) == pytest.approx(single, abs=1e-9)


def test_errors(device):
    x = torch.zeros(10, dtype=torch.uint8, device=device)
    with pytest.raises(ValueError, match="same number of elements"):
        mutual_information(x, torch.zeros(11, dtype=torch.uint8, device=device))
    with pytest.raises(TypeError, match="integers"):
        mutual_information(x.float(), x)
    with pytest.raises(TypeError, match="integers"):
        entropy(x.double())
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        entropy([1, 2, 3])
    with pytest.raises(ValueError, match="non-negative"):
        entropy(torch.tensor([0, -1, 2], device=device))
    with pytest.raises(ValueError, match="non-negative"):
        mutual_information(x, x.to(torch.int8) - 1)
    with pytest.raises(ValueError, match="fewer levels"):
        mutual_information(torch.tensor([0, 2**20], device=device), torch.tensor([2**20, 0], device=device))
    with pytest.raises(ValueError, match="empty"):
        entropy(torch.zeros(0, dtype=torch.uint8, device=device))
    with pytest.raises(ValueError, match="same number of images"):
        per_image_mutual_information(x.reshape(2, 5), x.reshape(5, 2))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        per_image_mutual_information([[1]], torch.zeros(1, 1, dtype=torch.uint8))


@pytest.mark.parametrize("flag", ["no", "False", 1, 0, None])
def test_miller_madow_must_be_a_bool_not_anything_truthy(flag):
    x, y = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 1])
    with pytest.raises(TypeError, match="miller_madow must be True or False"):
        entropy(x, miller_madow=flag)
    with pytest.raises(TypeError, match="miller_madow must be True or False"):
        mutual_information(x, y, miller_madow=flag)
    with pytest.raises(TypeError, match="miller_madow must be True or False"):
        per_image_mutual_information(torch.stack([x, x]), torch.stack([x, y]), miller_madow=flag)


def test_numpy_bins_and_list_pairs_are_accepted():
    x, y = torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 1])
    assert entropy(x, bins=np.int64(4)) == 2.0
    assert mutual_information(x, y, bins=[np.int32(4), 2]) == mutual_information(x, y, bins=(4, 2)) == 1.0
    assert entropy(x, miller_madow=np.bool_(False)) == 2.0
    with pytest.raises(ValueError, match="bins for x must be a positive int, got 4.0"):
        entropy(x, bins=4.0)


def test_per_image_of_an_empty_batch_is_refused_by_name():
    empty = torch.zeros(0, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match="x_batch and y_batch hold no images"):
        per_image_mutual_information(empty, empty)


def test_huge_bin_counts_are_refused_before_any_arithmetic():
    x = torch.tensor([0, 1, 2, 3])
    for call in (lambda: entropy(x, bins=10**30), lambda: mutual_information(x, x, bins=10**30),
                 lambda: per_image_mutual_information(x[None], x[None], bins=(4, 10**30))):
        with pytest.raises(ValueError, match="the histogram would need"):
            call()
