"""Tanaka's block-wise scheme: exact inverse, one key for all blocks, nibble layout, key space."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.ciphers.blockwise import BlockwiseScramble, merge_blocks, split_blocks
from imgleak.keys import Key


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


@settings(max_examples=30, deadline=None)
@given(
    block=st.sampled_from([1, 2, 4]),
    original=st.booleans(),
    batch=st.sampled_from([(), (1,), (3,)]),
    channels=st.sampled_from([1, 3]),
    blocks=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    seed=st.integers(0, 2**32 - 1),
)
def test_decrypt_inverts_encrypt_exactly(device, block, original, batch, channels, blocks, seed):
    cipher = BlockwiseScramble(block=block, reversal_from_permutation=original)
    x = _random_images((*batch, channels, blocks[0] * block, blocks[1] * block), seed, device)
    key = Key.from_seed(seed)
    y = cipher.encrypt(x, key)
    assert (y.shape, y.dtype, y.device) == (x.shape, x.dtype, x.device)
    assert torch.equal(cipher.decrypt(y, key), x)


@pytest.mark.parametrize("original", [False, True])
def test_every_block_of_every_image_is_transformed_the_same_way(device, original):
    cipher = BlockwiseScramble(reversal_from_permutation=original)
    key = Key.from_seed(1)
    tile = _random_images((1, 3, 4, 4), 2, device)
    tiled = tile.repeat(2, 1, 5, 6)  # 2 images of 20x24 pixels, all 30 blocks equal
    y = cipher.encrypt(tiled, key)
    assert torch.equal(y, cipher.encrypt(tile, key).repeat(2, 1, 5, 6))
    # blocks are independent: changing one block changes only that block of the cipher
    x = _random_images((1, 3, 8, 8), 3, device)
    changed = x.clone()
    changed[..., 4:, :4] ^= 0x5A
    diff = cipher.encrypt(x, key) != cipher.encrypt(changed, key)
    assert diff[..., 4:, :4].any() and not diff[..., :4, :].any() and not diff[..., :, 4:].any()


def _nibble_vector(block: torch.Tensor) -> list[int]:
    """A (C, b, b) block as Tanaka's vector: lower nibbles in (row, col, channel) order, then upper."""
    channels, height, width = block.shape
    values = [int(block[c, i, j]) for i in range(height) for j in range(width) for c in range(channels)]
    return [v & 0xF for v in values] + [v >> 4 for v in values]


@pytest.mark.parametrize("original", [False, True])
def test_nibble_level_on_a_hand_made_block(device, original):
    cipher = BlockwiseScramble(reversal_from_permutation=original)
    key = Key.from_seed(7)
    # a hand-made 4x4 RGB block: value = 16 * (row + 4 * channel) + column ...
    rows, cols, chans = torch.meshgrid(torch.arange(4), torch.arange(4), torch.arange(3), indexing="ij")
    block = (16 * ((rows + 4 * chans) % 16) + (3 * cols + chans) % 16).permute(2, 0, 1).to(torch.uint8)
    material = cipher.key_material(key, channels=3)
    perm, rev = material.permutation.tolist(), material.reversal.tolist()
    assert sorted(perm) == list(range(96)) and len(rev) == 96
    v = _nibble_vector(block)
    if original:  # Tanaka's code: reversal set = key values > 48, applied before and after
        assert rev == [p > 48 for p in perm]
        v = [15 - n if r else n for n, r in zip(v, rev)]
        v = [v[p] for p in perm]
        expected = [15 - n if r else n for n, r in zip(v, rev)]
    else:  # the paper: reverse the chosen nibbles, then shuffle
        v = [15 - n if r else n for n, r in zip(v, rev)]
        expected = [v[p] for p in perm]
    y = cipher.encrypt(block.to(device), key)
    assert _nibble_vector(y.cpu()) == expected


def test_the_key_has_both_parts_and_key_spaces():
    material = BlockwiseScramble().key_material(Key.from_seed(3), channels=3)
    assert 20 < int(material.reversal.sum()) < 76  # independent reversal bits, about half set
    assert not torch.equal(material.permutation, torch.arange(96))
    assert BlockwiseScramble().key_space_log2((3, 96, 96)) == pytest.approx(594.277, abs=1e-3)
    assert BlockwiseScramble().key_space_log2((3, 96, 96)) == pytest.approx(
        (math.lgamma(97) + 96 * math.log(2)) / math.log(2)
    )
    original = BlockwiseScramble(reversal_from_permutation=True)
    assert original.key_space_log2((8, 3, 32, 32)) == pytest.approx(498.277, abs=1e-3)
    assert BlockwiseScramble(block=2).key_space_log2((1, 4, 4)) == pytest.approx(math.log2(math.factorial(8)) + 8)


def test_same_key_same_cipher_other_key_other_cipher(device):
    x = _random_images((2, 3, 8, 8), 4, device)
    cipher = BlockwiseScramble()
    assert torch.equal(cipher.encrypt(x, Key.from_seed(5)), cipher.encrypt(x, Key.from_seed(5)))
    assert not torch.equal(cipher.encrypt(x, Key.from_seed(5)), cipher.encrypt(x, Key.from_seed(6)))
    assert cipher.encrypt(x[:0], Key.from_seed(5)).shape == (0, 3, 8, 8)


def test_split_and_merge_blocks_are_inverse(device):
    x = _random_images((2, 3, 8, 12), 8, device)
    blocks = split_blocks(x, 4)
    assert blocks.shape == (2, 2, 3, 3, 4, 4)
    assert torch.equal(blocks[1, 1, 2], x[1, :, 4:8, 8:12])
    assert torch.equal(merge_blocks(blocks), x)


def test_errors(device):
    cipher = BlockwiseScramble()
    key = Key.from_seed(0)
    with pytest.raises(ValueError, match="multiples of the block size 4"):
        cipher.encrypt(torch.zeros(3, 6, 8, dtype=torch.uint8, device=device), key)
    with pytest.raises(TypeError, match="uint8"):
        cipher.encrypt(torch.zeros(3, 8, 8, device=device), key)
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        cipher.encrypt(torch.zeros(8, 8, dtype=torch.uint8, device=device), key)
    with pytest.raises(TypeError, match="imgleak Key"):
        cipher.encrypt(torch.zeros(3, 8, 8, dtype=torch.uint8, device=device), 42)
    for bad in (0, -4, 2.0, True):
        with pytest.raises(ValueError, match="block must be a positive int"):
            BlockwiseScramble(block=bad)
    with pytest.raises(TypeError, match="reversal_from_permutation"):
        BlockwiseScramble(reversal_from_permutation="yes")
