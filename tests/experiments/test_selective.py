"""The pipeline from images and levels n to paired samples for the leakage estimators."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from imgleak.ciphers import SelectiveEncryption
from imgleak.images import extract_patches, patch_positions
from imgleak.keys import Key
from imgleak.experiments import selective as sl
from imgleak.mi.encoders import load_encoder
from imgleak.mi.histogram import entropy

KEY = Key.from_seed(3)


def images(count: int = 2, shape=(3, 40, 48)) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    ramp = torch.arange(shape[-1], dtype=torch.float32).expand(shape) * 5
    return [((ramp + torch.randint(0, 30, shape, generator=generator)) % 256).to(torch.uint8) for _ in range(count)]


def test_clear_view_is_the_scaled_clear_part_of_the_image_cipher() -> None:
    x = images(1)[0]
    cipher = SelectiveEncryption(3)
    expected = cipher.scaled_clear_part(cipher.encrypt(x, KEY.derive("image/0")))
    assert torch.equal(sl.clear_view(x, 3, KEY, 0), expected)
    assert torch.equal(sl.clear_view(x, 0, KEY, 0), x)
    assert torch.equal(sl.clear_view(x, 3, KEY, 0) % 8, torch.zeros_like(x))  # low n bits are zero


def test_histogram_mi_of_uniform_noise_meets_the_bound() -> None:
    noise = sl.uniform_images(2, (3, 256, 256), seed=1)
    table = sl.histogram_mi(noise, [0, 2, 5, 8], KEY)
    assert list(table.columns) == ["image", "n", "bound_bits", "mi_bits"]
    assert len(table) == 8
    assert (table["mi_bits"] - table["bound_bits"]).abs().max() < 0.05
    assert (table["mi_bits"] <= table["bound_bits"] + 1e-9).all()


def test_levels_are_checked() -> None:
    with pytest.raises(ValueError, match="0 to 8"):
        sl.histogram_mi(images(1), [9], KEY)
    with pytest.raises(ValueError, match="non-empty"):
        sl.histogram_mi(images(1), [], KEY)


def test_uniform_images_checks_its_arguments() -> None:
    assert sl.uniform_images(0, (1, 2, 2), seed=0) == []
    with pytest.raises(ValueError, match="count must be a non-negative int"):
        sl.uniform_images(-1, (1, 2, 2), seed=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        sl.uniform_images(1, (1, 2, 2), seed=1.7)


def test_level_patches_are_colocated_pairs(device: torch.device) -> None:
    pics = [p.to(device) for p in images(2)]
    patches = sl.level_patches(pics, [2, 6], KEY, size=8, per_image=5, seed=11)
    assert sorted(patches) == [0, 2, 6]
    for n, batch in patches.items():
        assert batch.shape == (10, 3, 8, 8) and batch.dtype == torch.uint8 and batch.device.type == device.type
    # image 1's patches were cut at the positions of seed 11 + 1, from its clear view
    positions = patch_positions(40, 48, 8, 5, 12)
    assert torch.equal(patches[0][5:], extract_patches(pics[1], positions, 8))
    assert torch.equal(patches[6][5:], extract_patches(sl.clear_view(pics[1], 6, KEY, 1), positions, 8))


def test_level_patches_refuse_small_images() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        sl.level_patches(images(1, (3, 20, 20)), [1], KEY, size=224, per_image=1, seed=0)


def test_relative_distance_to_the_top_curve() -> None:
    curves = {0: [1.0, 3.0, 2.0], 4: [2.0, 1.0, 2.0], 8: [0.0, 0.0, 0.0]}
    assert sl.relative_distance(curves) == {0: [1.0, 0.0, 0.0], 4: [0.0, 2.0, 0.0], 8: [2.0, 3.0, 2.0]}


def test_linearity_recovers_a_line_and_flags_a_curve() -> None:
    line = pd.DataFrame({"n": [0, 1, 2, 3, 0], "v": [8.0, 7.0, 6.0, 5.0, 8.0]})
    fit = sl.linearity(line, "v")
    assert fit["slope"] == pytest.approx(-1.0) and fit["intercept"] == pytest.approx(8.0)
    assert fit["r2"] == pytest.approx(1.0)
    curve = pd.DataFrame({"n": [0, 1, 2, 3, 4], "v": [8.0, 1.0, 0.5, 0.25, 0.1]})
    assert sl.linearity(curve, "v")["r2"] < 0.8


def test_mine_by_level_runs_one_estimate_per_level() -> None:
    patches = sl.level_patches(images(2), [0, 8], KEY, size=4, per_image=100, seed=0)
    runs = sl.mine_by_level(patches, [0, 8], epochs=2, batch_size=32, seed=0, progress=False)
    assert sorted(runs) == [0, 8]
    assert all(len(r.test_curve) == 2 and math.isfinite(r.mi_bits) for r in runs.values())
    table = sl.mine_table({"pixels": runs})
    assert list(table.index) == [0, 8] and list(table.columns) == ["pixels"]


def test_embedding_similarity_is_perfect_at_level_zero() -> None:
    encoder = load_encoder("resnet18", pretrained=False, device="cpu")
    whole = sl.level_image_embeddings(encoder, images(2), [0, 7], KEY)
    assert sorted(whole) == [0, 7] and whole[0].shape == (2, 512)
    table = sl.embedding_similarity(whole, ["a", "b"], decimals=1)
    level0 = table[table["n"] == 0]
    assert level0["cosine"].tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    from imgleak.mi.encoders import rounded_features

    assert level0["rounded_mi_bits"].iloc[0] == pytest.approx(entropy(rounded_features(whole[0], 1)))
    assert (table[table["n"] == 7]["cosine"] < 1.0).all()
