"""The numbers the leakage-benchmark chapter and the HTML report discuss, computed from a
scorecard table (one row per scheme × measurement × seed, as the runner returns it). Structured
results only: the chapter phrases them.

Leak scores put every leakage criterion on one scale: the mean over seeds of each scheme,
rescaled across the schemes of the table so that 0 is the scheme that leaks least on that
criterion and 1 the one that leaks most (``leaks_more`` says which way that is). A score is
therefore relative to the schemes compared; the controls (``identity`` and the one-time pad)
anchor its ends. Failed cells (a non-empty ``error`` or a missing value) are left out.

>>> rows = [("identity", 0.9), ("otp", 0.1), ("rvt", 0.5)]
>>> table = pd.DataFrame({"scheme": [s for s, _ in rows], "criterion": "ssim", "seed": 0,
...                       "value": [v for _, v in rows], "leaks_more": "higher"})
>>> leak_scores(table)["ssim"].round(2).to_dict()
{'identity': 1.0, 'otp': 0.0, 'rvt': 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._checks import number

REQUIRED = ("scheme", "criterion", "seed", "value", "leaks_more")
"""The columns every function here needs (the runner's table has more: unit, setting, verdict, …)."""
LEAKAGE = ("higher", "lower")
UTILITY = "accuracy"
"""The criterion :func:`utility_vs_leakage` reads: accuracy of a classifier trained on encrypted images."""
REFERENCE = "one_time_pad"
"""The control that should leak least (``schemes.ONE_TIME_PAD``): :func:`controls` checks it sits at 0."""


def _valid(table: Any, columns: Sequence[str] = REQUIRED) -> pd.DataFrame:
    """The table's rows that hold a number (failed cells dropped), after checking its type and columns."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (the scorecard), got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}; a scorecard table has {list(REQUIRED)} and more")
    ok = pd.to_numeric(table["value"], errors="coerce").notna()
    if "error" in table.columns:
        ok &= table["error"].fillna("").astype(str).str.len() == 0
    valid = table.loc[ok].copy()
    valid["value"] = valid["value"].astype(float)
    return valid


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1; 0 for one seed) and count over seeds of every scheme ×
    criterion, with its unit and direction, in the table's order of schemes and criteria.

    >>> t = pd.DataFrame({"scheme": "a", "criterion": "entropy", "seed": [0, 1], "value": [7.0, 8.0],
    ...                   "unit": "bits", "leaks_more": "lower"})
    >>> summary(t)[["scheme", "criterion", "mean", "sd", "seeds"]].to_dict("records")
    [{'scheme': 'a', 'criterion': 'entropy', 'mean': 7.5, 'sd': 0.7071067811865476, 'seeds': 2}]
    """
    valid = _valid(table)
    if "unit" not in valid.columns:
        valid["unit"] = ""
    grouped = valid.groupby(["scheme", "criterion"], sort=False)
    out = grouped.agg(unit=("unit", "first"), leaks_more=("leaks_more", "first"), mean=("value", "mean"),
                      sd=("value", "std"), seeds=("value", "size")).reset_index()
    out["sd"] = out["sd"].fillna(0.0)
    out["seeds"] = out["seeds"].astype(int)
    return out


def _rescale(means: pd.Series, direction: str) -> pd.Series:
    low, high = means.min(), means.max()
    if not high > low:  # every scheme measures the same: no scheme leaks more than another
        return means * np.nan
    scaled = (means - low) / (high - low)
    return scaled if direction == "higher" else 1.0 - scaled


def leak_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Leak score of every scheme (rows) on every leakage criterion (columns): the mean over seeds
    rescaled to 0 (leaks least of these schemes) … 1 (leaks most); NaN where every scheme measures
    the same or a scheme has no value. Non-leakage criterion (``leaks_more="none"``) are left out.

    >>> t = pd.DataFrame({"scheme": ["id", "otp", "id", "otp"], "criterion": ["npcr"] * 2 + ["mi"] * 2,
    ...                   "seed": 0, "value": [0.0, 99.6, 3.0, 0.0], "leaks_more": ["lower"] * 2 + ["higher"] * 2})
    >>> leak_scores(t).to_dict("index")
    {'id': {'npcr': 1.0, 'mi': 1.0}, 'otp': {'npcr': 0.0, 'mi': 0.0}}
    """
    means = summary(table)
    schemes = list(pd.unique(_valid(table)["scheme"]))
    leakage = means[means["leaks_more"].isin(LEAKAGE)]
    columns = {}
    for criterion, rows in leakage.groupby("criterion", sort=False):
        directions = set(rows["leaks_more"])
        if len(directions) > 1:
            raise ValueError(f"table gives criterion {criterion!r} two directions {sorted(directions)}")
        columns[criterion] = _rescale(rows.set_index("scheme")["mean"], directions.pop())
    scores = pd.DataFrame(columns, index=pd.Index(schemes, name="scheme"), dtype=float)
    scores.columns.name = "criterion"
    return scores


def controls(scores: pd.DataFrame, top: str = "identity", bottom: str = REFERENCE,
             tolerance: float = 0.05) -> pd.DataFrame:
    """Where the controls sit on every leakage measurement that ranks all schemes (no NaN in
    ``scores``, from :func:`leak_scores`): the ``top`` control (no protection) should score 1 and
    the ``bottom`` one (the one-time pad) 0, each within ``tolerance``. One row per measurement:
    both controls' scores, the schemes that leak most and least, and whether each control is at its end.

    >>> s = pd.DataFrame({"mi": [1.0, 0.0, 0.5], "npcr": [0.9, 0.0, 1.0]}, index=["identity", "one_time_pad", "x"])
    >>> controls(s)[["most", "top_ok", "bottom_ok"]].to_dict("index")
    {'mi': {'most': 'identity', 'top_ok': True, 'bottom_ok': True},
     'npcr': {'most': 'x', 'top_ok': False, 'bottom_ok': True}}
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be the DataFrame leak_scores returns, got {type(scores).__name__}")
    tolerance = number(tolerance, "tolerance")
    missing = [c for c in (top, bottom) if c not in scores.index]
    if missing:
        raise ValueError(f"scores has no row for the control(s) {missing}; its schemes: {list(scores.index)}")
    ranked = scores.dropna(axis=1, how="any")
    out = pd.DataFrame({"top": ranked.loc[top], "bottom": ranked.loc[bottom], "most": ranked.idxmax(),
                        "least": ranked.idxmin()})
    out["top_ok"] = out["top"] >= 1 - tolerance
    out["bottom_ok"] = out["bottom"] <= tolerance
    out.index.name = "criterion"
    return out


def criteria_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Kendall's τ (tau-b, :func:`scipy.stats.kendalltau`) between every pair of leakage criteria,
    across the schemes both rank (their leak scores, so that τ = 1 means the two criteria order the
    schemes the same way whichever direction each counts as leaking), with its two-sided p-value
    and the number of schemes. τ is NaN where fewer than 2 schemes are shared or a criterion is
    constant over them.

    >>> t = pd.DataFrame({"scheme": list("abcd") * 2, "criterion": ["mi"] * 4 + ["entropy"] * 4, "seed": 0,
    ...                   "value": [3, 2, 1, 0, 5, 6, 7, 8], "leaks_more": ["higher"] * 4 + ["lower"] * 4})
    >>> criteria_agreement(t)[["criterion_a", "criterion_b", "tau", "schemes"]].to_dict("records")
    [{'criterion_a': 'mi', 'criterion_b': 'entropy', 'tau': 1.0, 'schemes': 4}]
    """
    scores = leak_scores(table)
    rows = []
    names = list(scores.columns)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = scores[[a, b]].dropna()
            tau, p = np.nan, np.nan
            if len(both) >= 2 and both[a].nunique() > 1 and both[b].nunique() > 1:
                result = stats.kendalltau(both[a], both[b])
                tau, p = float(result.statistic), float(result.pvalue)
            rows.append({"criterion_a": a, "criterion_b": b, "tau": tau, "p_value": p, "schemes": len(both)})
    return pd.DataFrame(rows, columns=["criterion_a", "criterion_b", "tau", "p_value", "schemes"])


def _check_agreement(agreement: Any) -> None:
    if not isinstance(agreement, pd.DataFrame) or not {"criterion_a", "criterion_b", "tau"} <= set(agreement.columns):
        raise TypeError("agreement must be the DataFrame criteria_agreement returns (criterion_a, criterion_b, tau)")


def agreement_matrix(agreement: pd.DataFrame) -> pd.DataFrame:
    """The pairs of :func:`criteria_agreement` as a symmetric criteria × criteria matrix of τ (1 on
    the diagonal).

    >>> pairs = pd.DataFrame({"criterion_a": ["mi"], "criterion_b": ["ssim"], "tau": [0.5]})
    >>> agreement_matrix(pairs).to_dict("index")
    {'mi': {'mi': 1.0, 'ssim': 0.5}, 'ssim': {'mi': 0.5, 'ssim': 1.0}}
    """
    _check_agreement(agreement)
    names = list(pd.unique(pd.concat([agreement["criterion_a"], agreement["criterion_b"]])))
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a, b, tau in agreement[["criterion_a", "criterion_b", "tau"]].itertuples(index=False):
        matrix.loc[a, b] = matrix.loc[b, a] = tau
    return matrix


def cell_criteria(table: pd.DataFrame) -> dict[str, str]:
    """Which cell-level criterion produced each measurement (``correlation`` for
    ``correlation_horizontal``), read from the runner's cell ids ``<scheme>--<criterion>--seed<n>``.

    >>> t = pd.DataFrame({"criterion": ["correlation_vertical", "entropy"],
    ...                   "cell": ["rvt--correlation--seed0", "rvt--entropy--seed0"]})
    >>> cell_criteria(t)
    {'correlation_vertical': 'correlation', 'entropy': 'entropy'}
    """
    if not isinstance(table, pd.DataFrame) or not {"criterion", "cell"} <= set(table.columns):
        raise TypeError("table must be a scorecard DataFrame with criterion and cell columns")
    found: dict[str, str] = {}
    for criterion, cell in table[["criterion", "cell"]].drop_duplicates().itertuples(index=False):
        parts = str(cell).split("--")
        if len(parts) < 3:
            raise ValueError(f"cell id {cell!r} is not <scheme>--<criterion>--seed<n>")
        found.setdefault(criterion, parts[-2])
    return found


def family_agreement(agreement: pd.DataFrame, families: Mapping[str, str]) -> pd.DataFrame:
    """Mean, minimum and maximum τ of :func:`criteria_agreement` within and between families of
    criteria (``families`` maps a criterion to its family, e.g. ``statistical``), over the pairs
    with a defined τ; one row per (family_a, family_b), family_a <= family_b.

    >>> pairs = pd.DataFrame({"criterion_a": ["npcr", "npcr"], "criterion_b": ["entropy", "ssim"], "tau": [0.8, 0.2]})
    >>> family_agreement(pairs, {"npcr": "statistical", "entropy": "statistical", "ssim": "attacks"}).to_dict("records")
    [{'family_a': 'attacks', 'family_b': 'statistical', 'mean_tau': 0.2, 'min_tau': 0.2, 'max_tau': 0.2, 'pairs': 1},
     {'family_a': 'statistical', 'family_b': 'statistical', 'mean_tau': 0.8, 'min_tau': 0.8, 'max_tau': 0.8,
      'pairs': 1}]
    """
    if not isinstance(families, Mapping):
        raise TypeError(f"families must map criterion names to family names, got {type(families).__name__}")
    _check_agreement(agreement)
    pairs = agreement.dropna(subset=["tau"])
    pairs = pairs[pairs["criterion_a"].isin(families) & pairs["criterion_b"].isin(families)]
    a, b = pairs["criterion_a"].map(families), pairs["criterion_b"].map(families)
    keyed = pairs.assign(family_a=np.minimum(a, b), family_b=np.maximum(a, b))
    out = keyed.groupby(["family_a", "family_b"])["tau"].agg(mean_tau="mean", min_tau="min", max_tau="max",
                                                             pairs="size").reset_index()
    out["pairs"] = out["pairs"].astype(int)
    return out


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """The statistical tests' verdicts: per scheme × test (a measurement with a ``pass``/``fail``
    verdict), how many seeds passed, how many ran, and the share passed.

    >>> t = pd.DataFrame({"scheme": "otp", "criterion": "npcr", "seed": [0, 1, 2], "value": 99.6,
    ...                   "leaks_more": "lower", "verdict": ["pass", "pass", "fail"]})
    >>> verdicts(t).to_dict("records")
    [{'scheme': 'otp', 'test': 'npcr', 'passed': 2, 'seeds': 3, 'pass_share': 0.6666666666666666}]
    """
    valid = _valid(table, REQUIRED + ("verdict",))
    tests = valid[valid["verdict"].fillna("").astype(str).isin(("pass", "fail"))]
    grouped = tests.assign(passed=tests["verdict"] == "pass").groupby(["scheme", "criterion"], sort=False)["passed"]
    out = grouped.agg(passed="sum", seeds="size").reset_index().rename(columns={"criterion": "test"})
    out["passed"] = out["passed"].astype(int)
    out["seeds"] = out["seeds"].astype(int)
    out["pass_share"] = out["passed"] / out["seeds"]
    return out


def pareto_front(frame: pd.DataFrame, better_high: str, better_low: str) -> pd.Series:
    """For each row, whether no other row is at least as good on both columns and better on one
    (``better_high``: higher is better, ``better_low``: lower is better). Rows with a NaN are never on it.

    >>> f = pd.DataFrame({"accuracy": [0.9, 0.8, 0.7], "leak": [0.5, 0.2, 0.3]}, index=["a", "b", "c"])
    >>> pareto_front(f, "accuracy", "leak").to_dict()
    {'a': True, 'b': True, 'c': False}
    """
    high, low = frame[better_high].to_numpy(float), frame[better_low].to_numpy(float)
    finite = np.isfinite(high) & np.isfinite(low)
    at_least = (high[None, :] >= high[:, None]) & (low[None, :] <= low[:, None])
    strictly = (high[None, :] > high[:, None]) | (low[None, :] < low[:, None])
    dominated = (at_least & strictly & finite[None, :]).any(axis=1)
    return pd.Series(finite & ~dominated, index=frame.index, name="pareto")


def utility_vs_leakage(table: pd.DataFrame, *, utility: str = UTILITY) -> pd.DataFrame:
    """Per scheme: the mean (and sd) over seeds of the ``utility`` criterion (accuracy on
    encrypted images), its mean leak score over the leakage criteria it has (:func:`leak_scores`),
    how many criteria that mean covers, and whether it is on the Pareto front (no other scheme
    has both higher accuracy and less leakage). Schemes without the utility criterion are left out.

    >>> t = pd.DataFrame({"scheme": ["id", "otp", "rvt"] * 2, "criterion": ["accuracy"] * 3 + ["mi"] * 3,
    ...                   "seed": 0, "value": [0.95, 0.1, 0.9, 3.0, 0.0, 1.0],
    ...                   "leaks_more": ["none"] * 3 + ["higher"] * 3})
    >>> utility_vs_leakage(t)[["accuracy", "leak", "pareto"]].round(2).to_dict("index")
    {'id': {'accuracy': 0.95, 'leak': 1.0, 'pareto': True}, 'otp': {'accuracy': 0.1, 'leak': 0.0, 'pareto': True},
     'rvt': {'accuracy': 0.9, 'leak': 0.33, 'pareto': True}}
    """
    if not isinstance(utility, str):
        raise TypeError(f"utility must be a criterion name (str), got {utility!r}")
    means = summary(table)
    accuracy = means[means["criterion"] == utility].set_index("scheme")
    if accuracy.empty:
        raise ValueError(f"table has no values for the utility criterion {utility!r}; "
                         f"its criteria: {sorted(set(means['criterion']))}")
    scores = leak_scores(table).reindex(accuracy.index)
    out = pd.DataFrame({"accuracy": accuracy["mean"], "accuracy_sd": accuracy["sd"],
                        "leak": scores.mean(axis=1, skipna=True), "criteria": scores.notna().sum(axis=1)})
    out["pareto"] = pareto_front(out, "accuracy", "leak")
    return out


__all__ = ["REFERENCE", "UTILITY", "agreement_matrix", "cell_criteria",
           "controls", "criteria_agreement", "family_agreement", "leak_scores", "pareto_front",
           "summary",
           "utility_vs_leakage", "verdicts"]
