"""The numbers the benchmark chapter discusses, on synthetic scorecard tables whose answers are
known in closed form (rankings, Kendall's τ and its exact p-value, Pareto fronts)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from imgleak.scorecard import analysis
from imgleak.scorecard.base import Measurement


def _table(values: dict[str, dict[str, list[float]]], directions: dict[str, str],
           verdicts: dict[tuple[str, str], list[str]] | None = None) -> pd.DataFrame:
    """A scorecard table shaped like the runner's: values[scheme][criterion] lists one value per seed."""
    rows = []
    for scheme, by_criterion in values.items():
        for criterion, per_seed in by_criterion.items():
            for seed, value in enumerate(per_seed):
                verdict = (verdicts or {}).get((scheme, criterion), [""] * len(per_seed))[seed]
                m = Measurement(criterion, value, "u", directions[criterion], {"seed": seed}, verdict)
                rows.append({"scheme": scheme, **m.to_row(), "seed": seed, "seconds": 0.1,
                             "cell": f"{scheme}--{criterion}--seed{seed}", "error": ""})
    return pd.DataFrame(rows)[["scheme", "criterion", "seed", "value", "unit", "leaks_more", "setting", "verdict",
                               "seconds", "cell", "error"]]


DIRECTIONS = {"mi": "higher", "entropy": "lower", "ssim": "higher", "flat": "higher", "accuracy": "none"}


@pytest.fixture
def table() -> pd.DataFrame:
    return _table({
        "identity": {"mi": [3.0, 3.2], "entropy": [7.0, 7.0], "ssim": [1.0, 1.0], "flat": [1, 1], "accuracy": [0.9, 0.9]},
        "rvt": {"mi": [1.0, 1.2], "entropy": [7.5, 7.7], "ssim": [0.4, 0.6], "flat": [1, 1], "accuracy": [0.8, 0.9]},
        "perm": {"mi": [2.0, 2.0], "entropy": [7.0, 7.0], "ssim": [0.3, 0.3], "flat": [1, 1], "accuracy": [0.5, 0.5]},
        "otp": {"mi": [0.1, 0.1], "entropy": [8.0, 8.0], "ssim": [0.0, 0.0], "flat": [1, 1], "accuracy": [0.1, 0.1]},
    }, DIRECTIONS)


def test_leak_scores_are_rescaled_means_with_the_controls_at_the_ends(table):
    scores = analysis.leak_scores(table)
    assert list(scores.index) == ["identity", "rvt", "perm", "otp"]
    assert list(scores.columns) == ["mi", "entropy", "ssim", "flat"]  # accuracy is not a leakage criterion
    # mi means 3.1, 1.1, 2.0, 0.1 -> (m - 0.1) / 3.0
    np.testing.assert_allclose(scores["mi"], [1.0, 1.0 / 3, 1.9 / 3, 0.0])
    # entropy leaks more when lower: means 7, 7.6, 7, 8 -> (8 - m) / 1
    np.testing.assert_allclose(scores["entropy"], [1.0, 0.4, 1.0, 0.0])
    assert (scores.loc["identity", ["mi", "entropy", "ssim"]] == 1).all()
    assert (scores.loc["otp", ["mi", "entropy", "ssim"]] == 0).all()
    assert scores["flat"].isna().all()  # every scheme measures the same: nobody leaks more


def test_controls_are_checked_at_both_ends_within_a_tolerance(table):
    ends = analysis.controls(analysis.leak_scores(table), "identity", "otp")
    assert list(ends.index) == ["mi", "entropy", "ssim"]  # flat ranks nothing
    assert ends["top_ok"].all() and ends["bottom_ok"].all()
    shifted = analysis.leak_scores(table).drop(columns="flat")
    shifted.loc["identity", "mi"], shifted.loc["otp", "ssim"] = 0.96, 0.1
    ends = analysis.controls(shifted, "identity", "otp")
    assert ends.loc["mi", "top_ok"] and not ends.loc["ssim", "bottom_ok"]  # 0.04 from the top is within 0.05
    assert not analysis.controls(shifted, "identity", "otp", tolerance=0.01).loc["mi", "top_ok"]
    with pytest.raises(ValueError, match=r"control\(s\) \['one_time_pad'\]"):
        analysis.controls(shifted)  # the default pad's name is the library's, absent here


