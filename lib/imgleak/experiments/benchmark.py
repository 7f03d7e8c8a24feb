"""The leakage-benchmark chapter's conclusions, computed from the verdicts of a scorecard run
(:func:`imgleak.scorecard.verdicts.verdicts`) as :class:`~imgleak.experiments.findings.Finding`.

Kinds and their numbers:

- ``controls`` (holds: identity is never ``random`` and the pad never ``leaks``):
  ``identity_random``, ``pad_leaks`` (the measurements that break the rule);
- ``broken`` (one per scheme with a ``leaks``; holds True): ``scheme``, ``adversaries`` (the
  attackers that find it, weakest first), ``evidence`` (up to ``evidence`` measurements,
  strongest first: criterion, adversary, effect, p_adjusted), ``leaks`` (how many);
- ``no_leak_found`` (holds None: not a proof): ``scheme``, ``random`` and ``inconclusive`` counts;
- ``inconclusive`` (one per criterion that cannot judge at this budget): ``criterion``, ``reason``.

>>> import pandas as pd
>>> v = pd.DataFrame({"scheme": ["identity", "one_time_pad", "x", "x"], "criterion": ["m", "m", "m", "n"],
...                   "adversary": ["statistical", "statistical", "statistical", "key"], "effect": [1.0, 0.0, 0.8, 0.0],
...                   "p_adjusted": [1e-9, 0.9, 1e-5, 0.7], "verdict": ["leaks", "random", "leaks", "random"],
...                   "note": ""})
>>> [(f.kind, f.holds) for f in verdict_findings(v)]
[('controls', True), ('broken', True)]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import _checks
from ..scorecard.base import ADVERSARIES
from ..scorecard.verdicts import IDENTITY, PAD
from .findings import Finding

EVIDENCE = 3
"""Measurements quoted per broken scheme."""


def _controls(judged: pd.DataFrame) -> Finding:
    identity_random = judged[(judged["scheme"] == IDENTITY) & (judged["verdict"] == "random")]["criterion"].tolist()
    pad_leaks = judged[(judged["scheme"] == PAD) & (judged["verdict"] == "leaks")]["criterion"].tolist()
    return Finding("controls", {"identity_random": identity_random, "pad_leaks": pad_leaks},
                   holds=not identity_random and not pad_leaks)


def _broken(scheme: str, rows: pd.DataFrame, evidence: int) -> Finding:
    leaks = rows[rows["verdict"] == "leaks"].sort_values(["p_adjusted", "effect"], ascending=[True, False],
                                                         na_position="last")
    order = {a: i for i, a in enumerate(ADVERSARIES)}
    adversaries = sorted(set(leaks["adversary"]), key=lambda a: order.get(a, len(order)))
    quoted = [{"criterion": r.criterion, "adversary": r.adversary, "effect": float(r.effect),
               "p_adjusted": float(r.p_adjusted)} for r in leaks.head(evidence).itertuples()]
    return Finding("broken", {"scheme": scheme, "adversaries": adversaries, "evidence": quoted,
                              "leaks": len(leaks)}, holds=True)


def verdict_findings(judged: pd.DataFrame, evidence: int = EVIDENCE) -> list[Finding]:
    """The controls' check, then per scheme ``broken`` or ``no_leak_found``, then the criteria that
    are ``inconclusive`` for everyone at this budget, with their reasons (see the module notes)."""
    if not isinstance(judged, pd.DataFrame):
        raise TypeError(f"judged must be the DataFrame of imgleak.scorecard.verdicts.verdicts, got {type(judged).__name__}")
    evidence = _checks.positive_int(evidence, "evidence")
    judged = judged[judged["verdict"] != ""]
    out = [_controls(judged)]
    for scheme, rows in judged.groupby("scheme", sort=False):
        if scheme in (IDENTITY, PAD):
            continue
        if (rows["verdict"] == "leaks").any():
            out.append(_broken(scheme, rows, evidence))
        else:
            counts: dict[str, Any] = rows["verdict"].value_counts().to_dict()
            out.append(Finding("no_leak_found", {"scheme": scheme, "random": int(counts.get("random", 0)),
                                                 "inconclusive": int(counts.get("inconclusive", 0))}))
    pad = judged[judged["scheme"] == PAD]
    for row in pad[pad["verdict"] == "inconclusive"].itertuples():
        out.append(Finding("inconclusive", {"criterion": row.criterion, "reason": row.note}))
    return out


__all__ = ["EVIDENCE", "verdict_findings"]
