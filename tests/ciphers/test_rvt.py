"""Random Vortex Transformation: the authors' rule, the exact variant, keys, the paper's key."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from imgleak.ciphers.rvt import (
    PRESETS,
    RandomVortex,
    Vortex,
    VortexKey,
    coordinate_map,
    generate_vortex_key,
    map_statistics,
    reference_apply,
)
from imgleak.keys import Key

REFERENCE = Path("/work/shared/reference/rvt_params.json")


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


batches = st.sampled_from([(), (1,), (3,)])  # no batch axis, or N images
sizes = st.tuples(st.integers(4, 20), st.integers(4, 20))


@settings(max_examples=25, deadline=None)
@given(batch=batches, channels=st.sampled_from([1, 3]), size=sizes, seed=st.integers(0, 2**32 - 1),
       strength=st.sampled_from(["mnist", "cifar", 2.5]))
def test_invertible_decrypt_inverts_encrypt_exactly(device, batch, channels, size, seed, strength):
    cipher = RandomVortex("invertible", strength=strength)
    x = _random_images((*batch, channels, *size), seed, device)
    key = Key.from_seed(seed)
    y = cipher.encrypt(x, key)
    assert (y.shape, y.dtype, y.device) == (x.shape, x.dtype, x.device)
    assert torch.equal(cipher.decrypt(y, key), x)
    assert cipher.statistics(key, size).never_read == 0


@settings(max_examples=15, deadline=None)
@given(channels=st.sampled_from([1, 3]), size=sizes, seed=st.integers(0, 2**32 - 1))
def test_faithful_output_is_its_gather_map_and_the_authors_loop(device, channels, size, seed):
    cipher = RandomVortex("faithful")
    key = Key.from_seed(seed)
    x = _random_images((2, channels, *size), seed, device)
    y = cipher.encrypt(x, key)
    index = cipher.coordinate_map(key, size).to(device)
    assert torch.equal(y, x.flatten(2)[:, :, index].reshape(x.shape))
    expected = reference_apply(x[0].permute(1, 2, 0).cpu().numpy(), cipher.vortex_key(key, size))
    assert np.array_equal(y[0].permute(1, 2, 0).cpu().numpy(), expected)


@settings(max_examples=15, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32 - 1))
def test_key_generation_follows_the_authors_rules(size, seed):
    height, width = size
    vortex_key = generate_vortex_key(Key.from_seed(seed), size)
    assert len(vortex_key.vortices) == PRESETS["mnist"].n_vortices
    for v in vortex_key.vortices:
        c1, c2 = v.center
        assert 0 <= c1 <= height and 0 <= c2 <= width
        assert v.radius == min(c1, c2, height - c1, width - c2) - 1
        assert len(v.swirl) == (v.radius + 1 if v.radius > 0 else 1)


@settings(max_examples=15, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(["faithful", "invertible"]))
def test_one_vortex_moves_pixels_along_circles_inside_its_disc(size, seed, mode):
    drawn = generate_vortex_key(Key.from_seed(seed), size)
    v = max(drawn.vortices, key=lambda v: v.radius)
    index = coordinate_map(VortexKey((v,)), size, mode)
    height, width = size
    identity = torch.arange(height * width)
    if v.radius <= 0:
        assert torch.equal(index, identity)
        return
    mid = (v.center[0] - 1.5, v.center[1] - 1.5)  # the window midpoint r + 0.5 (1-based), 0-based
    rho = torch.hypot(identity // width - mid[0], identity % width - mid[1])
    inside = rho <= v.radius
    assert torch.equal(index[~inside], identity[~inside])
    ring_out, ring_in = rho[inside], rho[index[inside]]
    if mode == "invertible":
        assert torch.equal(torch.sort(index).values, identity)
        assert torch.equal(torch.round(ring_out), torch.round(ring_in))
    else:
        assert float((ring_out - ring_in).abs().max()) <= math.sqrt(2) / 2 + 1e-9


def test_same_key_same_output_and_different_keys_differ(device):
    x = _random_images((4, 1, 28, 28), 0, device)
    for mode in ("faithful", "invertible"):
        cipher = RandomVortex(mode)
        first = cipher.encrypt(x, Key.from_seed(1))
        assert torch.equal(first, RandomVortex(mode).encrypt(x, Key.from_seed(1)))
        assert not torch.equal(first, cipher.encrypt(x, Key.from_seed(2)))
        assert not torch.equal(first, x)


def test_one_map_for_the_whole_batch_and_all_channels(device):
    cipher = RandomVortex()
    key = Key.from_seed(5)
    x = _random_images((1, 1, 16, 24), 3, device)
    y = cipher.encrypt(x.expand(2, 3, 16, 24).contiguous(), key)
    assert torch.equal(y, cipher.encrypt(x, key).expand(2, 3, 16, 24))
    assert torch.equal(cipher.encrypt(x[0], key), y[0, :1])


def test_key_json_round_trip(device):
    cipher = RandomVortex("faithful", strength="cifar")
    vortex_key = cipher.vortex_key(Key.from_seed(9), (32, 32))
    again = VortexKey.from_json(vortex_key.to_json())
    assert again == vortex_key
    x = _random_images((2, 3, 32, 32), 1, device)
    assert torch.equal(cipher.encrypt(x, again), cipher.encrypt(x, Key.from_seed(9)))
    flipped = VortexKey(vortex_key.vortices, transposed=True)
    assert VortexKey.from_json(flipped.to_json()) == flipped


def test_transposed_key_acts_on_the_transposed_image(device):
    vortex_key = generate_vortex_key(Key.from_seed(4), (12, 12))
    flipped = VortexKey(vortex_key.vortices, transposed=True)
    x = _random_images((2, 3, 12, 12), 2, device)
    for mode in ("faithful", "invertible"):
        cipher = RandomVortex(mode)
        expected = cipher.encrypt(x.transpose(-1, -2).contiguous(), vortex_key).transpose(-1, -2)
        assert torch.equal(cipher.encrypt(x, flipped), expected)


def test_presets_and_strength():
    assert len(RandomVortex(strength="cifar").vortex_key(Key.from_seed(0), (32, 32)).vortices) == 5
    assert len(RandomVortex(n_vortices=3).vortex_key(Key.from_seed(0), (32, 32)).vortices) == 3
    weak = RandomVortex("invertible", strength=0.01).statistics(Key.from_seed(0), (28, 28))
    strong = RandomVortex("invertible", strength=5.0).statistics(Key.from_seed(0), (28, 28))
    assert weak.mean_displacement < strong.mean_displacement
    assert RandomVortex().invertible and not RandomVortex("faithful").invertible
    assert RandomVortex().key_space_log2((1, 28, 28)) == 256


def test_map_statistics_of_a_small_map():
    stats = map_statistics(torch.tensor([0, 0, 3, 2]), (2, 2))
    assert (stats.positions, stats.moved, stats.never_read, stats.duplicated) == (4, 3, 1, 1)
    assert stats.mean_displacement == pytest.approx((1 + 1 + 1) / 4)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the converted RVT key file of the paper is not here")
@pytest.mark.parametrize(("name", "divisor", "size", "transposed", "active", "moved", "never_read"), [
    ("vor_params_mnist_result", 1000.0, (28, 28), False, 7, 338, 68),
    ("vor_params_fashion", 1000.0, (28, 28), False, 8, 468, 127),
    ("vor_params_cifar", 10000.0, (32, 32), True, 2, 404, 64),
])
def test_the_papers_keys_move_and_drop_what_the_reference_reports(
    device, name, divisor, size, transposed, active, moved, never_read
):
    records = json.loads(REFERENCE.read_text())["sets"][name]
    vortex_key = VortexKey.from_reference(records, divisor, n_vortices=10, transposed=transposed)
    assert vortex_key.active == active
    cipher = RandomVortex("faithful")
    stats = cipher.statistics(vortex_key, size)
    assert (stats.moved, stats.never_read) == (moved, never_read)
    x = _random_images((3, *size), 7, device)
    expected = reference_apply(x.permute(1, 2, 0).cpu().numpy(), vortex_key)
    assert np.array_equal(cipher.encrypt(x, vortex_key).permute(1, 2, 0).cpu().numpy(), expected)


def test_errors(device):
    x = _random_images((1, 1, 16, 16), 0, device)
    key = Key.from_seed(0)
    with pytest.raises(ValueError, match="mode must be one of"):
        RandomVortex("swirl")
    with pytest.raises(ValueError, match="strength"):
        RandomVortex(strength="imagenet")
    with pytest.raises(ValueError, match="strength"):
        RandomVortex(strength=-1.0)
    with pytest.raises(ValueError, match="n_vortices"):
        RandomVortex(n_vortices=0)
    with pytest.raises(TypeError, match="uint8"):
        RandomVortex().encrypt(x.float(), key)
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        RandomVortex().encrypt(x[0, 0], key)
    with pytest.raises(ValueError, match="at least 4x4"):
        RandomVortex().encrypt(x[..., :3, :], key)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        RandomVortex("faithful").decrypt(x, key)
    with pytest.raises(TypeError, match="imgleak Key"):
        RandomVortex().encrypt(x, 1234)
    too_big = VortexKey((Vortex((5, 5), 6, (0.1,) * 7),))
    with pytest.raises(ValueError, match="does not fit"):
        RandomVortex().encrypt(x, too_big)
    with pytest.raises(TypeError, match="radius must be an int"):
        Vortex((5, 5), 2.5, (0.1,) * 3)
    with pytest.raises(ValueError, match="swirl values"):
        Vortex((5, 5), 3, (0.1,))
    with pytest.raises(ValueError, match="VortexKey JSON"):
        VortexKey.from_json('{"vortices": [{"center": [1, 2]}]}')