def test_failed_cells_are_left_out(table):
    failed = pd.DataFrame([{**table.iloc[0].to_dict(), "value": math.nan, "seed": 2, "error": "RuntimeError: boom"},
                           {**table.iloc[0].to_dict(), "value": 1e9, "seed": 3, "error": "ValueError: bad"}])
    with_failures = pd.concat([table, failed], ignore_index=True)
    pd.testing.assert_frame_equal(analysis.leak_scores(with_failures), analysis.leak_scores(table))
    means = analysis.summary(with_failures)
    row = means[(means["scheme"] == "identity") & (means["criterion"] == "mi")].iloc[0]
    assert row["seeds"] == 2 and row["mean"] == pytest.approx(3.1) and row["sd"] == pytest.approx(math.sqrt(0.02))


def test_a_criterion_with_two_directions_is_refused(table):
    broken = table.copy()
    broken.loc[(broken["scheme"] == "otp") & (broken["criterion"] == "mi"), "leaks_more"] = "lower"
    with pytest.raises(ValueError, match="'mi' two directions"):
        analysis.leak_scores(broken)


def test_kendall_tau_is_oriented_by_direction_and_matches_closed_forms(table):
    agreement = analysis.criteria_agreement(table).set_index(["criterion_a", "criterion_b"])
    assert len(agreement) == 6  # 4 leakage criteria: every pair once
    # mi orders identity > perm > rvt > otp, ssim orders identity > rvt > perm > otp: one discordant pair of 6
    assert agreement.loc[("mi", "ssim"), "tau"] == pytest.approx(4 / 6)
    assert agreement.loc[("mi", "ssim"), "schemes"] == 4
    assert np.isnan(agreement.loc[("mi", "flat"), "tau"])  # a constant criterion ranks nothing


def test_identical_rankings_give_tau_one_with_the_exact_p_value():
    # entropy leaks more when lower, so the reversed values rank the four schemes as mi does
    t = _table({s: {"mi": [v], "entropy": [10 - v]} for s, v in zip("abcd", [4.0, 3.0, 2.0, 1.0])}, DIRECTIONS)
    row = analysis.criteria_agreement(t).iloc[0]
    assert row["tau"] == pytest.approx(1.0)
    assert row["p_value"] == pytest.approx(2 / 24)  # exact: 2 of the 4! orderings are as extreme
    t2 = _table({s: {"mi": [v], "ssim": [-v]} for s, v in zip("abcd", [4.0, 3.0, 2.0, 1.0])}, DIRECTIONS)
    assert analysis.criteria_agreement(t2).iloc[0]["tau"] == pytest.approx(-1.0)


def test_agreement_counts_only_schemes_both_criteria_rank():
    t = _table({"a": {"mi": [3.0], "ssim": [0.9]}, "b": {"mi": [2.0], "ssim": [0.5]}, "c": {"mi": [1.0]},
                "d": {"mi": [0.0], "ssim": [0.1]}}, DIRECTIONS)
    row = analysis.criteria_agreement(t).iloc[0]
    assert row["schemes"] == 3 and row["tau"] == pytest.approx(1.0)
    matrix = analysis.agreement_matrix(analysis.criteria_agreement(t))
    assert matrix.loc["ssim", "mi"] == matrix.loc["mi", "ssim"] == pytest.approx(1.0)


def test_family_agreement_groups_pairs_by_the_cell_that_measured_them(table):
    agreement = analysis.criteria_agreement(table)
    cells = analysis.cell_criteria(table)
    assert cells == {c: c for c in ["mi", "entropy", "ssim", "flat", "accuracy"]}  # _table: one measurement a cell
    families = {"mi": "information", "entropy": "statistical", "ssim": "attacks", "flat": "statistical"}
    grouped = analysis.family_agreement(agreement, families).set_index(["family_a", "family_b"])
    assert grouped.loc[("attacks", "information"), "mean_tau"] == pytest.approx(4 / 6)
    assert grouped.loc[("attacks", "information"), "pairs"] == 1
    assert ("statistical", "statistical") not in grouped.index  # entropy x flat: no τ (flat is constant)
    assert grouped["pairs"].sum() == agreement["tau"].notna().sum()
    with pytest.raises(ValueError, match="not <scheme>--<criterion>--seed<n>"):
        analysis.cell_criteria(table.assign(cell="identity/mi/0"))
    with pytest.raises(TypeError, match="families must map"):
        analysis.family_agreement(agreement, ["mi"])


TESTED = {"chi2": "lower", "best_attack_ssim": "higher", "grey_ssim": "none", "histogram_mi": "higher"}


