"""The scorecard runner: every scheme × criterion × seed, the same table serially and on a dask
LocalCluster, cells written as they finish and resumed after an interruption, failing cells
recorded without stopping the others, and no key material in the output."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from imgleak.keys import Key
from imgleak.scorecard.key import fingerprint
from imgleak.scorecard import runner
from imgleak.scorecard.base import BUDGETS, Measurement
from imgleak.scorecard.cells import COLUMNS, all_criteria, select_criteria
from imgleak.scorecard.runner import run
from imgleak.scorecard.sources import ImageSource, crop_source_index, cut_crops, make_context
from imgleak.scorecard.store import provenance
from imgleak.scorecard.schemes import library_schemes

QUICK = BUDGETS["quick"]


def mean_pixel(subject, context):
    """The mean grey level of the protected crops (not a leakage number)."""
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("mean_pixel", y.float().mean(), "grey level", "none", {"images": int(y.shape[0])})]


def unchanged_share(subject, context):
    """The share of samples the scheme left as they were (more = leaks more)."""
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("unchanged_share", (y == context.images).float().mean(), "share", "higher")]


def boom(subject, context):
    raise RuntimeError("boom")


CALLS = {"n": 0, "limit": None}


def interrupted_mean(subject, context):
    """``mean_pixel``, but the cell after ``CALLS["limit"]`` calls is interrupted (as by Ctrl-C)."""
    CALLS["n"] += 1
    if CALLS["limit"] is not None and CALLS["n"] > CALLS["limit"]:
        raise KeyboardInterrupt
    return mean_pixel(subject, context)


CRITERIA = {"mean_pixel": mean_pixel, "unchanged_share": unchanged_share}


@pytest.fixture(scope="module")
def subjects():
    schemes = library_schemes()
    return [schemes[n] for n in ("identity", "one_time_pad", "permutation-fixed")]


def _numbers(table):
    return table.drop(columns=["seconds"]).reset_index(drop=True)


def test_the_table_has_every_scheme_criterion_and_seed(subjects, tmp_path):
    table = run(subjects, CRITERIA, None, "quick", 2, tmp_path, progress=False)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 3 * 2 * 2 and (table["error"] == "").all()
    got = set(zip(table["scheme"], table["criterion"], table["seed"]))
    assert got == {(s.name, c, seed) for s in subjects for c in CRITERIA for seed in (0, 1)}
    assert len(list((tmp_path / "cells").glob("*.json"))) == 12
    plain = {seed: float(make_context(ImageSource(), QUICK, seed, "cpu").images.float().mean()) for seed in (0, 1)}
    by = table.set_index(["scheme", "criterion", "seed"])["value"]
    for seed in (0, 1):
        assert by["identity", "mean_pixel", seed] == pytest.approx(plain[seed])  # identity changes nothing
        assert by["permutation-fixed", "mean_pixel", seed] == pytest.approx(plain[seed])  # only moves pixels
        assert by["identity", "unchanged_share", seed] == 1.0
        assert by["one_time_pad", "unchanged_share", seed] == pytest.approx(1 / 256, abs=0.003)  # 12,288 samples
    assert table["setting"].iloc[0] == '{"images": 4}' and table["unit"].iloc[0] == "grey level"


def test_a_raising_cell_is_recorded_and_the_others_finish(subjects, tmp_path):
    table = run(subjects[:2], {"boom": boom, "mean_pixel": mean_pixel}, None, QUICK, [3], tmp_path, progress=False)
    failed = table[table["criterion"] == "boom"]
    assert len(failed) == 2 and (failed["error"] == "RuntimeError: boom").all() and failed["value"].isna().all()
    assert (table.loc[table["criterion"] == "mean_pixel", "error"] == "").all()
    # on resume, failed cells run again (here: with a criterion that works)
    again = run(subjects[:2], {"boom": mean_pixel, "mean_pixel": mean_pixel}, None, QUICK, [3], tmp_path,
                resume=True, progress=False)
    assert (again["error"] == "").all()


def test_an_interrupted_run_resumed_gives_the_uninterrupted_table(subjects, tmp_path, monkeypatch):
    criteria = {"mean_pixel": interrupted_mean, "unchanged_share": unchanged_share}
    whole = run(subjects, criteria, None, QUICK, 2, tmp_path / "whole", progress=False)
    monkeypatch.setitem(CALLS, "n", 0)
    monkeypatch.setitem(CALLS, "limit", 3)
    with pytest.raises(KeyboardInterrupt):
        run(subjects, criteria, None, QUICK, 2, tmp_path / "cut", progress=False)
    kept = list((tmp_path / "cut" / "cells").glob("*"))
    assert CALLS["n"] == 4 and len(kept) == 3 + 2  # 3 mean_pixel cells and 2 unchanged_share cells were written
    monkeypatch.setitem(CALLS, "n", 0)
    monkeypatch.setitem(CALLS, "limit", None)
    resumed = run(subjects, criteria, None, QUICK, 2, tmp_path / "cut", resume=True, progress=False)
    assert CALLS["n"] == 6 - 3  # only the missing cells ran
    assert _numbers(resumed).equals(_numbers(whole))


def test_a_run_refuses_to_mix_budgets_or_reuse_cells_unasked(subjects, tmp_path):
    run(subjects[:1], {"mean_pixel": mean_pixel}, None, QUICK, 1, tmp_path, progress=False)
    with pytest.raises(ValueError, match="pass resume=True"):
        run(subjects[:1], {"mean_pixel": mean_pixel}, None, QUICK, 1, tmp_path, progress=False)
    with pytest.raises(ValueError, match="budget 'quick'; this run's budget is 'tiny': budgets are not mixed"):
        run(subjects[:1], {"mean_pixel": mean_pixel}, None, replace(QUICK, name="tiny"), 1, tmp_path, resume=True,
            progress=False)
    with pytest.raises(ValueError, match="other settings or other images"):
        run(subjects[:1], {"mean_pixel": mean_pixel}, None, replace(QUICK, images=2), 1, tmp_path, resume=True,
            progress=False)


def test_a_local_cluster_gives_the_serial_table(subjects, tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test file
    folder = tmp_path / "images"  # small photos: each worker process reads them
    folder.mkdir()
    for i in range(3):
        _png(folder / f"{i}.png", 40, 48, seed=i)
    try:
        serial = run(subjects, CRITERIA, folder, QUICK, 2, tmp_path / "serial", progress=False)
        with runner.dask_executor(workers=2) as executor:
            parallel = run(subjects, CRITERIA, folder, QUICK, 2, tmp_path / "dask", executor=executor,
                           progress=False)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert _numbers(parallel).equals(_numbers(serial))
    assert json.loads((tmp_path / "dask" / "run.json").read_text())["executor"] == "ClientExecutor"


def test_no_key_material_is_written(subjects, tmp_path):
    run(subjects, CRITERIA, None, QUICK, 2, tmp_path, progress=False)
    secrets = [Key.from_seed(s).hex() for s in (0, 1)] + [Key.from_seed(s).derive("selective").hex() for s in (0, 1)]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not any(secret in text for secret in secrets), path
    record = json.loads((tmp_path / "cells" / "one_time_pad--mean_pixel--seed1.json").read_text())
    assert record["key_fingerprint"] == fingerprint(Key.from_seed(1))
    record = provenance(tmp_path)
    assert record["seeds"] == [0, 1] and len(record["cells"]) == 12
    assert record["budget"]["name"] == "quick" and record["versions"]["torch"]


def _png(path, height, width, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_image_folders_are_checked_by_name(subjects, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        run(subjects[:1], CRITERIA, folder, QUICK, 1, tmp_path / "out", progress=False)
    (folder / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.png"):
        run(subjects[:1], CRITERIA, folder, QUICK, 1, tmp_path / "out", progress=False)
    (folder / "broken.png").unlink()
    _png(folder / "big.png", 40, 48)
    _png(folder / "small.png", 20, 64)
    with pytest.raises(ValueError, match=r"crops of 32x32 pixels .*small.png \(20x64\)"):
        run(subjects[:1], CRITERIA, folder, QUICK, 1, tmp_path / "out", progress=False)
    (folder / "small.png").unlink()
    table = run(subjects[:1], CRITERIA, folder, QUICK, 1, tmp_path / "out", progress=False)
    assert (table["error"] == "").all()


def test_crops_come_from_source_i_mod_s_at_seeded_positions():
    sources = []
    for j in range(3):
        rows, cols = torch.meshgrid(torch.arange(40), torch.arange(50), indexing="ij")
        sources.append(torch.stack([rows, cols, torch.full_like(rows, j)]).to(torch.uint8))
    crops = cut_crops(sources, 7, 8, seed=5)
    assert crops[:, 2, 0, 0].tolist() == crop_source_index(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    for crop in crops:
        r, c, j = (int(v) for v in crop[:, 0, 0])
        assert torch.equal(crop, sources[j][:, r:r + 8, c:c + 8])
    assert torch.equal(crops, cut_crops(sources, 7, 8, seed=5))
    assert not torch.equal(crops, cut_crops(sources, 7, 8, seed=6))


def test_criteria_are_collected_and_chosen_by_name():
    found = all_criteria()
    assert all(callable(f) for f in found.values())
    assert select_criteria(["unchanged_share"], CRITERIA) == {"unchanged_share": unchanged_share}
    with pytest.raises(ValueError, match=r"unknown criteria \['mine'\]; choose from \['mean_pixel', 'unchanged_share'\]"):
        select_criteria(["mine"], CRITERIA)


def test_bad_arguments_are_named(subjects, tmp_path):
    with pytest.raises(ValueError, match="budget must be one of"):
        run(subjects, CRITERIA, None, "huge", 1, tmp_path, progress=False)
    with pytest.raises(ValueError, match="seeds must be a positive int"):
        run(subjects, CRITERIA, None, QUICK, 0, tmp_path, progress=False)
    with pytest.raises(ValueError, match="distinct names"):
        run(subjects[:1] * 2, CRITERIA, None, QUICK, 1, tmp_path, progress=False)
    with pytest.raises(TypeError, match="executor must be"):
        run(subjects, CRITERIA, None, QUICK, 1, tmp_path, executor=object(), progress=False)
    with pytest.raises(ValueError, match="device"):
        run(subjects, CRITERIA, None, QUICK, 1, tmp_path, device="gpu", progress=False)
