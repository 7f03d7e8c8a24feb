"""``imgleak evaluate``: reads the image folder without touching it, writes the scorecard files,
never overwrites a report (``--resume`` finishes one), and never writes key material."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from imgleak.cli import main
from imgleak.keys import Key
from imgleak.scorecard import cells
from imgleak.scorecard.base import Measurement


def mean_pixel(subject, context):
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("mean_pixel", y.float().mean(), "grey level", "none")]


def unchanged_share(subject, context):
    y = subject.cipher.encrypt(context.images, subject.key(context.seed, context))
    return [Measurement("unchanged_share", (y == context.images).float().mean(), "share", "higher")]


@pytest.fixture(autouse=True)
def cheap_criteria(monkeypatch):
    """The command's criteria are these two cheap ones (the real ones have their own tests)."""
    monkeypatch.setattr(cells, "all_criteria", lambda: {"mean_pixel": mean_pixel, "unchanged_share": unchanged_share})


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "photos"
    path.mkdir()
    for i, (h, w) in enumerate([(40, 48), (36, 60)]):
        pixels = np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / f"photo{i}.png")
    return path


def _digest(folder):
    """Names and bytes of every file under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _evaluate(folder, out, *extra):
    return main(["evaluate", "--scheme", "identity", "--scheme", "one_time_pad", "--images", str(folder),
                 "--budget", "quick", "--seeds", "2", "--quiet", "--out", str(out), *extra])


def test_evaluate_writes_the_scorecard_and_leaves_the_images_alone(folder, tmp_path, capsys):
    before = _digest(folder)
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 0
    assert _digest(folder) == before
    assert "8 cells (0 failed)" in capsys.readouterr().out
    table = pd.read_csv(out / "scorecard.csv")
    assert len(table) == 2 * 2 * 2 and set(table["scheme"]) == {"identity", "one_time_pad"}
    document = json.loads((out / "scorecard.json").read_text())
    provenance = document["provenance"]
    assert provenance["seeds"] == [0, 1] and provenance["budget"]["name"] == "quick"
    assert provenance["images"]["source"] == f"folder {folder.resolve()}" and len(provenance["cells"]) == 8
    assert {"torch", "torchvision", "numpy", "imgleak", "dask"} <= set(provenance["versions"])
    assert all(cell["seconds"] > 0 for cell in provenance["cells"])


def test_evaluate_refuses_to_overwrite_and_resumes(folder, tmp_path, capsys):
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 0
    written = _digest(out)
    assert _evaluate(folder, out) == 1
    assert "exists: a report is never overwritten" in capsys.readouterr().err
    assert _digest(out) == written
    assert _evaluate(folder, out, "--resume") == 0
    table = pd.read_csv(out / "scorecard.csv")
    assert len(table) == 8 and (table["error"].isna()).all()


def test_evaluate_never_writes_inside_the_image_folder(folder, capsys):
    before = _digest(folder)
    assert _evaluate(folder, folder / "report") == 1
    assert "inside the image folder" in capsys.readouterr().err
    assert _evaluate(folder, folder, "--resume") == 1
    assert _digest(folder) == before


def test_no_output_file_holds_a_key(folder, tmp_path):
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 0
    secrets = [Key.from_seed(s).hex() for s in (0, 1)] + [Key.from_seed(s).derive("selective").hex() for s in (0, 1)]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 2 + 8
    for path in files:
        text = path.read_text(errors="replace")
        assert not any(secret in text for secret in secrets), path


def test_a_user_function_and_a_criteria_subset(folder, tmp_path, monkeypatch, capsys):
    (tmp_path / "cli_schemes.py").write_text(textwrap.dedent('''
        def xor_key(images, key):
            return images ^ key.material[0]
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cli_schemes", raising=False)
    out = tmp_path / "report"
    code = main(["evaluate", "--scheme", "cli_schemes:xor_key", "--images", str(folder), "--budget", "quick",
                 "--seeds", "1", "--criteria", "unchanged_share", "--quiet", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "scorecard.csv")
    assert table[["scheme", "criterion"]].values.tolist() == [  # the controls join every run
        ["identity", "unchanged_share"], ["one_time_pad", "unchanged_share"], ["cli_schemes:xor_key", "unchanged_share"]]
    assert "added the control(s) identity, one_time_pad" in capsys.readouterr().out
    assert (out / "verdicts.csv").is_file()


@pytest.mark.parametrize("arguments,message", [
    (["--scheme", "rot13", "--budget", "quick"], "unknown scheme 'rot13'; choose from identity, one_time_pad"),
    (["--scheme", "identity", "--criteria", "mine"], "unknown criteria ['mine']"),
    (["--scheme", "identity", "--budget", "huge"], "budget must be one of"),
    (["--scheme", "identity", "--budget", "default"], "images too small for crops of 64x64 pixels"),
    (["--scheme", "identity", "--seeds", "0"], "seeds must be a positive int"),
])
def test_bad_arguments_are_refused_by_name(folder, tmp_path, capsys, arguments, message):
    assert main(["evaluate", *arguments, "--images", str(folder), "--quiet", "--out", str(tmp_path / "o")]) == 1
    assert message in capsys.readouterr().err


def test_workers_and_scheduler_exclude_each_other(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--scheme", "identity", "--workers", "2", "--scheduler", "tcp://x:8786", "--out",
              str(tmp_path / "o")])
    assert exit_.value.code == 2


def test_an_interrupted_evaluate_is_finished_with_resume(folder, tmp_path, monkeypatch, capsys):
    calls = []

    def interrupts_once(subject, context):
        calls.append(context.seed)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return mean_pixel(subject, context)

    monkeypatch.setattr(cells, "all_criteria", lambda: {"mean_pixel": interrupts_once})
    out = tmp_path / "report"
    assert _evaluate(folder, out) == 130
    assert "--resume" in capsys.readouterr().err and len(list((out / "cells").glob("*.json"))) == 2
    assert not (out / "scorecard.csv").exists()
    assert _evaluate(folder, out, "--resume") == 0
    assert len(calls) == 3 + 2 and len(pd.read_csv(out / "scorecard.csv")) == 4
