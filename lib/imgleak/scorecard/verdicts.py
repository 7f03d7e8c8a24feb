"""Verdicts from a scorecard table: every scheme × measurement judged against the controls.

For each leakage measurement (``leaks_more`` higher or lower) and scheme, seeds pooled:

- **effect**: ``(mean − pad) / (identity − pad)`` on the measurement's own scale, with ``pad`` and
  ``identity`` the means of the two controls: 0 is the one-time pad, 1 no encryption, and values
  outside [0, 1] are allowed (a scheme may leak more than identity). It depends on the scheme and
  the controls only.
- **p_value**, one-sided in the leak direction: where the criterion has an analytic null (the
  measurement's ``p_value`` on each seed: a random cipher), the seeds' p-values combined by
  Fisher's method; otherwise the scheme's values against the pad's over the run's seeds (Welch's
  t-test; both need 2 seeds or more).
- **p_adjusted**: Holm's step-down correction across the scheme's own measurements. Holm, not
  Benjamini–Hochberg, because the claim a verdict makes is per scheme — "this scheme leaks
  somewhere" — which needs the family-wise error rate (a secure scheme gets no ``leaks`` anywhere
  with probability 1 − α), not the false discovery rate; and because the correction runs over one
  scheme's measurements, no scheme's verdicts depend on which other schemes are in the run.
- **verdict**: ``leaks`` (p_adjusted < α), ``random`` (indistinguishable from random at this
  budget), or ``inconclusive`` when the criterion cannot judge anyone: the controls themselves
  are not separated (identity's own p_adjusted is not below α), an attack does not beat the grey
  and mean-image guesses even on identity, or there is no p-value (one seed). The declared key
  space is judged by a threshold (``leaks`` below :data:`MIN_KEY_BITS` bits).

Measurements that are not leakage (cost, utility) get no verdict; their notes flag chance-level
utility. A random-init encoder is flagged in the note of every row that used it.

>>> rows = [(s, seed, v, p) for s, v, p in (("identity", 1.0, 1e-9), ("one_time_pad", 0.0, 0.6), ("x", 0.5, 1e-6))
...         for seed in (0, 1, 2)]
>>> table = pd.DataFrame([{"scheme": s, "criterion": "r", "seed": seed, "value": v, "leaks_more": "higher",
...                        "p_value": p, "family": "statistical", "adversary": "statistical"} for s, seed, v, p in rows])
>>> verdicts(table)[["scheme", "effect", "verdict"]].values.tolist()
[['identity', 1.0, 'leaks'], ['one_time_pad', 0.0, 'random'], ['x', 0.5, 'leaks']]
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._checks import fraction
from .games import MIN_KEY_BITS

ALPHA = 0.05
"""Family-wise error rate per scheme (Holm)."""
IDENTITY, PAD = "identity", "one_time_pad"
"""The controls: no encryption, and a one-time pad (a fresh ChaCha20 keystream byte per sample)."""
VERDICT_COLUMNS = ("scheme", "criterion", "family", "adversary", "effect", "p_value", "p_adjusted", "verdict", "note")
VERDICTS = ("leaks", "random", "inconclusive")
THRESHOLDS = {"key_space": MIN_KEY_BITS}
"""Measurements judged by a threshold, not a test: the declared key space in bits."""
ATTACK_BASELINES = ("grey_ssim", "mean_image_ssim")
"""Guesses an SSIM attack must beat on identity before it can judge anyone."""
CHANCE = 0.1
"""Accuracy of a guess among the 10 digit classes (the utility criterion)."""


def _valid(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (the scorecard), got {type(table).__name__}")
    needed = ("scheme", "criterion", "seed", "value", "leaks_more")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}")
    out = table.copy()
    for column, default in (("p_value", math.nan), ("family", "custom"), ("adversary", "none"), ("setting", "{}"),
                            ("error", "")):
        if column not in out.columns:
            out[column] = default
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    out["p_value"] = pd.to_numeric(out["p_value"], errors="coerce")
    failed = out["error"].fillna("").astype(str).str.len() > 0
    return out[~failed]  # a NaN value with a note (not applicable here) stays: inconclusive, with its note


def fisher(p_values: Sequence[float]) -> float:
    """Fisher's combination of independent p-values (zeros count as 1e-300).

    >>> round(fisher([0.05]), 6), round(fisher([0.5, 0.5]), 4)
    (0.05, 0.5966)
    """
    p = np.clip(np.asarray(p_values, dtype=float), 1e-300, 1.0)
    return float(stats.chi2.sf(-2 * np.log(p).sum(), 2 * len(p)))


def against_pad(values: Sequence[float], pad: Sequence[float], leaks_more: str) -> float:
    """One-sided Welch t-test p-value that ``values`` leak more than the pad's (NaN below 2 of each).

    Equal values on both sides with no spread give 1; a constant difference with no spread 0 or 1.

    >>> against_pad([0.9, 0.8, 0.85], [0.1, 0.12, 0.11], "higher") < 0.001
    True
    >>> against_pad([0.1, 0.12, 0.11], [0.1, 0.12, 0.11], "higher")
    0.5
    """
    a, b = np.asarray(values, float), np.asarray(pad, float)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    sign = 1.0 if leaks_more == "higher" else -1.0
    if a.std() == 0 and b.std() == 0:
        return 0.0 if sign * (a.mean() - b.mean()) > 0 else 1.0
    alternative = "greater" if leaks_more == "higher" else "less"
    with warnings.catch_warnings():  # nearly equal values: scipy warns of lost precision, the p-value is still ~1/2
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False, alternative=alternative).pvalue)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    >>> holm([0.01, 0.04, float("nan"), 0.03]).round(2).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    p = np.asarray(p_values, float)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        out[index] = running
    return out


def _setting_notes(settings: pd.Series) -> list[str]:
    notes = set()
    for text in settings:
        try:
            setting = json.loads(text) if isinstance(text, str) else dict(text or {})
        except ValueError:
            continue
        if "random-init" in json.dumps(setting):
            notes.add("random-init encoder (no pretrained weights here)")
        if setting.get("note"):
            notes.add(str(setting["note"]))
    return sorted(notes)


def _raw_p(rows: pd.DataFrame, pad_values: np.ndarray, leaks_more: str) -> tuple[float, str]:
    rows = rows[rows["value"].notna()]
    analytic = rows["p_value"].to_numpy(float)
    if len(analytic) and np.isfinite(analytic).all():
        return fisher(analytic), "analytic null (random cipher), seeds combined by Fisher's method"
    return against_pad(rows["value"].to_numpy(float), pad_values, leaks_more), "against the pad's seeds (Welch)"


def _attack_usable(table: pd.DataFrame, criterion: str, alpha: float) -> bool:
    """Whether identity's SSIM beats the grey and mean-image guesses significantly (True if no baselines)."""
    if not criterion.endswith("_ssim") or criterion == "cipher_ssim":
        return True
    identity = table[(table["scheme"] == IDENTITY)]
    values = identity[identity["criterion"] == criterion].set_index("seed")["value"]
    baselines = identity[identity["criterion"].isin(ATTACK_BASELINES)].groupby("seed")["value"].max()
    shared = values.index.intersection(baselines.index)
    if len(shared) == 0:
        return True
    gap = (values[shared] - baselines[shared]).to_numpy(float)
    if len(gap) < 2:  # one seed: no test (the caller already calls such a criterion inconclusive)
        return False
    if gap.std() == 0:
        return bool(gap.mean() > 0)
    return float(stats.ttest_1samp(gap, 0.0, alternative="greater").pvalue) < alpha


