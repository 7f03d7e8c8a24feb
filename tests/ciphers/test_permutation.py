"""Random pixel permutation (the RVT paper's baseline): exact inverse, per-image keys, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.ciphers.permutation import RandomPermutation
from imgleak.keys import Key


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


@settings(max_examples=30, deadline=None)
@given(
    per_image=st.booleans(),
    batch=st.sampled_from([(), (1,), (4,)]),
    channels=st.sampled_from([1, 3]),
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    seed=st.integers(0, 2**32 - 1),
    first_index=st.integers(0, 10**6),
)
def test_decrypt_inverts_encrypt_exactly(device, per_image, batch, channels, size, seed, first_index):
    cipher = RandomPermutation(per_image=per_image)
    x = _random_images((*batch, channels, *size), seed, device)
    key = Key.from_seed(seed)
    y = cipher.encrypt(x, key, first_index=first_index)
    assert (y.shape, y.dtype, y.device) == (x.shape, x.dtype, x.device)
    assert torch.equal(cipher.decrypt(y, key, first_index=first_index), x)
    # a permutation keeps every image's (per-channel) histogram
    assert torch.equal(y.flatten(-2).sort().values, x.flatten(-2).sort().values)


def test_channels_move_together(device):
    for per_image in (True, False):
        grey = _random_images((5, 1, 9, 7), 1, device)
        y = RandomPermutation(per_image).encrypt(grey.expand(5, 3, 9, 7).contiguous(), Key.from_seed(2))
        assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 0], y[:, 2])


def test_per_image_permutations_differ_and_fixed_ones_do_not(device):
    same = _random_images((1, 1, 10, 10), 3, device).expand(6, 1, 10, 10).contiguous()
    key = Key.from_seed(4)
    fresh = RandomPermutation(per_image=True).encrypt(same, key)
    assert len({tuple(image.flatten().tolist()) for image in fresh}) == 6
    fixed = RandomPermutation(per_image=False).encrypt(same, key)
    assert torch.equal(fixed, fixed[:1].expand_as(fixed))


def test_chunks_with_first_index_match_the_whole_batch(device):
    cipher = RandomPermutation()
    key = Key.from_seed(5)
    x = _random_images((7, 2, 6, 6), 6, device)
    whole = cipher.encrypt(x, key)
    chunks = torch.cat([cipher.encrypt(x[:3], key), cipher.encrypt(x[3:], key, first_index=3)])
    assert torch.equal(whole, chunks)
    assert torch.equal(cipher.encrypt(x[4], key, first_index=4), whole[4])


def test_same_key_same_output_and_different_keys_differ(device):
    x = _random_images((3, 1, 28, 28), 7, device)
    for per_image in (True, False):
        cipher = RandomPermutation(per_image)
        first = cipher.encrypt(x, Key.from_seed(8))
        assert torch.equal(first, RandomPermutation(per_image).encrypt(x, Key.from_seed(8)))
        assert not torch.equal(first, cipher.encrypt(x, Key.from_seed(9)))


def test_permutation_maps_and_key_space():
    cipher = RandomPermutation()
    maps = cipher.permutations(Key.from_seed(0), 3, 16, first_index=2)
    assert maps.shape == (3, 16) and maps.device.type == "cpu"
    assert torch.equal(maps.sort(dim=1).values, torch.arange(16).expand(3, 16))
    assert RandomPermutation(False).permutations(Key.from_seed(0), 3, 16).shape == (16,)
    assert cipher.key_space_log2((1, 2, 2)) == pytest.approx(math.log2(24))
    assert cipher.key_space_log2((5, 1, 2, 2)) == pytest.approx(5 * math.log2(24))
    assert RandomPermutation(False).key_space_log2((5, 1, 2, 2)) == pytest.approx(math.log2(24))


def test_changing_returned_maps_changes_no_later_output(device):
    x = _random_images((2, 1, 4, 4), 10, device)
    key = Key.from_seed(11)
    for per_image in (True, False):
        cipher = RandomPermutation(per_image)
        before = cipher.encrypt(x, key)
        cipher.permutations(key, 2, 16).zero_()  # the fixed map is cached per device
        assert torch.equal(cipher.encrypt(x, key), before)


def test_errors(device):
    x = _random_images((2, 1, 4, 4), 0, device)
    key = Key.from_seed(0)
    with pytest.raises(TypeError, match="per_image"):
        RandomPermutation(per_image="yes")
    with pytest.raises(TypeError, match="uint8"):
        RandomPermutation().encrypt(x.int(), key)
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        RandomPermutation().encrypt(x[0, 0], key)
    with pytest.raises(TypeError, match="imgleak Key"):
        RandomPermutation().encrypt(x, 42)
    with pytest.raises(ValueError, match="first_index"):
        RandomPermutation().decrypt(x, key, first_index=-1)


def test_pixel_maps_match_permutations_and_refuse_bad_arguments_by_name():
    cipher, key = RandomPermutation(), Key.from_seed(0)
    assert torch.equal(cipher.pixel_maps(key, (1, 4, 4), n_images=2, first_index=3),
                       cipher.permutations(key, 2, 16, first_index=3))
    assert cipher.pixel_maps(key, (4, 4), n_images=0).shape == (0, 16)
    for n_images in (-1, 2.5, True):
        with pytest.raises(ValueError, match=rf"n_images must be a non-negative int, got {n_images!r}"):
            cipher.pixel_maps(key, (1, 4, 4), n_images=n_images)
    for shape in ("abc", (3,)):
        with pytest.raises(ValueError, match=r"shape must be \(H, W\), \(C, H, W\) or \(N, C, H, W\)"):
            cipher.pixel_maps(key, shape)
    with pytest.raises(ValueError, match="n_pixels must be a positive int"):
        cipher.permutations(key, 1, 0)
