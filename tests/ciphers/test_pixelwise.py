"""Pixel-wise encryption: exact inverse, per-pixel structure, same vs different keys, key space."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.ciphers import pixelwise
from imgleak.ciphers.etc import EtCEncryption
from imgleak.ciphers.pixelwise import PixelwiseEncryption, channel_ranks
from imgleak.keys import Key


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


def _folded_sorted(x: torch.Tensor) -> torch.Tensor:
    """Each pixel's channel values folded to min(p, 255 - p) and sorted: what the key cannot change."""
    return torch.minimum(x, 255 - x).sort(dim=-3).values


@settings(max_examples=30, deadline=None)
@given(
    mode=st.sampled_from(["same", "different"]),
    batch=st.sampled_from([(), (1,), (4,)]),
    channels=st.sampled_from([1, 2, 3]),
    size=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    seed=st.integers(0, 2**32 - 1),
    first_index=st.integers(0, 10**6),
)
def test_decrypt_inverts_encrypt_exactly(device, mode, batch, channels, size, seed, first_index):
    cipher = PixelwiseEncryption(mode)
    x = _random_images((*batch, channels, *size), seed, device)
    key = Key.from_seed(seed)
    y = cipher.encrypt(x, key, first_index=first_index)
    assert (y.shape, y.dtype, y.device) == (x.shape, x.dtype, x.device)
    assert torch.equal(cipher.decrypt(y, key, first_index=first_index), x)
    # per pixel: channel values are negated or not, then reordered
    assert torch.equal(_folded_sorted(y), _folded_sorted(x))


def test_flips_and_channel_orders_are_balanced(device):
    # channel values 0, 1, 2 everywhere: a cipher pixel shows its flips and its order
    x = torch.arange(3, dtype=torch.uint8, device=device)[:, None, None].expand(3, 64, 64).contiguous()
    y = PixelwiseEncryption().encrypt(x, Key.from_seed(1))
    flipped = y > 127
    assert abs(flipped.float().mean().item() - 0.5) < 0.03
    source = torch.where(flipped, 255 - y, y).flatten(1).T.long()  # (pixels, 3) source channel per slot
    assert torch.equal(source.sort(dim=1).values, torch.arange(3, device=device).expand_as(source))
    codes = source[:, 0] * 3 + source[:, 1]
    counts = torch.bincount(codes, minlength=9)[[1, 2, 3, 5, 6, 7]]  # the 6 orders
    assert counts.sum() == 64 * 64 and (counts - 64 * 64 / 6).abs().max() < 120


def test_different_mode_gives_each_image_its_own_key(device):
    same_images = _random_images((1, 3, 10, 10), 2, device).expand(6, 3, 10, 10).contiguous()
    key = Key.from_seed(3)
    fresh = PixelwiseEncryption("different").encrypt(same_images, key)
    assert len({tuple(image.flatten().tolist()) for image in fresh}) == 6
    fixed = PixelwiseEncryption("same").encrypt(same_images, key)
    assert torch.equal(fixed, fixed[:1].expand_as(fixed))
    assert torch.equal(PixelwiseEncryption("same").encrypt(same_images[0], key), fixed[0])


def test_chunks_with_first_index_match_the_whole_batch(device):
    cipher = PixelwiseEncryption("different")
    key = Key.from_seed(4)
    x = _random_images((7, 3, 6, 5), 5, device)
    whole = cipher.encrypt(x, key)
    chunks = torch.cat([cipher.encrypt(x[:3], key), cipher.encrypt(x[3:], key, first_index=3)])
    assert torch.equal(whole, chunks)
    assert torch.equal(cipher.encrypt(x[4], key, first_index=4), whole[4])
    assert torch.equal(cipher.decrypt(whole[3:], key, first_index=3), x[3:])


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_channel_ranks_are_the_inverse_of_the_sorted_order_ties_included(channels):
    # every pattern of ties among three values, twice over (the ranks are computed per image)
    rows = torch.tensor(list(itertools.product([0.25, 0.5, 0.75], repeat=channels)), dtype=torch.float32)
    draws = torch.stack([rows, rows.flip(0)])  # (N, P, C)
    expected = draws.argsort(dim=-1).argsort(dim=-1).transpose(1, 2)
    ranks = channel_ranks(draws)
    assert ranks.dtype == torch.uint8 and torch.equal(ranks.long(), expected)


@pytest.mark.parametrize("cipher", [PixelwiseEncryption("different"), EtCEncryption(block=4, mode="different")],
                         ids=["pixelwise", "etc"])
def test_per_image_keys_in_chunks_match_one_pass_and_empty_batches(device, monkeypatch, cipher):
    # in_chunks serves both schemes: a few images at a time must give the whole batch's result
    key = Key.from_seed(6)
    x = _random_images((5, 3, 8, 12), 6, device)
    whole = cipher.encrypt(x, key, first_index=2)
    monkeypatch.setattr(pixelwise, "INDEX_CHUNK", 2 * x[0].numel())  # two images at a time: 3 chunks
    assert torch.equal(cipher.encrypt(x, key, first_index=2), whole)
    assert torch.equal(cipher.decrypt(whole, key, first_index=2), x)
    for mode in ("same", "different"):
        assert dataclasses.replace(cipher, mode=mode).encrypt(x[:0], key).shape == (0, 3, 8, 12)


def test_key_space():
    n = 96 * 96
    assert PixelwiseEncryption().key_space_log2((3, 96, 96)) == pytest.approx(3 * n + n * math.log2(6))
    assert PixelwiseEncryption("different").key_space_log2((10, 3, 11, 11)) == pytest.approx(10 * 121 * (3 + math.log2(6)))  # a key per image
    assert PixelwiseEncryption().key_space_log2((1, 5, 5)) == pytest.approx(25)


def test_errors(device):
    x = torch.zeros(3, 4, 4, dtype=torch.uint8, device=device)
    with pytest.raises(ValueError, match="mode must be 'same'.*'different'"):
        PixelwiseEncryption("per-image")
    with pytest.raises(ValueError, match="first_index must be a non-negative int"):
        PixelwiseEncryption("different").encrypt(x, Key.from_seed(0), first_index=-1)
    with pytest.raises(TypeError, match="imgleak Key"):
        PixelwiseEncryption().encrypt(x, b"0" * 32)
    with pytest.raises(TypeError, match="uint8"):
        PixelwiseEncryption().decrypt(x.float(), Key.from_seed(0))
