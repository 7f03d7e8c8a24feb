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


# ---------------------------------------------------------------------- batched runs and the estimator sweep

from imgleak.experiments.findings import Finding  # noqa: E402
from imgleak.mi import estimate_mi  # noqa: E402

TINY = dict(epochs=2, batch_size=16, hidden=8, progress=False)


@pytest.fixture(scope="module")
def pixel_pairs() -> dict[int, torch.Tensor]:
    return sl.level_patches(images(2), [0, 4, 8], KEY, size=4, per_image=30, seed=0)


@pytest.mark.usefixtures("one_thread")
def test_mine_by_level_equals_one_run_per_level(pixel_pairs) -> None:
    runs = sl.mine_by_level(pixel_pairs, [0, 4, 8], seed=3, **TINY)
    assert sorted(runs) == [0, 4, 8]
    x = sl.flatten(pixel_pairs[0])
    for n, run in runs.items():
        alone = estimate_mi(x, sl.flatten(pixel_pairs[n]), seed=3, **TINY)
        assert run.test_curve == alone.test_curve and run.mi_bits == alone.mi_bits


@pytest.mark.usefixtures("one_thread")
def test_estimator_sweep_rows_are_the_runs_they_name(pixel_pairs) -> None:
    sweep = sl.estimator_sweep(pixel_pairs, [8, 4], ["mine", "dv"], [5, 2], source="pixels",
                               options_by_estimator={"dv": {"epochs": 1}}, **TINY)
    table = sweep.table
    assert list(table.columns) == ["source", "estimator", "n", "seed", "mi_bits", "bound", "epoch", "ceiling_bits",
                                   "diverged"]
    assert table["diverged"].isna().all() and sl.diverged_runs(sweep).empty
    assert len(table) == 8 and set(table["source"]) == {"pixels"} and set(table["bound"]) == {"dv"}
    assert (table["ceiling_bits"] == math.inf).all()
    row = table[(table["estimator"] == "mine") & (table["n"] == 4) & (table["seed"] == 2)].iloc[0]
    alone = estimate_mi(sl.flatten(pixel_pairs[0]), sl.flatten(pixel_pairs[4]), seed=2, **TINY)
    assert row["mi_bits"] == alone.mi_bits and row["epoch"] == 2
    epochs = sweep.curves.groupby("estimator")["epoch"].max()  # the per-estimator option reached dv only
    assert epochs.to_dict() == {"dv": 1, "mine": 2}
    run = sweep.curves[(sweep.curves["estimator"] == "mine") & (sweep.curves["n"] == 4) & (sweep.curves["seed"] == 2)]
    assert run["test_bits"].tolist() == pytest.approx(alone.test_curve_bits)


def test_estimator_sweep_checks_its_arguments(pixel_pairs) -> None:
    with pytest.raises(ValueError, match="sets 'seed' itself"):
        sl.estimator_sweep(pixel_pairs, [4], ["mine"], [0], seed=1)
    with pytest.raises(ValueError, match="not in estimators"):
        sl.estimator_sweep(pixel_pairs, [4], ["mine"], [0], options_by_estimator={"smile": {"clip": 1.0}})
    with pytest.raises(ValueError, match="must not repeat a seed"):
        sl.estimator_sweep(pixel_pairs, [4], ["mine"], [0, 0])
    with pytest.raises(ValueError, match="unknown estimators"):
        sl.estimator_sweep(pixel_pairs, [4], ["kde"], [0])


@pytest.mark.usefixtures("one_thread")
def test_a_diverged_run_is_a_row_of_the_sweep_left_out_of_its_mean_and_findings(pixel_pairs) -> None:
    # unstandardised pixels with a huge learning rate: every run explodes, and none raises
    sweep = sl.estimator_sweep(pixel_pairs, [0, 8], ["mine"], [0, 1], source="pixels",
                               **{**TINY, "lr": 50.0, "standardize": False})
    failed = sl.diverged_runs(sweep)
    assert len(failed) == 4 and failed["diverged"].str.contains("diverged at epoch").all()
    assert sweep.table["mi_bits"].isna().all()
    summary = sl.sweep_summary(sweep)
    assert (summary["diverged"] == 2).all() and (summary["seeds"] == 0).all() and summary["mean"].isna().all()
    findings = sl.estimator_findings(sweep)
    assert all(f.holds is None for f in findings)  # nothing to judge with every run diverged


