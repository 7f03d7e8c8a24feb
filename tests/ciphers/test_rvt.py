"""Random Vortex Transformation: the authors' rule, the exact variant, keys, the paper's key."""

from __future__ import annotations

import json
import math
import re
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
    displacement_field,
    generate_vortex_key,
    map_statistics,
    reference_apply,
)
from imgleak.keys import Key



def _find_reference(start: Path) -> Path | None:
    """``shared/reference/rvt_params.json`` in the nearest folder above ``start`` that has one: the
    checkout's own ``shared/`` or the one beside the checkout (``<repo>/../shared``)."""
    for folder in start.resolve().parents:
        candidate = folder / "shared" / "reference" / "rvt_params.json"
        if candidate.is_file():
            return candidate
    return None


REFERENCE = _find_reference(Path(__file__))


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


@pytest.mark.skipif(
    REFERENCE is None, reason="shared/reference/rvt_params.json (the paper's RVT keys) is in no folder above this test"
)
@pytest.mark.parametrize(("name", "divisor", "size", "transposed", "active", "moved", "never_read"), [
    ("vor_params_mnist_result", 1000.0, (28, 28), False, 7, 338, 68),
    ("vor_params_fashion", 1000.0, (28, 28), False, 8, 468, 127),
    ("vor_params_cifar", 10000.0, (32, 32), True, 2, 404, 64),
])
def test_the_papers_keys_move_and_drop_what_the_reference_reports(
    device, name, divisor, size, transposed, active, moved, never_read
):
    records = json.loads(REFERENCE.read_text(encoding="utf-8"))["sets"][name]
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


@pytest.mark.parametrize("shared", ["repo/shared", "shared"])
def test_reference_keys_are_found_in_or_beside_the_checkout(tmp_path, shared):
    test_file = tmp_path / "repo" / "tests" / "ciphers" / "test_rvt.py"
    test_file.parent.mkdir(parents=True)
    test_file.write_text("")
    assert _find_reference(test_file) is None
    keys = tmp_path / shared / "reference" / "rvt_params.json"
    keys.parent.mkdir(parents=True)
    keys.write_text("{}")
    assert _find_reference(test_file) == keys


def _key_text(**changes) -> str:
    record = {"center": [6, 7], "radius": 3, "swirl": [0.5, -0.25, 0.125, 1.0]}
    return json.dumps({"transposed": False, "vortices": [{**record, **changes}]})


def test_a_valid_key_text_gives_the_key():
    assert VortexKey.from_json(_key_text()) == VortexKey((Vortex((6, 7), 3, (0.5, -0.25, 0.125, 1.0)),))
    assert VortexKey.from_json(_key_text(radius=-1, center=[0, 4], swirl=[0.001])).active == 0  # the authors' no-ops


