"""Block-scrambling EtC: exact inverse, block structure, dihedral maps, same vs different keys, key space."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.ciphers.keyspace import etc_log2
from imgleak.ciphers.blockwise import split_blocks
from imgleak.ciphers.etc import EtCEncryption, dihedral_maps
from imgleak.keys import Key


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


@settings(max_examples=30, deadline=None)
@given(
    block=st.sampled_from([1, 2, 4, 8]),
    mode=st.sampled_from(["same", "different"]),
    batch=st.sampled_from([(), (1,), (3,)]),
    channels=st.sampled_from([1, 3]),
    blocks=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    seed=st.integers(0, 2**32 - 1),
    first_index=st.integers(0, 1000),
)
def test_decrypt_inverts_encrypt_exactly(device, block, mode, batch, channels, blocks, seed, first_index):
    cipher = EtCEncryption(block=block, mode=mode)
    x = _random_images((*batch, channels, blocks[0] * block, blocks[1] * block), seed, device)
    key = Key.from_seed(seed)
    y = cipher.encrypt(x, key, first_index=first_index)
    assert (y.shape, y.dtype, y.device) == (x.shape, x.dtype, x.device)
    assert torch.equal(cipher.decrypt(y, key, first_index=first_index), x)


def test_dihedral_maps_are_the_eight_symmetries_of_the_square():
    maps = dihedral_maps(2)  # pixels 0 1 / 2 3
    assert maps.tolist() == [
        [0, 1, 2, 3], [1, 3, 0, 2], [3, 2, 1, 0], [2, 0, 3, 1],  # 0, 90, 180, 270 degrees
        [1, 0, 3, 2], [3, 1, 2, 0], [2, 3, 0, 1], [0, 2, 1, 3],  # the same, then a horizontal flip
    ]
    big = dihedral_maps(5)
    assert len({tuple(m.tolist()) for m in big}) == 8
    assert torch.equal(big.sort(dim=1).values, torch.arange(25).expand(8, 25))


def test_cipher_blocks_are_moved_turned_negated_and_recoloured_plain_blocks(device):
    cipher = EtCEncryption(block=4)
    key = Key.from_seed(1)
    x = _random_images((1, 3, 12, 16), 2, device)
    y = cipher.encrypt(x, key)
    m = cipher.key_material(key, x.shape)
    plain = split_blocks(x, 4).reshape(12, 3, 16)
    enc = split_blocks(y, 4).reshape(12, 3, 16)
    maps = dihedral_maps(4).to(device)
    for q in range(12):  # small: 12 blocks
        expected = plain[m.permutation[0, q]][:, maps[m.dihedral[0, q]]]
        if m.negative[0, q]:
            expected = 255 - expected
        expected = expected[m.order[0, q].to(device)]
        assert torch.equal(enc[q], expected)
    assert m.negative.any() and not m.negative.all() and len(set(m.dihedral[0].tolist())) > 3


def test_same_and_different_keys_and_chunks(device):
    same_images = _random_images((1, 3, 8, 8), 3, device).expand(5, 3, 8, 8).contiguous()
    key = Key.from_seed(4)
    fixed = EtCEncryption(block=4).encrypt(same_images, key)
    assert torch.equal(fixed, fixed[:1].expand_as(fixed))
    cipher = EtCEncryption(block=2, mode="different")
    fresh = cipher.encrypt(same_images, key)
    assert len({tuple(image.flatten().tolist()) for image in fresh}) == 5
    chunks = torch.cat([cipher.encrypt(same_images[:2], key), cipher.encrypt(same_images[2:], key, first_index=2)])
    assert torch.equal(fresh, chunks)


def test_key_space():
    n = (96 // 16) ** 2
    expected = math.log2(math.factorial(n)) + n * (3 + 1 + math.log2(6))
    assert EtCEncryption().key_space_log2((3, 96, 96)) == pytest.approx(expected)
    assert EtCEncryption().key_space_log2((3, 96, 96)) == pytest.approx(etc_log2(n))
    assert EtCEncryption(block=4).key_space_log2((1, 8, 8)) == pytest.approx(math.log2(24) + 4 * 4)
    assert etc_log2(n, distinct=False) == pytest.approx(expected + n)


def test_errors(device):
    with pytest.raises(ValueError, match="multiples of the block size 16"):
        EtCEncryption().encrypt(torch.zeros(3, 24, 32, dtype=torch.uint8, device=device), Key.from_seed(0))
    with pytest.raises(ValueError, match="multiples of the block size 16"):
        EtCEncryption().key_space_log2((3, 24, 32))
    with pytest.raises(ValueError, match="block must be a positive int"):
        EtCEncryption(block=0)
    with pytest.raises(ValueError, match="mode must be"):
        EtCEncryption(mode="fixed")
    with pytest.raises(TypeError, match="imgleak Key"):
        EtCEncryption().encrypt(torch.zeros(3, 16, 16, dtype=torch.uint8, device=device), None)