def test_seed_summary_is_the_student_t_interval() -> None:
    table = pd.DataFrame({"n": [0, 0, 0, 4, 4, 8], "v": [1.0, 2.0, 3.0, 5.0, 9.0, 7.0]})
    out = sl.seed_summary(table, "v", ["n"]).set_index("n")
    assert out.loc[0, "mean"] == 2.0 and out.loc[0, "sd"] == 1.0 and out.loc[0, "seeds"] == 3
    t_975 = {2: 4.302652729911275, 1: 12.706204736174698}  # Student t quantiles (tables)
    assert out.loc[0, "ci_high"] - out.loc[0, "mean"] == pytest.approx(t_975[2] / math.sqrt(3))
    assert out.loc[4, "mean"] - out.loc[4, "ci_low"] == pytest.approx(t_975[1] * math.sqrt(8) / math.sqrt(2))
    assert (out.loc[[0, 4], "ci_low"] < out.loc[[0, 4], "mean"]).all()
    assert (out.loc[[0, 4], "mean"] < out.loc[[0, 4], "ci_high"]).all()
    assert out.loc[8, ["sd", "ci_low", "ci_high"]].isna().all()  # one seed: no spread, no interval
    narrower = sl.seed_summary(table, "v", ["n"], confidence=0.9).set_index("n")
    assert narrower.loc[0, "ci_high"] - 2.0 == pytest.approx(2.919985580355516 / math.sqrt(3))
    with pytest.raises(ValueError, match="confidence"):
        sl.seed_summary(table, "v", ["n"], confidence=95)


def synthetic_sweep(final: dict[tuple[str, str, int, int], float], converge: dict[tuple[str, str], int],
                    epochs: int = 10, ceiling: dict[str, float] | None = None) -> sl.EstimatorSweep:
    """Runs ``(source, estimator, n, seed) -> reported bits`` whose curves sit at a quarter of it
    until epoch ``converge[(source, estimator)]`` and at the reported value from there on."""
    runs, curves = [], []
    for (source, estimator, n, seed), value in final.items():
        key = {"source": source, "estimator": estimator, "n": n, "seed": seed}
        runs.append({**key, "mi_bits": value, "bound": estimator, "epoch": epochs,
                     "ceiling_bits": (ceiling or {}).get(estimator, math.inf)})
        start = converge[(source, estimator)]
        curves += [{**key, "epoch": e, "test_bits": value if e >= start else value / 4} for e in range(1, epochs + 1)]
    return sl.EstimatorSweep(pd.DataFrame(runs), pd.DataFrame(curves))


def test_convergence_table_finds_the_first_epoch_at_the_fraction() -> None:
    sweep = synthetic_sweep({("p", "mine", 0, 0): 4.0, ("p", "mine", 8, 0): 0.05}, {("p", "mine"): 6})
    out = sl.convergence_table(sweep).set_index("n")
    assert out.loc[0, "converged_epoch"] == 6.0
    assert math.isnan(out.loc[8, "converged_epoch"])  # below min_bits: nothing to converge to
    assert sl.convergence_table(sweep, min_bits=0.01).set_index("n").loc[8, "converged_epoch"] == 6.0
    assert sl.convergence_table(sweep, fraction=0.2).set_index("n").loc[0, "converged_epoch"] == 1.0  # 1/4 >= 0.2