@pytest.mark.parametrize(("changes", "message"), [
    ({"center": ["a", "b"]}, "vortex center must be a non-negative int, got 'a'"),
    ({"center": ["3", "4"]}, "vortex center must be a non-negative int, got '3'"),
    ({"center": [3.7, 4.2]}, "vortex center must be a non-negative int, got 3.7"),
    ({"center": [-3, 4]}, "vortex center must be a non-negative int, got -3"),
    ({"center": [3, 4, 5]}, "vortex center must be two non-negative ints"),
    ({"center": 3}, "vortex center must be a list of numbers"),
    ({"swirl": [float("nan")] * 4}, "vortex swirl must be a finite number, got nan"),
    ({"swirl": [0.1, float("inf"), 0.1, 0.1]}, "vortex swirl must be a finite number, got inf"),
    ({"swirl": ["1"] * 4}, "vortex swirl must be a finite number, got '1'"),
    ({"swirl": [True] * 4}, "vortex swirl must be a finite number, got True"),
    ({"swirl": "0123"}, "vortex swirl must be a list of numbers"),
    ({"swirl": [0.1]}, "radius 3 needs at least 3 swirl values"),
    ({"radius": 2.5}, "vortex radius must be an int, got 2.5"),
    ({"radius": "2"}, "vortex radius must be an int, got '2'"),
])
def test_key_text_with_a_bad_field_is_refused_naming_it(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        VortexKey.from_json(_key_text(**changes))


@pytest.mark.parametrize(("text", "message"), [
    ('{"vortices": [{"center": [1, 2], "radius": 0}]}', "a vortex has no 'swirl' field"),
    ('{"vortices": 5}', "'vortices' is a list"),
    ('{"vortices": {"a": 1}}', "'vortices' is a list"),
    ("[1, 2]", "'vortices' is a list"),
    ("{", "not a VortexKey JSON text"),
    ('{"vortices": [], "transposed": "no"}', "transposed must be True or False"),
])
def test_key_text_of_the_wrong_form_is_refused(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        VortexKey.from_json(text)


def test_key_from_something_that_is_not_text_raises_type_error():
    with pytest.raises(TypeError, match="text must be the JSON text of a VortexKey"):
        VortexKey.from_json(None)


def test_vortex_key_refuses_stray_entries_and_truthy_flags():
    with pytest.raises(TypeError, match="vortices must be Vortex objects, got int"):
        VortexKey([1, 2])
    with pytest.raises(TypeError, match="transposed must be True or False"):
        VortexKey((), "no")
    assert VortexKey([Vortex((5, 5), 1, (0.1,))], np.bool_(True)).transposed is True


def test_reference_records_are_checked_like_key_text():
    record = {"center": [5, 5], "r": 3, "degree": [100.0, 200.0, 300.0, 400.0]}
    key = VortexKey.from_reference([record], 1000.0)
    assert key.vortices[0].swirl == (0.1, 0.2, 0.3, 0.4)
    with pytest.raises(ValueError, match="degree must be a finite number, got nan"):
        VortexKey.from_reference([{**record, "degree": [float("nan")] * 4}], 1000.0)
    with pytest.raises(TypeError, match="vortex radius must be an int, got 2.5"):
        VortexKey.from_reference([{**record, "r": 2.5}], 1000.0)
    with pytest.raises(ValueError, match="one has no 'degree'"):
        VortexKey.from_reference([{"center": [5, 5], "r": 3}], 1000.0)
    with pytest.raises(ValueError, match="divisor must be a positive finite number"):
        VortexKey.from_reference([record], 0)


@pytest.mark.parametrize(("index", "error", "message"), [
    (torch.tensor([0, 1, 2, 7]), ValueError, "positions 0..3 of a 2x2 image, got values from 0 to 7"),
    (torch.tensor([0, 1, 2, -1]), ValueError, "positions 0..3 of a 2x2 image, got values from -1 to 2"),
    (torch.tensor([0, 1, 2]), ValueError, "index has 3 entries, expected 4 for a 2x2 image"),
    (torch.tensor([0.0, 1.0, 2.0, 3.0]), TypeError, "index must hold integer pixel positions, got dtype torch.float32"),
    ([0, 1.5, 2, 3], TypeError, "index must hold integer pixel positions"),
    (torch.tensor([True, False, True, False]), TypeError, "index must hold integer pixel positions"),
    (None, TypeError, "index must hold integer pixel positions, got NoneType"),
])
def test_map_statistics_refuses_maps_that_are_not_pixel_positions(index, error, message):
    with pytest.raises(error, match=re.escape(message)):
        map_statistics(index, (2, 2))


@pytest.mark.parametrize(("shape", "error", "message"), [
    ((4,), ValueError, "shape must end in (H, W)"),
    ((2.5, 2), ValueError, "shape height must be a positive int, got 2.5"),
    ((2, 0), ValueError, "shape width must be a positive int, got 0"),
    ("22", TypeError, "shape must be a list of numbers"),
])
def test_map_statistics_refuses_bad_shapes(shape, error, message):
    with pytest.raises(error, match=re.escape(message)):
        map_statistics(torch.tensor([1, 0, 3, 2]), shape)


def test_map_statistics_accepts_numpy_and_lists_alike():
    expected = map_statistics(torch.tensor([1, 0, 3, 2]), (1, 2, 2))
    assert map_statistics(np.array([1, 0, 3, 2], dtype=np.int32), torch.Size([2, 2])) == expected
    assert map_statistics([[1, 0], [3, 2]], (np.int64(2), np.int64(2))) == expected
    assert (expected.moved, expected.never_read, expected.duplicated, expected.mean_displacement) == (4, 0, 0, 1.0)


def test_displacement_field():
    d_row, d_col = displacement_field(torch.arange(12), (3, 4))
    assert not d_row.any() and not d_col.any()
    index = torch.arange(12)
    index[0], index[5] = 5, 0  # (0,0) reads (1,1) and back
    d_row, d_col = displacement_field(index, (3, 4))
    assert (d_row[0, 0], d_col[0, 0], d_row[1, 1], d_col[1, 1]) == (1, 1, -1, -1)
    with pytest.raises(ValueError, match="entries"):
        displacement_field(torch.arange(5), (3, 4))


def test_strength_and_shape_are_checked_by_name():
    assert RandomVortex(strength=np.int64(2)).describe() == "RVT (invertible, strength 2)"
    with pytest.raises(ValueError, match="strength must be a positive number"):
        RandomVortex(strength=float("nan"))
    for bad in ("abc", (28,), (1, 2, 3, 28, 28)):
        with pytest.raises(ValueError, match=r"shape must be \(H, W\)"):
            RandomVortex().coordinate_map(Key.from_seed(0), bad)
    with pytest.raises(ValueError, match="shape must be a positive int"):
        RandomVortex().coordinate_map(Key.from_seed(0), (28, 2.5))
