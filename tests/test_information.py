"""The (reconstructed) image information-content measure of the RVT paper."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st

from imgleak.ciphers.permutation import RandomPermutation
from imgleak.ciphers.rvt import RandomVortex
from imgleak.images import load_digits, load_photo
from imgleak.information import (
    VALUE_WEIGHTS,
    information_content,
    information_loss_rate,
    information_variation,
    m_neig,
    neighbour_weight,
)
from imgleak.keys import Key


@pytest.fixture(scope="module")
def digits(device: torch.device) -> torch.Tensor:
    """200 scikit-learn digits, bilinearly enlarged to MNIST's 28x28."""
    small = load_digits().images[:200].float()
    return F.interpolate(small, size=(28, 28), mode="bilinear").round().clamp(0, 255).to(torch.uint8).to(device)


@pytest.fixture(scope="module")
def photo(device: torch.device) -> torch.Tensor:
    """A 24x32 colour crop of the astronaut photograph."""
    return load_photo("astronaut").image[:, 100:124, 200:232].contiguous().to(device)


def _swaps(n_pixels: int, pairs: torch.Tensor) -> torch.Tensor:
    """One gather map per row of ``pairs`` (i, j): the identity with i and j exchanged."""
    maps = torch.arange(n_pixels).repeat(len(pairs), 1)
    rows = torch.arange(len(pairs))
    maps[rows, pairs[:, 0]], maps[rows, pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    return maps


def test_m_neig_is_largest_when_the_distance_is_kept():
    d = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(m_neig(d, d), neighbour_weight(d))
    assert bool((m_neig(d, d + 0.5) < m_neig(d, d)).all() and (m_neig(d, d - 0.5) < m_neig(d, d)).all())
    assert bool((neighbour_weight(d).diff() < 0).all()) and float(neighbour_weight(1.0)) == 1.0


@pytest.mark.parametrize("value_weight", VALUE_WEIGHTS)
def test_the_identity_and_whole_image_flips_lose_nothing(digits, photo, value_weight):
    for x in (digits, photo):
        h, w = x.shape[-2:]
        identity = torch.arange(h * w)
        lost = information_variation(x, identity, value_weight=value_weight)
        assert lost.device == x.device and lost.shape == x.shape[:-3]
        assert float(lost.abs().max()) == 0.0
        flip = identity.reshape(h, w).flip(1).reshape(-1)  # an isometry keeps every distance
        assert float(information_variation(x, flip, value_weight=value_weight).abs().max()) == 0.0


def test_a_hand_computed_row_of_four_pixels(device):
    x = torch.tensor([[[[10, 20, 30, 40]]]], dtype=torch.uint8, device=device)
    w = neighbour_weight(torch.tensor([1.0, 2.0, 3.0])).tolist()
    content = information_content(x, value_weight="none")
    assert float(content) == pytest.approx(4 + 3 * w[0] + 2 * w[1] + w[2])
    # swap the first two: pairs (0,2), (1,2), (0,3), (1,3) change distance by one pixel
    swap = torch.tensor([1, 0, 2, 3])
    expected = (1 - math.exp(-1)) * (w[1] + w[0] + w[2] + w[1])
    assert float(information_variation(x, swap, value_weight="none")) == pytest.approx(expected)
    # pixel 1 dropped, pixel 0 copied: its value term and all its pairs go; pixel 0's best copy keeps its pairs
    dropped = torch.tensor([0, 0, 2, 3])
    assert float(information_variation(x, dropped, value_weight="none")) == pytest.approx(1 + 2 * w[0] + w[1])
    v = [10 / 255, 20 / 255, 30 / 255, 40 / 255]
    expected = v[1] + w[0] * (v[0] * v[1] + v[1] * v[2]) + w[1] * v[1] * v[3]
    assert float(information_variation(x, dropped)) == pytest.approx(expected)
    assert float(information_loss_rate(x, dropped)) == pytest.approx(expected / float(information_content(x)))


def _brute_force(x: torch.Tensor, index: list[int], radius: float, value_weight: str) -> tuple[float, float]:
    """M(I) and ΔM of one grey image by the module docstring's definition, pair by pair."""
    height, width = x.shape[-2:]
    v = (x.double() / 255).flatten().tolist()
    h = [1.0] * len(v) if value_weight == "none" else v
    u = {"none": lambda a, b: 1.0, "product": lambda a, b: a * b, "difference": lambda a, b: abs(a - b)}[value_weight]
    lands = {i: [divmod(q, width) for q, s in enumerate(index) if s == i] for i in range(len(v))}
    content = sum(h)
    lost = sum(h[i] for i in range(len(v)) if not lands[i])
    for i in range(len(v)):
        for j in range(i + 1, len(v)):
            d = math.dist(divmod(i, width), divmod(j, width))
            if d > radius:
                continue
            weight = u(v[i], v[j]) * math.exp(-(d - 1))
            kept = max((math.exp(-abs(math.dist(a, b) - d)) for a in lands[i] for b in lands[j]), default=0.0)
            content += weight
            lost += weight * (1 - kept)
    return content, lost


@settings(max_examples=15, deadline=None)
@given(size=st.tuples(st.integers(1, 6), st.integers(1, 6)), seed=st.integers(0, 2**32 - 1), bijective=st.booleans(),
       value_weight=st.sampled_from(VALUE_WEIGHTS), radius=st.floats(1.0, 3.5))
@example(size=(1, 2), seed=0, bijective=True, value_weight="product", radius=3.0)  # offsets longer than the image
def test_the_vectorised_sums_equal_a_pair_by_pair_computation(size, seed, bijective, value_weight, radius):
    generator = torch.Generator().manual_seed(seed)
    n_pixels = size[0] * size[1]
    x = torch.randint(0, 256, (1, 1, *size), dtype=torch.uint8, generator=generator)
    if bijective:
        index = torch.randperm(n_pixels, generator=generator)
    else:
        index = torch.randint(0, n_pixels, (n_pixels,), generator=generator)
    content, lost = _brute_force(x, index.tolist(), radius, value_weight)
    params = dict(radius=radius, value_weight=value_weight)
    assert float(information_content(x, **params)[0]) == pytest.approx(content)
    assert float(information_variation(x, index, **params)[0]) == pytest.approx(lost)


def test_many_random_swaps_never_increase_information(digits, photo):
    generator = torch.Generator().manual_seed(0)
    for x in (digits[:100], photo[None]):
        n_pixels = x.shape[-1] * x.shape[-2]
        for _ in range(3):  # 3 swaps for every image, all images at once
            pairs = torch.randint(0, n_pixels, (x.shape[0], 2), generator=generator)
            for value_weight in VALUE_WEIGHTS:
                lost = information_variation(x, _swaps(n_pixels, pairs), value_weight=value_weight)
                assert bool((lost >= 0).all())


@settings(max_examples=20, deadline=None)
@given(i=st.integers(0, 24 * 32 - 1), j=st.integers(0, 24 * 32 - 1), value_weight=st.sampled_from(VALUE_WEIGHTS),
       radius=st.floats(1.0, 4.0), decay=st.floats(0.2, 5.0), change_scale=st.floats(0.2, 5.0))
def test_a_swap_never_increases_information_for_any_parameters(photo, i, j, value_weight, radius, decay, change_scale):
    params = dict(value_weight=value_weight, radius=radius, decay=decay)
    swap = _swaps(24 * 32, torch.tensor([[i, j]]))[0]
    lost = information_variation(photo, swap, change_scale=change_scale, **params)
    assert lost.shape == () and float(lost) >= 0
    assert float(lost) <= float(information_content(photo, **params))


def test_swapping_two_black_pixels_loses_nothing_with_product_weights(digits):
    background = (digits[0, 0] == 0).flatten().nonzero().flatten()
    swap = _swaps(28 * 28, background[[0, -1]][None])
    assert float(information_variation(digits[:1], swap)[0]) == 0.0
    assert float(information_variation(digits[:1], swap, value_weight="none")[0]) > 0.0


def test_a_random_permutation_loses_more_than_rvt_on_digits(digits):
    permutation = RandomPermutation().permutations(Key.from_seed(0), len(digits), 28 * 28)
    random_rate = information_loss_rate(digits, permutation)
    assert random_rate.device == digits.device and random_rate.shape == (len(digits),)
    assert bool(((random_rate > 0) & (random_rate <= 1)).all())
    for seed in range(3):
        for mode in ("faithful", "invertible"):
            rvt_map = RandomVortex(mode).coordinate_map(Key.from_seed(seed), (28, 28))
            rvt_rate = information_loss_rate(digits, rvt_map)
            assert float(rvt_rate.mean()) < float(random_rate.mean())


def test_errors(digits):
    identity = torch.arange(28 * 28)
    with pytest.raises(ValueError, match="decay"):
        information_content(digits, decay=0)
    with pytest.raises(ValueError, match="radius"):
        information_variation(digits, identity, radius=0.5)
    with pytest.raises(ValueError, match="change_scale"):
        information_loss_rate(digits, identity, change_scale=float("nan"))
    with pytest.raises(ValueError, match="value_weight"):
        information_content(digits, value_weight="entropy")
    with pytest.raises(TypeError, match="uint8"):
        information_content(digits.float())
    with pytest.raises(TypeError, match="integer"):
        information_variation(digits, identity.float())
    with pytest.raises(ValueError, match="shaped"):
        information_variation(digits, identity[:-1])
    with pytest.raises(ValueError, match="shaped"):
        information_variation(digits, identity.repeat(3, 1))
    with pytest.raises(ValueError, match="lie in"):
        information_variation(digits, identity + 1)


def test_numpy_numbers_are_accepted_as_settings():
    x = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4) * 5
    assert torch.equal(information_content(x, decay=np.int64(2), radius=np.int64(2)),
                       information_content(x, decay=2.0, radius=2.0))
    assert float(m_neig(2.0, 3.0, decay=np.float32(1.0), change_scale=np.int64(1))) == pytest.approx(math.exp(-2))


@pytest.mark.parametrize("decay", [0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_formula_helpers_refuse_a_decay_that_is_not_positive(decay):
    with pytest.raises(ValueError, match="decay must be a positive finite number"):
        neighbour_weight(2.0, decay)
    with pytest.raises(ValueError, match="decay must be a positive finite number"):
        m_neig(2.0, 2.0, decay=decay)
    with pytest.raises(ValueError, match="change_scale must be a positive finite number"):
        m_neig(2.0, 2.0, change_scale=decay)


@pytest.mark.parametrize("d", ["2", None, True, [1, "a"]])
def test_formula_helpers_refuse_distances_that_are_not_numbers(d):
    with pytest.raises(TypeError, match="d must be a distance in pixels"):
        neighbour_weight(d)
    with pytest.raises(TypeError, match="d_new must be a distance in pixels"):
        m_neig(2.0, d)
