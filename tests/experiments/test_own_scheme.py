"""The helpers of the "score your own scheme" chapter: refusals, verdict tables, evidence, the command."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from imgleak.experiments import own_scheme
from imgleak.scorecard.evaluate import evaluate
from imgleak.scorecard.gallery import PerImageChaCha
from imgleak.scorecard.schemes import FunctionCipher


def judged_rows(scheme: str, rows: list[tuple[str, str, float, float, str]]) -> list[dict]:
    return [{"scheme": scheme, "criterion": c, "adversary": a, "effect": e, "p_adjusted": p, "verdict": v, "note": ""}
            for c, a, e, p, v in rows]


JUDGED = pd.DataFrame(
    judged_rows("identity", [("npcr", "chosen-plaintext", 1.0, 0.0, "leaks"), ("entropy", "statistical", 1.0, 0.0, "leaks"),
                             ("key_space", "key", 1.0, math.nan, "leaks")])
    + judged_rows("one_time_pad", [("npcr", "chosen-plaintext", 0.0, 1.0, "random"),
                                   ("entropy", "statistical", 0.0, 1.0, "random"),
                                   ("key_space", "key", 0.0, math.nan, "random")])
    + judged_rows("mine", [("npcr", "chosen-plaintext", 0.98, 1e-20, "leaks"), ("entropy", "statistical", 0.01, 0.9, "random"),
                           ("key_space", "key", math.nan, math.nan, "inconclusive")])
    + [{"scheme": "mine", "criterion": "throughput", "adversary": "", "effect": math.nan, "p_adjusted": math.nan,
        "verdict": "", "note": "not leakage"}]
)


# ---------------------------------------------------------------------------------- refusal


def test_refusal_names_the_failed_check() -> None:
    def in_place(images, key):
        images ^= 1
        return images

    assert own_scheme.refusal(FunctionCipher(in_place, "in_place"), "in_place") == (
        "scheme 'in_place' failed the 'input kept' check: encrypt wrote into the plain images it was given; "
        "return a new tensor")
    assert own_scheme.refusal(FunctionCipher(lambda x, key: x.float(), "floats"), "floats") == (
        "scheme 'floats' failed the 'dtype' check: encrypt must return uint8 pixels, got torch.float32")


def test_refusal_is_empty_for_a_scheme_that_passes() -> None:
    assert own_scheme.refusal(PerImageChaCha(), "per_image") == ""


# ---------------------------------------------------------------------------------- tables


def test_verdict_table_orders_rows_by_adversary_and_formats_cells() -> None:
    table = own_scheme.verdict_table(JUDGED, ["identity", "mine"])
    assert list(table.columns) == ["identity", "mine"]
    assert list(table.index) == [("statistical", "entropy"), ("chosen-plaintext", "npcr"), ("key", "key_space")]
    assert table.loc[("chosen-plaintext", "npcr"), "mine"] == "leaks (0.98, p <1e-15)"
    assert table.loc[("statistical", "entropy"), "mine"] == "random (0.01, p 0.9)"
    assert table.loc[("key", "key_space"), "identity"] == "leaks (1.00)"  # a threshold: no p-value
    assert table.loc[("key", "key_space"), "mine"] == "inconclusive"  # nothing measured


def test_verdict_table_refuses_a_scheme_not_in_the_run() -> None:
    with pytest.raises(ValueError, match=r"schemes \['other'\] have no verdict here"):
        own_scheme.verdict_table(JUDGED, ["identity", "other"])
    with pytest.raises(TypeError, match="must be the verdicts DataFrame"):
        own_scheme.verdict_table(JUDGED.to_dict())
    with pytest.raises(ValueError, match=r"no column\(s\) \['verdict'\]"):
        own_scheme.verdict_table(JUDGED.drop(columns="verdict"))


def test_evidence_lists_the_leaks_strongest_first() -> None:
    assert own_scheme.evidence(JUDGED, "mine") == ["npcr (chosen-plaintext): effect 0.98, p <1e-15"]
    assert own_scheme.evidence(JUDGED, "identity") == [
        "npcr (chosen-plaintext): effect 1.00, p <1e-15", "entropy (statistical): effect 1.00, p <1e-15",
        "key_space (key): effect 1.00"]
    assert own_scheme.evidence(JUDGED, "one_time_pad") == []
    with pytest.raises(ValueError, match="scheme 'nobody' has no verdict here"):
        own_scheme.evidence(JUDGED, "nobody")


def test_compare_verdicts_marks_what_changed() -> None:
    after = JUDGED.replace({"scheme": {"one_time_pad": "fixed"}})
    changes = own_scheme.compare_verdicts(JUDGED, after, "mine", "fixed")
    assert changes.to_dict("records") == [
        {"adversary": "chosen-plaintext", "criterion": "npcr", "before": "leaks", "after": "random", "changed": True},
        {"adversary": "statistical", "criterion": "entropy", "before": "random", "after": "random", "changed": False},
        {"adversary": "key", "criterion": "key_space", "before": "inconclusive", "after": "random", "changed": True},
    ]
    with pytest.raises(ValueError, match="scheme 'fixed' has no verdict in before"):
        own_scheme.compare_verdicts(JUDGED, after, "fixed", "fixed")


# ---------------------------------------------------------------------------------- the command


def test_evaluate_command_checks_its_arguments() -> None:
    assert own_scheme.evaluate_command(["a:b", "selective-4"], out=Path("o"), seeds=3) == [
        "imgleak", "evaluate", "--scheme", "a:b", "--scheme", "selective-4", "--budget", "quick", "--seeds", "3",
        "--device", "auto", "--quiet", "--out", "o"]
    with pytest.raises(ValueError, match="schemes must be a non-empty list"):
        own_scheme.evaluate_command("a:b", out="o")
    with pytest.raises(ValueError, match="seeds must be a positive int"):
        own_scheme.evaluate_command(["a:b"], out="o", seeds=[0, 1])
    with pytest.raises(ValueError, match="argv must be an imgleak evaluate command with --out"):
        own_scheme.run_command(["imgleak", "book"])


def test_run_command_reports_the_command_error(tmp_path: Path) -> None:
    command = own_scheme.evaluate_command(["nowhere_module:f"], out=tmp_path / "run", criteria=["entropy"])
    with pytest.raises(RuntimeError, match="cannot import module 'nowhere_module'"):
        own_scheme.run_command(command)


def test_the_command_gives_the_verdicts_of_the_python_call(tmp_path: Path) -> None:
    module = tmp_path / "reader_scheme.py"
    module.write_text(textwrap.dedent("""
        def flip(images, key):
            return images ^ key.material[0]
    """))
    criteria = ["entropy", "determinism"]
    command = own_scheme.evaluate_command(["reader_scheme:flip"], out=tmp_path / "cli", seeds=1, criteria=criteria,
                                          device="cpu")
    from_command = own_scheme.run_command(command, path=tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp_path))
        run = evaluate(["reader_scheme:flip"], criteria=criteria, budget="quick", seeds=1, out_dir=tmp_path / "py",
                       device="cpu", progress=False)
    same = own_scheme.compare_verdicts(run.verdicts, from_command, "reader_scheme:flip", "reader_scheme:flip")
    assert len(same) == 2 and not same["changed"].any()
    assert dict(zip(same["criterion"], same["before"])) == {"entropy": "leaks", "determinism": "leaks"}  # a constant XOR keeps the histogram
    assert torch.isclose(torch.tensor(from_command["effect"].astype(float).to_numpy()),
                         torch.tensor(run.verdicts["effect"].astype(float).to_numpy()), equal_nan=True).all()


def test_leaks_by_adversary_counts_per_attacker_weakest_first() -> None:
    assert own_scheme.leaks_by_adversary(JUDGED, "mine") == {
        "statistical": (0, 1), "chosen-plaintext": (1, 1), "key": (0, 1)}
    assert own_scheme.leaks_by_adversary(JUDGED, "identity") == {
        "statistical": (1, 1), "chosen-plaintext": (1, 1), "key": (1, 1)}
    with pytest.raises(ValueError, match="scheme 'nobody' has no verdict here"):
        own_scheme.leaks_by_adversary(JUDGED, "nobody")


def test_verdict_table_writes_no_negative_zero() -> None:
    rows = JUDGED.assign(effect=JUDGED["effect"].where(JUDGED["scheme"] != "one_time_pad", -0.001))
    assert own_scheme.verdict_table(rows).loc[("statistical", "entropy"), "one_time_pad"] == "random (0.00, p 1)"