def by_kind(findings: list[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def test_estimator_findings_on_known_curves() -> None:
    levels, seeds = [0, 2, 4, 6, 8], [0, 1]
    final = {}
    for seed in seeds:
        for n in levels:
            final[("pixels", "mine", n, seed)] = 8.0 - n + 0.01 * seed  # a straight line
            final[("pixels", "smile", n, seed)] = 8.0 / (1 + n) ** 2  # a steep curve
            final[("clip", "mine", n, seed)] = 4.0 / (1 + n)
            final[("clip", "smile", n, seed)] = 6.0 - 0.5 * n
            final[("pixels", "infonce", n, seed)] = min(8.0 - n, 2.9)
            final[("clip", "infonce", n, seed)] = 2.0 / (1 + n)
    converge = {("pixels", "mine"): 6, ("clip", "mine"): 2, ("pixels", "smile"): 3, ("clip", "smile"): 7,
                ("pixels", "infonce"): 4, ("clip", "infonce"): 4}
    findings = sl.estimator_findings(synthetic_sweep(final, converge, ceiling={"infonce": 3.0}))

    linear = {(f.numbers["source"], f.numbers["estimator"]): f for f in by_kind(findings, "linearity")}
    assert linear[("pixels", "mine")].numbers["slope"] == pytest.approx(-1.0)
    assert linear[("pixels", "mine")].numbers["r2"] == pytest.approx(1.0) and linear[("pixels", "mine")].holds is False
    assert linear[("pixels", "smile")].holds is True and linear[("clip", "mine")].holds is True

    converged = {f.numbers["estimator"]: f for f in by_kind(findings, "convergence")}
    assert converged["mine"].numbers["epochs"] == {"pixels": 6.0, "clip": 2.0}
    assert converged["mine"].holds is True and converged["mine"].numbers["faster"] == ("clip",)
    assert converged["smile"].holds is False and converged["infonce"].holds is False  # slower; a tie
    assert converged["mine"].numbers["ci"]["clip"] == (2.0, 2.0)  # the same epoch for both seeds: no spread

    (ceiling,) = by_kind(findings, "ceiling")  # only where the ceiling binds: InfoNCE on pixels
    assert (ceiling.numbers["source"], ceiling.numbers["ceiling_bits"]) == ("pixels", 3.0)
    assert ceiling.numbers["levels"] == (0, 2, 4)  # 2.9 >= 0.9 * 3 = 2.7; at n = 6 the mean is 2

    survives = {(f.numbers["claim"], f.numbers["source"]): f for f in by_kind(findings, "survives")}
    assert survives[("linearity", "pixels")].numbers["verdicts"] == {"mine": False, "smile": True, "infonce": True}
    assert survives[("linearity", "pixels")].holds is False and not survives[("linearity", "pixels")].numbers["agree"]
    assert survives[("linearity", "clip")].holds is False  # smile's line on clip is straight
    assert survives[("convergence", None)].numbers["verdicts"] == {"mine": True, "smile": False, "infonce": False}


def test_estimator_findings_with_nothing_to_converge_to_are_undetermined() -> None:
    final = {("pixels", "mine", n, 0): 0.0 for n in (0, 8)} | {("resnet18", "mine", n, 0): 1.0 for n in (0, 8)}
    findings = sl.estimator_findings(synthetic_sweep(final, {("pixels", "mine"): 1, ("resnet18", "mine"): 1}))
    (converged,) = by_kind(findings, "convergence")
    assert converged.holds is None and math.isnan(converged.numbers["epochs"]["pixels"])
    assert by_kind(findings, "linearity")[0].holds is None  # constant means: R² undefined
    with pytest.raises(ValueError, match="pixels must name a source"):
        sl.estimator_findings(synthetic_sweep(final, {("pixels", "mine"): 1, ("resnet18", "mine"): 1}),
                              pixels="raw")


def test_embed_level_patches_embeds_the_colocated_patches() -> None:
    encoder = load_encoder("resnet18", pretrained=False, device="cpu")
    pics = images(2, (3, 40, 48))
    out = sl.embed_level_patches({"r": encoder}, pics, [8, 3], KEY, size=32, per_image=6, seed=4, progress=False)
    patches = sl.level_patches(pics, [3, 8], KEY, size=32, per_image=6, seed=4)
    assert sorted(out["r"]) == [0, 3, 8]
    for n in (0, 3):
        assert torch.equal(out["r"][n], encoder.embed(patches[n]))
    assert torch.allclose(out["r"][8], encoder.embed(patches[8]), atol=1e-5)  # blank: embedded once, repeated


@pytest.mark.parametrize("key", ["k", 3, None])
def test_histogram_mi_and_clear_view_refuse_a_key_that_is_not_a_key(key):
    image = torch.zeros(1, 4, 4, dtype=torch.uint8)
    with pytest.raises(TypeError, match=f"key must be an imgleak Key \\(Key.from_seed, Key.generate\\), got {type(key).__name__}"):
        sl.histogram_mi([image], [2], key=key)
    with pytest.raises(TypeError, match="key must be an imgleak Key"):
        sl.clear_view(image, 2, key, 0)