def _verdict_table() -> pd.DataFrame:
    values = {
        "identity": {"chi2": [0.0, 0.0], "best_attack_ssim": [1.0, 1.0], "grey_ssim": [0.1, 0.1], "histogram_mi": [5.0, 5.0]},
        "perm": {"chi2": [0.5, 0.4], "best_attack_ssim": [0.6, 0.5], "grey_ssim": [0.1, 0.1], "histogram_mi": [0.4, 0.4]},
        "weak": {"chi2": [0.5, 0.4], "best_attack_ssim": [0.12, 0.13], "grey_ssim": [0.1, 0.1], "histogram_mi": [0.3, 0.3]},
        "one_time_pad": {"chi2": [0.5, 0.6], "best_attack_ssim": [0.1, 0.1], "grey_ssim": [0.1, 0.1], "histogram_mi": [0.3, 0.3]},
    }
    verdicts = {("identity", "chi2"): ["fail", "fail"], ("perm", "chi2"): ["pass", "fail"],
                ("weak", "chi2"): ["pass", "pass"], ("one_time_pad", "chi2"): ["pass", "pass"]}
    return _table(values, TESTED, verdicts)


def test_verdicts_count_the_seeds_each_test_passed():
    counts = analysis.verdicts(_verdict_table())
    assert counts[["scheme", "test", "passed", "seeds"]].values.tolist() == [
        ["identity", "chi2", 0, 2], ["perm", "chi2", 1, 2], ["weak", "chi2", 2, 2], ["one_time_pad", "chi2", 2, 2]]
    assert counts["pass_share"].tolist() == [0.0, 0.5, 1.0, 1.0]


def test_utility_vs_leakage_and_its_pareto_front(table):
    frame = analysis.utility_vs_leakage(table)  # the utility criterion's accuracy
    scores = analysis.leak_scores(table)
    np.testing.assert_allclose(frame["leak"], scores.mean(axis=1))
    assert frame.loc["rvt", "accuracy"] == pytest.approx(0.85)
    assert frame["criteria"].tolist() == [3, 3, 3, 3]  # the constant criterion has no score
    # identity: best accuracy; otp: least leakage; rvt leaks less than perm with higher accuracy
    assert frame["pareto"].to_dict() == {"identity": True, "rvt": True, "perm": False, "otp": True}
    with pytest.raises(ValueError, match="utility criterion 'top5'"):
        analysis.utility_vs_leakage(table, utility="top5")
    with pytest.raises(TypeError, match="utility must be a criterion name"):
        analysis.utility_vs_leakage(table, utility=None)


def test_pareto_front_ties_and_missing_values():
    f = pd.DataFrame({"acc": [0.5, 0.5, 0.4, np.nan], "leak": [0.2, 0.2, 0.1, 0.0]}, index=list("abcd"))
    assert analysis.pareto_front(f, "acc", "leak").to_dict() == {"a": True, "b": True, "c": True, "d": False}


def test_default_names_are_those_the_criteria_and_schemes_use():
    import inspect

    from imgleak.scorecard import schemes, utility

    assert analysis.REFERENCE == schemes.ONE_TIME_PAD
    assert f'Measurement("{analysis.UTILITY}"' in inspect.getsource(utility)


def test_bad_tables_are_refused_by_name(table):
    with pytest.raises(TypeError, match="table must be a pandas DataFrame"):
        analysis.leak_scores(table.to_dict())
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['leaks_more'\]"):
        analysis.criteria_agreement(table.drop(columns="leaks_more"))
    with pytest.raises(ValueError, match="'verdict'"):
        analysis.verdicts(table.drop(columns="verdict"))


def test_agreement_is_kendall_tau_b_with_ties():
    """mi ranks a > b = c > d, ssim ranks a = b > c > d: 4 concordant pairs, none discordant, one pair tied in
    each criterion only, so τ-b = 4 / √(5 · 5) = 0.8 (τ-a would be 4/6, τ-c 0.75)."""
    t = _table({s: {"mi": [m], "ssim": [v]} for s, m, v in zip("abcd", [3.0, 2.0, 2.0, 1.0], [0.9, 0.9, 0.5, 0.1])},
               DIRECTIONS)
    row = analysis.criteria_agreement(t).iloc[0]
    assert row["tau"] == pytest.approx(0.8, rel=1e-12)
    scores = analysis.leak_scores(t)
    assert row["tau"] == pytest.approx(stats.kendalltau(scores["mi"], scores["ssim"], variant="b").statistic)
    assert row["tau"] != pytest.approx(stats.kendalltau(scores["mi"], scores["ssim"], variant="c").statistic)