def _utility_note(rows: pd.DataFrame, table: pd.DataFrame) -> str:
    plain = table[(table["scheme"] == rows["scheme"].iloc[0]) & (table["criterion"] == "plain_accuracy")]["value"]
    notes = []
    if len(plain) and float(plain.mean()) < CHANCE + 0.1:
        notes.append(f"plain accuracy {plain.mean():.3f} is near chance ({CHANCE:.1f}): the classifier learned "
                     "little even without encryption at this budget")
    if float(rows["value"].mean()) < CHANCE + 0.1:
        notes.append(f"accuracy {rows['value'].mean():.3f} is near chance ({CHANCE:.1f})")
    return "; ".join(notes)


def verdicts(table: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per scheme × measurement (seeds pooled), columns :data:`VERDICT_COLUMNS`; see the module notes.

    Needs the ``identity`` and ``one_time_pad`` controls in the table for effects and for any
    verdict but ``inconclusive``.
    """
    alpha = fraction(alpha, "alpha")
    table = _valid(table)
    out = []
    for (scheme, criterion), rows in table.groupby(["scheme", "criterion"], sort=False):
        out.append(_judge(table, scheme, criterion, rows))
    frame = pd.DataFrame(out, columns=[*VERDICT_COLUMNS, "raw_note", "leakage", "mean"])
    for scheme, rows in frame.groupby("scheme", sort=False):
        frame.loc[rows.index, "p_adjusted"] = holm(rows["p_value"].to_numpy(float))
    separated = _separated(frame, table, alpha)
    frame["verdict"] = [_verdict(r, separated, alpha) for r in frame.itertuples()]
    frame["note"] = [_note(r, separated) for r in frame.itertuples()]
    return frame[list(VERDICT_COLUMNS)].reset_index(drop=True)


def _judge(table: pd.DataFrame, scheme: str, criterion: str, rows: pd.DataFrame) -> dict[str, Any]:
    leaks_more = str(rows["leaks_more"].iloc[0])
    row = {"scheme": scheme, "criterion": criterion, "family": rows["family"].iloc[0],
           "adversary": rows["adversary"].iloc[0], "effect": math.nan, "p_value": math.nan, "p_adjusted": math.nan,
           "verdict": "", "note": "", "raw_note": "; ".join(_setting_notes(rows["setting"])),
           "leakage": leaks_more in ("higher", "lower"), "mean": float(rows["value"].mean())}
    if criterion == "accuracy":
        row["raw_note"] = "; ".join(n for n in (row["raw_note"], _utility_note(rows, table)) if n)
    if not row["leakage"]:
        return row
    same = table[table["criterion"] == criterion]
    pad = same[same["scheme"] == PAD]["value"].dropna().to_numpy(float)
    identity = same[same["scheme"] == IDENTITY]["value"].dropna().to_numpy(float)
    if len(pad) and len(identity) and float(identity.mean()) != float(pad.mean()):
        row["effect"] = (row["mean"] - float(pad.mean())) / (float(identity.mean()) - float(pad.mean()))
    if criterion in THRESHOLDS:
        return row
    row["p_value"], how = _raw_p(rows, pad, leaks_more)
    row["raw_note"] = "; ".join(n for n in (how, row["raw_note"]) if n)
    return row


def _separated(frame: pd.DataFrame, table: pd.DataFrame, alpha: float) -> dict[str, str]:
    """criterion -> "" where the controls are separated, else why the criterion cannot judge."""
    out = {}
    identity = frame[frame["scheme"] == IDENTITY].set_index("criterion")
    for criterion in frame.loc[frame["leakage"], "criterion"].unique():
        if criterion in THRESHOLDS:
            out[criterion] = ""
        elif criterion not in identity.index or PAD not in set(frame.loc[frame["criterion"] == criterion, "scheme"]):
            out[criterion] = "the identity and one-time-pad controls were not both measured"
        elif not math.isfinite(float(identity.loc[criterion, "p_adjusted"])):
            out[criterion] = ("no p-value for the controls (no exact null, and fewer than 2 seeds of identity and "
                              "of the pad): the criterion cannot judge anyone with one seed")
        elif not float(identity.loc[criterion, "p_adjusted"]) < alpha:
            out[criterion] = (f"controls not separated at this budget (identity p_adj = "
                              f"{float(identity.loc[criterion, 'p_adjusted']):.3g}): the criterion cannot judge anyone")
        elif not _attack_usable(table, criterion, alpha):
            out[criterion] = ("the attack does not beat the grey / mean-image guess even on identity at this budget: "
                              "it cannot judge anyone")
        else:
            out[criterion] = ""
    return out


def _verdict(row: Any, separated: dict[str, str], alpha: float) -> str:
    if not row.leakage:
        return ""
    if not math.isfinite(row.mean):
        return "inconclusive"
    if row.criterion in THRESHOLDS:
        return "leaks" if row.mean < THRESHOLDS[row.criterion] else "random"
    if separated.get(row.criterion) or not math.isfinite(row.p_adjusted):
        return "inconclusive"
    return "leaks" if row.p_adjusted < alpha else "random"


def _note(row: Any, separated: dict[str, str]) -> str:
    parts = [separated.get(row.criterion, ""), row.raw_note]
    if row.criterion in THRESHOLDS:
        parts.append(f"judged by a threshold: fewer than {THRESHOLDS[row.criterion]} bits leaks (brute force)")
    if row.leakage and not math.isfinite(row.mean):
        parts.append("no value measured")
    elif row.leakage and row.criterion not in THRESHOLDS and not math.isfinite(row.p_value) \
            and not separated.get(row.criterion):
        parts.append("no p-value: needs 2 seeds or more of the scheme and of the pad")
    return "; ".join(p for p in parts if p)


def power(seeds: int, effect_size: float, tests: int = 1, alpha: float = ALPHA) -> float:
    """Power of the comparison with the pad (one-sided t-test, ``seeds`` per side) to call a leak of
    standardised size ``effect_size`` (difference of means / common sd) when it is the first of
    ``tests`` Holm-corrected measurements (level alpha / tests, the worst case).

    Measurements with an analytic null need no power from seeds: one seed's p-value already
    decides. For the others, 3 seeds find an effect of 10 sd among 20 measurements almost surely
    (0.998) but one of 5 sd only two times in three; 5 seeds find 5 sd (0.998): hence
    ``imgleak evaluate --seeds 5`` by default.

    >>> round(power(3, 10.0, tests=20), 3), round(power(3, 5.0, tests=20), 2), round(power(5, 5.0, tests=20), 3)
    (0.998, 0.67, 0.998)
    """
    df = 2 * seeds - 2
    critical = stats.t.ppf(1 - alpha / tests, df)
    return float(stats.nct.sf(critical, df, effect_size * math.sqrt(seeds / 2)))


def power_table(seeds: Sequence[int] = (2, 3, 5, 8), effect_sizes: Sequence[float] = (1, 2, 5, 10),
                tests: int = 20, alpha: float = ALPHA) -> pd.DataFrame:
    """:func:`power` for every number of seeds (rows) and effect size in sd (columns).

    >>> power_table((3,), (10,)).round(3).values.tolist()
    [[0.998]]
    """
    return pd.DataFrame([[power(n, d, tests, alpha) for d in effect_sizes] for n in seeds],
                        index=pd.Index(list(seeds), name="seeds"),
                        columns=pd.Index([f"{d:g} sd" for d in effect_sizes], name="effect"))


def disagreements(judged: pd.DataFrame) -> pd.DataFrame:
    """Where one scheme's judged measurements disagree: between attackers (some adversary's
    measurements say ``leaks`` while every measurement of another says ``random``: tests call the
    cipher random while an attack recovers, or the other way round) and within a family (e.g.
    horizontal against vertical correlation). Columns ``scheme, kind, random, leaks`` (the
    measurements on each side, with effect and adjusted p).

    >>> v = pd.DataFrame({"scheme": "x", "criterion": ["entropy", "known_plaintext"], "family": ["statistical", "games"],
    ...                   "adversary": ["statistical", "known-plaintext"], "effect": [0.0, 1.0],
    ...                   "p_adjusted": [0.8, 1e-9], "verdict": ["random", "leaks"]})
    >>> disagreements(v)[["kind", "random", "leaks"]].values.tolist()
    [['statistical says random, known-plaintext finds a leak', 'entropy (effect 0.00, p 0.8)', 'known_plaintext (effect 1.00, p 1e-09)']]
    """
    def listed(rows: pd.DataFrame) -> str:
        return "; ".join(f"{r.criterion} (effect {r.effect:.2f}, p {r.p_adjusted:.2g})" for r in rows.itertuples())

    out = []
    judged = judged[judged["verdict"].isin(["leaks", "random"])]
    for scheme, rows in judged.groupby("scheme", sort=False):
        by_adversary = {a: set(part["verdict"]) for a, part in rows.groupby("adversary", sort=False)}
        for clean, verdicts_clean in by_adversary.items():
            for leaky, verdicts_leaky in by_adversary.items():
                if verdicts_clean == {"random"} and "leaks" in verdicts_leaky:
                    out.append({"scheme": scheme, "kind": f"{clean} says random, {leaky} finds a leak",
                                "random": listed(rows[rows["adversary"] == clean]),
                                "leaks": listed(rows[(rows["adversary"] == leaky) & (rows["verdict"] == "leaks")])})
        for family, part in rows.groupby("family", sort=False):
            if set(part["verdict"]) == {"leaks", "random"}:
                out.append({"scheme": scheme, "kind": f"within {family}",
                            "random": listed(part[part["verdict"] == "random"]),
                            "leaks": listed(part[part["verdict"] == "leaks"])})
    return pd.DataFrame(out, columns=["scheme", "kind", "random", "leaks"])


__all__ = ["ALPHA", "disagreements", "power", "power_table", "ATTACK_BASELINES", "IDENTITY", "PAD", "THRESHOLDS", "VERDICTS", "VERDICT_COLUMNS",
           "against_pad", "fisher", "holm", "verdicts"]
