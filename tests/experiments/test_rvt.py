"""The RVT chapter's experiments: data, variants, the swap check, rates, the grid, the paper's table."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from imgleak import information
from imgleak.experiments import rvt as rx
from imgleak.ciphers import KeyedCipher, PixelwiseEncryption, RandomPermutation
from imgleak.ciphers.rvt import RandomVortex
from imgleak.images import DatasetUnavailableError, LabelledImages
from imgleak.keys import Key


@pytest.fixture(scope="module")
def digits28() -> tuple[LabelledImages, LabelledImages]:
    return rx.load_dataset("digits", digits_size=28, seed=0)


def _random_images(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _labelled(n: int, size: int, seed: int = 0) -> LabelledImages:
    labels = torch.arange(n) % 2
    images = _random_images((n, 1, size, size), seed)
    images[labels == 1, :, : size // 2] = 255  # class 1: a bright top half, easy to learn
    return LabelledImages("toy", images, labels, ("0", "1"))


# ------------------------------------------------------------------------------------------ data


def test_resize_nearest_repeats_pixels():
    x = _random_images((2, 3, 4, 5))
    y = rx.resize_nearest(x, (8, 10))
    assert torch.equal(y, x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))
    single = rx.resize_nearest(x[0], 7)
    assert single.shape == (3, 7, 7) and single.dtype == torch.uint8


def test_resize_nearest_from_8_to_28_makes_blocks_of_3_or_4():
    x = torch.arange(64, dtype=torch.uint8).reshape(1, 1, 8, 8)
    y = rx.resize_nearest(x, 28)
    rows = y[0, 0, :, 0].tolist()
    assert sorted(set(rows)) == x[0, 0, :, 0].tolist()
    assert {rows.count(v) for v in set(rows)} <= {3, 4}
    with pytest.raises(ValueError, match="size"):
        rx.resize_nearest(x, 0)


def test_subset_keeps_order_and_is_seeded(digits28):
    train, _ = digits28
    part = rx.subset(train, 50, seed=3)
    assert len(part) == 50
    assert torch.equal(part.images, rx.subset(train, 50, seed=3).images)
    assert rx.subset(train, None) is train and rx.subset(train, 10**6) is train
    with pytest.raises(ValueError, match="count"):
        rx.subset(train, 0)


def test_load_dataset_digits(digits28):
    train, test = digits28
    assert len(train) + len(test) == 1797
    assert train.images.shape[1:] == (1, 28, 28) and test.images.dtype == torch.uint8
    small_train, small_test = rx.load_dataset("digits", digits_size=None, train_size=100, test_size=40)
    assert small_train.images.shape == (100, 1, 8, 8) and len(small_test) == 40


def test_load_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset must be one of"):
        rx.load_dataset("imagenet")
    with pytest.raises(ValueError, match="digits_size"):
        rx.load_dataset("digits", digits_size=-1)
    with pytest.raises(DatasetUnavailableError):
        rx.load_dataset("mnist", data_root=tmp_path, download=False)


# ------------------------------------------------------------------------------------------ variants


def test_standard_variants_labels_and_order():
    key = Key.from_seed(1)
    variants = rx.standard_variants(key, sweep_strengths=[0.05, 0.8, 2], fixed_permutation=True)
    assert [v.label for v in variants] == ["plain", "RVT", "permutation", "fixed permutation", "RVT s=0.05", "RVT s=2"]
    assert [v.cipher.name for v in variants] == ["identity", "rvt", "permutation", "permutation", "rvt", "rvt"]
    assert variants[1].cipher == RandomVortex("faithful", "mnist")
    assert variants[2].cipher.per_image_keys and not variants[3].cipher.per_image_keys
    # the sweep shares the main key's vortices: same centres and radii, swirl scaled
    main = variants[1].cipher.vortex_key(variants[1].key, (28, 28))
    swept = variants[5].cipher.vortex_key(variants[5].key, (28, 28))
    assert [(v.center, v.radius) for v in main.vortices] == [(v.center, v.radius) for v in swept.vortices]
    active = next(i for i, v in enumerate(main.vortices) if v.radius > 0)
    assert swept.vortices[active].swirl[0] == pytest.approx(main.vortices[active].swirl[0] * 2 / 0.8)
    with pytest.raises(TypeError, match="Key"):
        rx.standard_variants("seed")
    with pytest.raises(ValueError, match="main_rvt"):
        rx.standard_variants(key, main_rvt=variants[4])


def test_variants_encrypt_like_their_ciphers():
    key = Key.from_seed(2)
    x = _random_images((5, 3, 12, 12))
    plain, rvt, perm = rx.standard_variants(key, mode="invertible")
    assert torch.equal(plain.encrypt(x), x)
    assert torch.equal(rvt.encrypt(x), RandomVortex("invertible").encrypt(x, key))
    # per-image permutations: chunked encryption and first_index give the same images
    assert torch.equal(perm.encrypt(x, 7, chunk=2), RandomPermutation().encrypt(x, perm.key, first_index=7))
    assert torch.equal(perm.encrypt(x[3], 10), perm.encrypt(x, 7)[3])
    maps = rx.pixel_maps(perm, 5, x.shape, 7)
    assert maps.shape == (5, 144) and rx.pixel_maps(rvt, 5, x.shape).shape == (144,)
    assert torch.equal(maps[0], RandomPermutation().permutations(perm.key, 1, 144, first_index=7)[0])
    assert torch.equal(rx.rvt_in_mode(rvt, "faithful").encrypt(x), RandomVortex("faithful").encrypt(x, key))
    with pytest.raises(ValueError, match="only RVT"):
        rx.rvt_in_mode(perm, "faithful")
    with pytest.raises(ValueError, match="no gather map"):
        rx.pixel_maps(KeyedCipher(PixelwiseEncryption(), key), 1, x.shape)


def test_encrypt_dataset_keeps_labels():
    data = _labelled(6, 8)
    out = rx.encrypt_dataset(data, rx.permutation_variant(Key.from_seed(0)), first_index=3)
    assert torch.equal(out.labels, data.labels) and out.classes == data.classes
    assert out.name == "toy [permutation]" and not torch.equal(out.images, data.images)
    with pytest.raises(TypeError, match="KeyedCipher"):
        rx.encrypt_dataset(data, "plain")


# ------------------------------------------------------------------------------------------ measure


@pytest.mark.parametrize("value_weight", information.VALUE_WEIGHTS)
def test_reference_information_agrees_with_the_library(value_weight):
    x = _random_images((3, 2, 7, 9), seed=4)
    index = torch.stack([torch.randperm(63, generator=torch.Generator().manual_seed(s)) for s in range(3)])
    params = dict(radius=2.5, value_weight=value_weight, decay=1.5, change_scale=0.7)
    before, after = rx.reference_information(x, index, params)
    content = information.information_content(x, radius=2.5, value_weight=value_weight, decay=1.5)
    assert torch.allclose(before, content.double(), rtol=1e-12)
    assert torch.allclose(before - after, information.information_variation(x, index, **params).double(),
                          rtol=1e-9, atol=1e-9)


def test_reference_information_rejects_non_bijective_maps():
    with pytest.raises(ValueError, match="bijective"):
        rx.reference_information(_random_images((1, 1, 4, 4)), torch.zeros(16, dtype=torch.int64))
    with pytest.raises(ValueError, match="unknown measure"):
        rx.reference_information(_random_images((1, 1, 4, 4)), torch.arange(16), {"tau": 1})


def test_swap_maps():
    maps = rx.swap_maps(5, torch.tensor([[0, 4], [2, 1]]))
    assert maps.tolist() == [[4, 1, 2, 3, 0], [0, 2, 1, 3, 4]]
    with pytest.raises(ValueError, match="pairs"):
        rx.swap_maps(5, torch.tensor([0, 1]))


def test_swap_experiment_never_increases_information(digits28):
    _, test = digits28
    check = rx.swap_experiment(test.images[:40], n_swaps=600, seed=1)
    summary = check.summary()
    assert summary["swaps"] == 600 and check.increased == 0
    assert check.unchanged + check.decreased == 600
    assert check.max_disagreement < 1e-10
    assert bool((check.pairs[:, 0] != check.pairs[:, 1]).all())
    table = check.to_dataframe()
    assert len(table) == 600 and set(table.columns) >= {"delta", "delta_reference", "relative_delta"}
    # with the product weight, swapping two black pixels changes nothing
    flat = test.images[:40].reshape(40, -1)
    both_black = (flat[check.image, check.pairs[:, 0]] == 0) & (flat[check.image, check.pairs[:, 1]] == 0)
    assert bool(both_black.any()) and bool((check.delta_reference[both_black].abs() < 1e-9).all())
    assert bool((check.equal_values >= both_black).all())
    assert check.equal_but_lost <= int(check.equal_values.sum())
    again = rx.swap_experiment(test.images[:40], n_swaps=600, seed=1)
    assert torch.equal(again.pairs, check.pairs)


def test_information_loss_rates_order_the_variants(digits28):
    _, test = digits28
    variants = rx.standard_variants(Key.from_seed(0), sweep_strengths=[0.05], fixed_permutation=True)
    rates = rx.information_loss_rates(test.images[:60], variants, {"radius": 2.0})
    by = rates.set_index("variant")["info_loss_rate"]
    assert by["plain"] == 0.0
    assert 0 < by["RVT s=0.05"] < by["RVT"] < by["permutation"] < 1
    assert rates.set_index("variant").loc["RVT", "never_read"] > 0  # faithful mode drops pixels
    with pytest.raises(ValueError, match="unknown measure"):
        rx.information_loss_rates(test.images[:2], variants, {"lambda": 1.0})


# ------------------------------------------------------------------------------------------ grid


def test_accuracy_grid_trains_every_model_on_every_variant():
    data = _labelled(48, 12)
    train, test = data, _labelled(16, 12, seed=1)
    variants = rx.standard_variants(Key.from_seed(0))
    grid = rx.accuracy_grid(train, test, variants, ["vit"], epochs=1, batch_size=16, num_threads=1,
                            model_settings={"vit": {"lr": 0.01}, "resnet18": {"lr": 1.0}}, progress=False)
    assert list(grid.table["variant"]) == ["plain", "RVT", "permutation"]
    assert set(grid.table.columns) >= {"model", "scheme", "best_accuracy", "final_accuracy", "seconds"}
    assert grid.results[("vit", "RVT")].settings["lr"] == 0.01
    assert grid.table["best_accuracy"].between(0, 1).all()
    with pytest.raises(ValueError, match="models"):
        rx.accuracy_grid(train, test, variants, "vit")
    with pytest.raises(ValueError, match="unknown model"):
        rx.accuracy_grid(train, test, variants, ["vit"], model_settings={"lenet": {}})
    with pytest.raises(ValueError, match="unknown models"):  # before any training
        rx.accuracy_grid(train, test, variants, ["vit", "lenet"])
    with pytest.raises(ValueError, match="repeat"):
        rx.accuracy_grid(train, test, variants, ["vit", "vit"])


def _grid_table() -> pd.DataFrame:
    rows = [("resnet18", "plain", 0.9), ("resnet18", "RVT", 0.81), ("resnet18", "permutation", 0.3),
            ("vit", "plain", 0.8), ("vit", "RVT", 0.76), ("vit", "permutation", 0.4),
            ("resnet18", "RVT s=0.05", 0.88), ("vit", "RVT s=0.05", 0.8)]
    return pd.DataFrame(rows, columns=["model", "variant", "best_accuracy"])


def test_accuracy_loss_rates_and_points():
    table = rx.accuracy_loss_rates(_grid_table()).set_index(["model", "variant"])["accuracy_loss_rate"]
    assert table["resnet18", "plain"] == 0 and table["resnet18", "RVT"] == pytest.approx(0.1)
    assert table["vit", "permutation"] == pytest.approx(0.5)
    rates = pd.DataFrame({"variant": ["plain", "RVT", "permutation", "RVT s=0.05"],
                          "info_loss_rate": [0, 0.5, 0.8, 0.2], "mean_displacement": [0, 3, 14, 0.4],
                          "never_read": [0, 90, 0, 30]})
    points = rx.loss_rate_points(_grid_table(), rates)
    assert len(points) == 6 and "plain" not in set(points["variant"])
    correlation = rx.loss_rate_correlation(points)
    assert list(correlation["points"]) == ["all models", "resnet18", "vit"]
    assert set(correlation["variants"]) == {"all variants"}
    assert correlation.set_index("points").loc["resnet18", "spearman_rho"] == pytest.approx(1.0)
    assert correlation.set_index("points").loc["all models", "pearson_r"] > 0.85
    with pytest.raises(ValueError, match="plain"):
        rx.accuracy_loss_rates(_grid_table().iloc[1:3])


def test_loss_rate_correlation_of_too_few_points_is_nan():
    points = pd.DataFrame({"model": ["vit", "vit"], "variant": ["RVT", "permutation"],
                           "info_loss_rate": [0.1, 0.5], "accuracy_loss_rate": [0.0, 0.4]})
    row = rx.loss_rate_correlation(points).iloc[0]
    assert row["points"] == "vit" and row["n"] == 2 and math.isnan(row["pearson_r"])


def test_paper_accuracy_is_the_readme_table():
    paper = rx.paper_accuracy()
    assert len(paper) == 6 and list(paper.columns) == ["dataset", "model", "plain", "RVT", "permutation"]
    drops = paper["plain"] - paper["RVT"]
    assert drops.round(2).tolist() == [0.31, 0.32, 1.27, 2.34, 5.24, 6.46]  # the abstract's 0.3-6.5
    cifar_vit = paper.set_index(["dataset", "model"]).loc[("CIFAR-10", "ViT-B/16")]
    assert (cifar_vit["plain"], cifar_vit["RVT"], cifar_vit["permutation"]) == (98.50, 92.04, 50.03)


def test_compare_with_paper_labels_the_paper_columns():
    comparison = rx.compare_with_paper(_grid_table(), "digits").set_index("model")
    assert comparison.loc["resnet18", "paper model"] == "ResNet-18"
    assert comparison.loc["vit", "paper model"] == "ViT-B/16"
    assert comparison.loc["resnet18", "plain"] == pytest.approx(90.0)
    assert comparison.loc["resnet18", "paper plain"] == 99.20  # digits are compared with MNIST
    assert comparison.loc["vit", "RVT drop"] == pytest.approx(4.0)
    assert comparison.loc["vit", "paper RVT drop"] == pytest.approx(0.32)
    fashion = rx.compare_with_paper(_grid_table(), "fashion_mnist").set_index("model")
    assert fashion.loc["resnet18", "paper permutation"] == 40.10
    with pytest.raises(ValueError, match="dataset"):
        rx.compare_with_paper(_grid_table(), "svhn")


def test_discrepancies_state_our_and_the_papers_numbers():
    extra = pd.DataFrame([("vit", "fixed permutation", 0.7), ("resnet18", "fixed permutation", 0.945)],
                         columns=["model", "variant", "best_accuracy"])
    table = pd.concat([_grid_table(), extra])
    rates = pd.DataFrame({"variant": ["plain", "RVT", "permutation", "RVT s=0.05", "fixed permutation"],
                          "info_loss_rate": [0, 0.5, 0.8, 0.2, 0.8], "mean_displacement": [0, 3, 14, 0.4, 14],
                          "never_read": [0, 90, 0, 30, 0]})
    points = rx.loss_rate_points(table, rates)
    correlation = pd.concat([rx.loss_rate_correlation(points),
                             rx.loss_rate_correlation(points[points["variant"] != "RVT s=0.05"], "some")])
    comparison = rx.compare_with_paper(table, "mnist")
    found = rx.discrepancies(comparison, rates, points, correlation, n_test=400)
    assert [f.kind for f in found] == ["accuracy", "accuracy", "noise", "information loss", "correlation",
                                       "correlation", "fixed permutation", "fixed permutation"]
    resnet = found[0].numbers
    assert (resnet["model"], resnet["paper_model"], resnet["paper_plain"]) == ("resnet18", "ResNet-18", 99.20)
    assert resnet["plain"] == pytest.approx(90.0) and resnet["rvt_drop"] == pytest.approx(9.0)
    assert resnet["paper_rvt_drop"] == pytest.approx(0.31) and resnet["permutation_drop"] == pytest.approx(60.0)
    assert resnet["paper_permutation_drop"] == pytest.approx(99.20 - 28.99)
    noise = found[2].numbers
    assert noise["n_test"] == 400 and noise["se_min"] == pytest.approx(1.5)  # sqrt(0.9 * 0.1 / 400) * 100
    assert noise["se_max"] == pytest.approx(2.0) and noise["noise"] == pytest.approx(4 * math.sqrt(2))
    assert dict(found[3].numbers) == {"rvt": 0.5, "permutation": 0.8, "ratio": 0.8 / 0.5} and found[3].holds is True
    first, some = found[4].numbers, found[5].numbers
    assert (first["variants"], first["points"], first["n"], some["variants"], some["n"]) == (
        "all variants", "all models", 8, "some", 6)
    assert first["pearson_r"] == correlation.iloc[0]["pearson_r"] and found[4].holds is None
    vit, resnet = found[6].numbers, found[7].numbers
    assert vit["model"] == "vit" and vit["fixed"] == pytest.approx(0.125) and vit["per_image"] == pytest.approx(0.5)
    assert resnet["fixed"] == pytest.approx(-0.05) and resnet["per_image_info"] == 0.8  # it gains 5 %
    assert "noise" not in [f.kind for f in rx.discrepancies(comparison, rates, points, correlation)]
    with pytest.raises(ValueError, match="n_test"):
        rx.discrepancies(comparison, rates, points, correlation, n_test=0)


# ------------------------------------------------------------------------------------------ paper keys


def test_reference_variants_read_the_converted_key_file(tmp_path):
    record = {"center": [6, 6], "r": 3, "degree": [100.0, 200.0, 300.0, 400.0]}
    sets = {name: [record] for name in ("vor_params_mnist_result", "vor_params_mnist_sensitivity1",
                                        "vor_params_mnist_sensitivity2", "vor_params_mnist_sensitivity3")}
    path = tmp_path / "rvt_params.json"
    path.write_text(json.dumps({"source": "test", "sets": sets}))
    variants = rx.reference_variants(path, "digits", "invertible")
    assert [v.label for v in variants] == ["RVT", "RVT sensitivity1", "RVT sensitivity2", "RVT sensitivity3"]
    assert variants[0].key.vortices[0].swirl == (0.1, 0.2, 0.3, 0.4) and variants[0].cipher.mode == "invertible"
    x = _random_images((2, 1, 12, 12))
    assert torch.equal(variants[0].encrypt(x), RandomVortex("invertible").encrypt(x, variants[0].key))
    with pytest.raises(ValueError, match="no key set"):
        rx.reference_variants(path, "fashion_mnist")
    with pytest.raises(FileNotFoundError, match="cannot read"):
        rx.reference_variants(tmp_path / "missing.json", "mnist")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an rvt_params"):
        rx.reference_variants(tmp_path / "bad.json", "mnist")


def test_preset_strength():
    assert rx.preset_strength("mnist") == pytest.approx(0.8)
    assert rx.preset_strength("cifar") == pytest.approx(0.1)
    assert rx.preset_strength(2) == 2.0
    with pytest.raises(ValueError, match="strength"):
        rx.preset_strength("imagenet")
    assert rx.rvt_variant(Key.from_seed(0), "cifar").label == "RVT s=0.1"
