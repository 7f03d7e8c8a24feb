"""Bad inputs to a scorecard run, each refused by name before any cell runs (or, for a resume, before
any result is dropped): seeds, the output folder, a corrupt cell file, a resume that would drop
finished cells, an unreachable scheduler; and what a valid but unusual table draws (infinite values)."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from imgleak.cli import main
from imgleak.scorecard import cells
from imgleak.scorecard.base import Measurement
from imgleak.scorecard.figures import criterion_bars
from imgleak.scorecard.report import write_report
from imgleak.scorecard.runner import MAX_SEEDS, check_seeds, run
from imgleak.scorecard.schemes import library_schemes


def mean_pixel(subject, context):
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("mean_pixel", y.float().mean(), "grey level", "none")]


@pytest.fixture(autouse=True)
def cheap_criteria(monkeypatch):
    monkeypatch.setattr(cells, "all_criteria", lambda: {"mean_pixel": mean_pixel})


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "photos"
    path.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path / "a.png")
    return path


def _evaluate(folder, out, *extra, seeds="2"):
    return main(["evaluate", "--scheme", "identity", "--images", str(folder), "--budget", "quick", "--seeds", seeds,
                 "--quiet", "--out", str(out), *extra])


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_seeds_are_bounded_and_fit_the_table():
    for count in (MAX_SEEDS + 1, 10**12, 10**30):
        with pytest.raises(ValueError, match=f"seeds must be at most {MAX_SEEDS}"):
            check_seeds(count)
    with pytest.raises(ValueError, match=r"seeds must fit a signed 64-bit int \(\|seed\| < 2\*\*63\), got 1180591620717411303424"):
        check_seeds([1, 2**70])
    assert check_seeds([-(2**63), 2**63 - 1]) == [-(2**63), 2**63 - 1] and len(check_seeds(MAX_SEEDS)) == MAX_SEEDS


def test_run_refuses_bad_seeds_and_out_dir_before_any_cell(tmp_path):
    subject = [library_schemes()["identity"]]
    with pytest.raises(ValueError, match="signed 64-bit"):
        run(subject, {"mean_pixel": mean_pixel}, None, "quick", [2**70], tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()
    for bad in (None, 5, ""):
        with pytest.raises(TypeError, match="out_dir must be a folder path"):
            run(subject, {"mean_pixel": mean_pixel}, None, "quick", 1, bad, progress=False)
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(ValueError, match=f"'{tmp_path / 'file'}' is a file, not a folder"):
            run(subject, {"mean_pixel": mean_pixel}, None, "quick", 1, out, resume=True, progress=False)


def test_the_command_refuses_a_huge_seed_count_and_a_file_as_out(folder, tmp_path, capsys):
    assert _evaluate(folder, tmp_path / "o", seeds="1000000000000") == 1
    assert "seeds must be at most 10000 (a count of seeds 0 .. N-1), got 1000000000000" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    for out, extra in ((tmp_path / "file", ["--resume"]), (tmp_path / "file" / "sub", [])):
        assert _evaluate(folder, out, *extra) == 1
        assert f"--out: out_dir '{out}': '{tmp_path / 'file'}' is a file, not a folder" in capsys.readouterr().err


def test_a_corrupt_cell_file_is_named(folder, tmp_path, capsys):
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 0
    cell = out / "cells" / "identity--mean_pixel--seed1.json"
    cell.write_text('{"cell": "identity--mean_pi')
    capsys.readouterr()
    assert _evaluate(folder, out, "--resume") == 1
    err = capsys.readouterr().err
    assert f"cell file {cell} is unreadable (Unterminated string" in err
    assert "delete it to recompute that cell, then resume again" in err
    cell.unlink()
    assert _evaluate(folder, out, "--resume") == 0
    assert "resume: 3 finished cell(s) kept, 0 failed cell(s) retried, 1 cell(s) run" in capsys.readouterr().err


def test_a_resume_never_drops_finished_cells(folder, tmp_path, capsys):
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 0  # identity and one_time_pad, seeds 0 and 1: 4 cells
    before = _digest(out / "scorecard.csv")
    capsys.readouterr()
    assert _evaluate(folder, out, "--resume", seeds="1") == 1
    err = capsys.readouterr().err
    assert "holds 2 cell(s) this run does not include (identity--mean_pixel--seed1, one_time_pad--mean_pixel--seed1)" \
           in err and "a resume never drops results" in err
    assert _digest(out / "scorecard.csv") == before and len(pd.read_csv(out / "scorecard.csv")) == 4
    assert _evaluate(folder, out, "--resume", seeds="3") == 0  # more seeds: the finished cells are kept
    assert len(pd.read_csv(out / "scorecard.csv")) == 6


def test_a_cell_failed_outside_the_criterion_is_retried(folder, tmp_path, capsys):
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 0
    path = out / "cells" / "identity--mean_pixel--seed0.json"
    record = json.loads(path.read_text())  # as the executor records a cell the workers could not unpickle
    record.update(error="RuntimeError: Error during deserialization of the task graph.", rows=[
        {**record["rows"][0], "value": math.nan, "error": "RuntimeError: Error during deserialization"}])
    path.write_text(json.dumps(record))
    capsys.readouterr()
    assert _evaluate(folder, out, "--resume") == 0
    assert "resume: 3 finished cell(s) kept, 1 failed cell(s) retried, 0 cell(s) run" in capsys.readouterr().err
    assert json.loads(path.read_text())["error"] == ""


def test_no_scheduler_at_the_address_is_named(folder, tmp_path, capsys):
    assert _evaluate(folder, tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9", "--wait", "1") == 1
    assert "no dask scheduler answered at 'tcp://127.0.0.1:9' within 1 s" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_infinite_values_are_drawn_and_reported(tmp_path):
    table = pd.DataFrame({"scheme": ["identity", "one_time_pad", "mine"], "criterion": "key_space_log2", "seed": 0,
                          "value": [math.inf, math.inf, -math.inf], "unit": "bits", "leaks_more": "none",
                          "setting": "{}", "verdict": "", "error": ""})
    texts = [t.get_text() for t in criterion_bars(table, "key_space_log2").axes[0].texts]
    assert texts == ["+∞", "+∞", "−∞"]
    paths = write_report(table, {}, tmp_path)
    assert pd.read_csv(paths["csv"])["value"].tolist() == [math.inf, math.inf, -math.inf]
