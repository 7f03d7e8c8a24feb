"""The "score your own scheme" chapter: a reader's scheme refused by the checks, judged beside the
controls from Python and from ``imgleak evaluate``, then fixed.

The chapter orchestrates; this module turns the scorecard's outputs into what the reader reads:

- :func:`refusal` — the message :func:`~imgleak.scorecard.schemes.check_scheme` refuses a scheme
  with (``""`` when it passes);
- :func:`verdict_table` — measurement × scheme, each cell ``verdict (effect, p)``, the attacker
  that the measurement assumes first;
- :func:`evidence` — one line per measurement on which a scheme leaks, strongest first, and
  :func:`leaks_by_adversary` — how many measurements of each attacker find a leak;
- :func:`compare_verdicts` — a scheme's verdicts before and after a fix;
- :func:`evaluate_command` and :func:`run_command` — the ``imgleak evaluate`` command equivalent
  to a call of :func:`~imgleak.scorecard.evaluate.evaluate`, and its run in a subprocess.

>>> import pandas as pd
>>> judged = pd.DataFrame({"scheme": ["identity", "mine"], "criterion": ["npcr", "npcr"],
...                        "adversary": ["chosen-plaintext"] * 2, "effect": [1.0, 0.98],
...                        "p_adjusted": [0.0, 1e-3], "verdict": ["leaks", "leaks"], "note": ""})
>>> verdict_table(judged).loc[("chosen-plaintext", "npcr"), "mine"]
'leaks (0.98, p 0.001)'
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..ciphers.base import Cipher
from ..scorecard.base import ADVERSARIES
from ..scorecard.report import FILES
from ..scorecard.schemes import CHECK_SHAPE, check_scheme

COLUMNS = ("scheme", "criterion", "adversary", "effect", "p_adjusted", "verdict")
"""The columns of a verdicts table (:func:`imgleak.scorecard.verdicts.verdicts`) this module reads."""


def _judged(judged: Any, name: str = "judged") -> pd.DataFrame:
    """``judged`` if it is a verdicts table with :data:`COLUMNS`."""
    if not isinstance(judged, pd.DataFrame):
        raise TypeError(f"{name} must be the verdicts DataFrame of imgleak.scorecard.evaluate.evaluate "
                        f"(Evaluation.verdicts), got {type(judged).__name__}")
    missing = [c for c in COLUMNS if c not in judged.columns]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing}: pass Evaluation.verdicts or a verdicts.csv read back")
    return judged[judged["verdict"].fillna("") != ""]


def refusal(cipher: Cipher, name: str, shape: Sequence[int] = CHECK_SHAPE) -> str:
    """The message the scorecard refuses ``cipher`` with (``""`` when it passes every check).

    >>> from imgleak.scorecard.schemes import FunctionCipher
    >>> refusal(FunctionCipher(lambda x, key: x.flip(-1), "mirror"), "mirror")
    "scheme 'mirror' failed the 'key' check: two different keys gave the same output"
    """
    try:
        check_scheme(cipher, name, shape)
    except ValueError as error:
        return str(error)
    return ""


def _p_text(p: float) -> str:
    """An adjusted p-value as text (``<1e-15`` below what a double can tell apart from 0)."""
    return "<1e-15" if p < 1e-15 else f"{p:.1g}"


def _cell(verdict: str, effect: float, p: float) -> str:
    if math.isnan(effect):
        return verdict
    return f"{verdict} ({round(effect, 2) + 0.0:.2f}" + ("" if math.isnan(p) else f", p {_p_text(p)}") + ")"


def verdict_table(judged: pd.DataFrame, schemes: Sequence[str] | None = None) -> pd.DataFrame:
    """Measurement × scheme: each cell ``"verdict (effect, p p_adjusted)"``, rows ordered by the
    attacker the measurement assumes (:data:`imgleak.scorecard.base.ADVERSARIES`, weakest first).

    ``schemes``: the columns, in order (default: every scheme in ``judged``, in its order).
    A threshold verdict (the declared key space) has no p-value; a verdict without a measured
    value (``inconclusive``) has neither.
    """
    shown = _judged(judged)
    names = list(pd.unique(shown["scheme"])) if schemes is None else list(schemes)
    unknown = sorted(set(names) - set(shown["scheme"]))
    if unknown:
        raise ValueError(f"schemes {unknown} have no verdict here; the run judged {list(pd.unique(shown['scheme']))}")
    cells = shown.assign(cell=[_cell(v, float(e), float(p)) for v, e, p in
                               shown[["verdict", "effect", "p_adjusted"]].itertuples(index=False)])
    grid = cells.pivot(index=["adversary", "criterion"], columns="scheme", values="cell")[names]
    order = {a: i for i, a in enumerate(ADVERSARIES)}
    rows = sorted(grid.index, key=lambda r: (order.get(r[0], len(order)), list(pd.unique(shown["criterion"])).index(r[1])))
    return grid.reindex(rows).fillna("")


def evidence(judged: pd.DataFrame, scheme: str) -> list[str]:
    """One line per measurement on which ``scheme`` leaks, smallest adjusted p-value first:
    ``"criterion (adversary): effect e, p p_adjusted"``.
    """
    shown = _judged(judged)
    if scheme not in set(shown["scheme"]):
        raise ValueError(f"scheme {scheme!r} has no verdict here; the run judged {list(pd.unique(shown['scheme']))}")
    leaks = shown[(shown["scheme"] == scheme) & (shown["verdict"] == "leaks")]
    leaks = leaks.sort_values(["p_adjusted", "effect"], ascending=[True, False], na_position="last")
    return [f"{r.criterion} ({r.adversary}): effect {r.effect:.2f}"
            + ("" if math.isnan(r.p_adjusted) else f", p {_p_text(r.p_adjusted)}") for r in leaks.itertuples()]


def leaks_by_adversary(judged: pd.DataFrame, scheme: str) -> dict[str, tuple[int, int]]:
    """``adversary -> (measurements that find a leak, measurements judged)`` for ``scheme``, weakest
    attacker first.

    >>> import pandas as pd
    >>> judged = pd.DataFrame({"scheme": ["s", "s", "s"], "criterion": ["entropy", "npcr", "uaci"],
    ...                        "adversary": ["statistical", "chosen-plaintext", "chosen-plaintext"],
    ...                        "effect": [0.0, 1.0, 0.9], "p_adjusted": [1.0, 0.0, 0.0],
    ...                        "verdict": ["random", "leaks", "leaks"]})
    >>> leaks_by_adversary(judged, "s")
    {'statistical': (0, 1), 'chosen-plaintext': (2, 2)}
    """
    shown = _judged(judged)
    rows = shown[shown["scheme"] == scheme]
    if rows.empty:
        raise ValueError(f"scheme {scheme!r} has no verdict here; the run judged {list(pd.unique(shown['scheme']))}")
    order = {a: i for i, a in enumerate(ADVERSARIES)}
    counts = {a: (int((g["verdict"] == "leaks").sum()), len(g)) for a, g in rows.groupby("adversary", sort=False)}
    return dict(sorted(counts.items(), key=lambda item: order.get(item[0], len(order))))


def compare_verdicts(before: pd.DataFrame, after: pd.DataFrame, scheme_before: str, scheme_after: str
                     ) -> pd.DataFrame:
    """Per measurement: ``scheme_before``'s verdict in ``before``, ``scheme_after``'s in ``after``,
    and ``changed``. Measurements judged in only one of the runs are left out.

    >>> import pandas as pd
    >>> row = dict(criterion="npcr", adversary="chosen-plaintext", effect=0.0, p_adjusted=0.5)
    >>> a = pd.DataFrame([{**row, "scheme": "draft", "verdict": "leaks"}])
    >>> b = pd.DataFrame([{**row, "scheme": "fixed", "verdict": "random"}])
    >>> compare_verdicts(a, b, "draft", "fixed").to_dict("records")
    [{'adversary': 'chosen-plaintext', 'criterion': 'npcr', 'before': 'leaks', 'after': 'random', 'changed': True}]
    """
    sides = []
    for judged, scheme, label in ((before, scheme_before, "before"), (after, scheme_after, "after")):
        rows = _judged(judged, label)
        if scheme not in set(rows["scheme"]):
            raise ValueError(f"scheme {scheme!r} has no verdict in {label}; it judged {list(pd.unique(rows['scheme']))}")
        sides.append(rows.loc[rows["scheme"] == scheme, ["adversary", "criterion", "verdict"]]
                     .rename(columns={"verdict": label}))
    both = sides[0].merge(sides[1], on=["adversary", "criterion"], how="inner")
    return both.assign(changed=both["before"] != both["after"]).reset_index(drop=True)


def evaluate_command(schemes: Sequence[str], *, out: str | os.PathLike, budget: str = "quick", seeds: int = 2,
                     criteria: Sequence[str] | None = None, device: str = "auto") -> list[str]:
    """The ``imgleak evaluate`` command that runs what ``evaluate(schemes, criteria=criteria,
    budget=budget, seeds=seeds, out_dir=out, device=device)`` runs.

    >>> " ".join(evaluate_command(["mine:f"], out="run", criteria=["npcr"], device="cpu"))
    'imgleak evaluate --scheme mine:f --budget quick --seeds 2 --device cpu --criteria npcr --quiet --out run'
    """
    if isinstance(schemes, str) or not schemes:
        raise ValueError(f"schemes must be a non-empty list of scheme names, got {schemes!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int (imgleak evaluate --seeds N runs seeds 0 … N-1), got {seeds!r}")
    argv = ["imgleak", "evaluate", *[a for s in schemes for a in ("--scheme", s)], "--budget", str(budget),
            "--seeds", str(seeds), "--device", str(device)]
    if criteria is not None:
        argv += ["--criteria", *criteria]
    return argv + ["--quiet", "--out", os.fspath(out)]


def run_command(argv: Sequence[str], path: str | os.PathLike | None = None, timeout: float = 600) -> pd.DataFrame:
    """Run an :func:`evaluate_command` (this Python, ``-m imgleak.cli``) with ``path`` first on
    ``PYTHONPATH`` (where the reader's module lives); return the ``verdicts.csv`` it wrote.

    Raises ``RuntimeError`` with the command's error output when it fails.
    """
    argv = list(argv)
    if argv[:2] != ["imgleak", "evaluate"] or "--out" not in argv:
        raise ValueError(f"argv must be an imgleak evaluate command with --out (see evaluate_command), got {argv!r}")
    environment = dict(os.environ)
    if path is not None:
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (os.fspath(path), environment.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "imgleak.cli", *argv[1:]], capture_output=True, text=True,
                          env=environment, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return pd.read_csv(Path(argv[argv.index("--out") + 1]) / FILES["verdicts"], keep_default_na=False,
                       na_values=[""]).fillna({"verdict": "", "note": ""})


__all__ = ["COLUMNS", "compare_verdicts", "evaluate_command", "evidence", "leaks_by_adversary", "refusal", "run_command",
           "verdict_table"]
