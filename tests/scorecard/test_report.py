"""The scorecard's files: CSV and JSON that give the table back, a self-contained HTML report,
and no file ever overwritten unless asked."""

from __future__ import annotations

import base64
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from imgleak.scorecard import analysis, figures
from imgleak.scorecard.base import Measurement
from imgleak.scorecard.report import FILES, render_html, write_report

MEASURES = [("mi", "bits", "higher", ""), ("npcr_test", "%", "lower", "pass"), ("accuracy", "", "none", "")]
VALUES = {"identity": [3.0, 0.0, 0.95], "otp": [0.0, 99.6, 0.1], "rvt": [1.0, 99.0, 0.9]}


@pytest.fixture
def table() -> pd.DataFrame:
    rows = []
    for scheme, values in VALUES.items():
        for (criterion, unit, direction, verdict), value in zip(MEASURES, values):
            for seed in (0, 1):
                v = "fail" if verdict and scheme == "identity" else verdict
                m = Measurement(criterion, value + 0.01 * seed, unit, direction, {"images": 4, "seed": seed}, v)
                rows.append({"scheme": scheme, **m.to_row(), "seed": seed, "seconds": 0.5,
                             "cell": f"{scheme}--{criterion}--seed{seed}", "error": ""})
    rows.append({"scheme": "tn_gan", "criterion": "mi", "seed": 0, "value": math.nan, "unit": "", "leaks_more": "higher",
                 "setting": "{}", "verdict": "", "seconds": 0.1, "cell": "tn_gan--mi--seed0",
                 "error": "ValueError: images of 24x24 are too small for <tn_gan>"})
    return pd.DataFrame(rows)


PROVENANCE = {"versions": {"imgleak": "0.1.0"}, "seeds": [0, 1], "device": "cpu", "budget": "quick",
              "seconds_per_cell": {"rvt/mi/0": 0.5}}


def test_writes_three_files_that_give_the_table_back(table, tmp_path):
    out = tmp_path / "run"
    paths = write_report(table, PROVENANCE, out)
    assert paths == {kind: out / name for kind, name in FILES.items()}
    back = pd.read_csv(paths["csv"], keep_default_na=False, na_values=[""])
    np.testing.assert_allclose(back["value"], table["value"])
    assert back["scheme"].tolist() == table["scheme"].tolist()
    assert back["setting"].tolist()[:1] == ['{"images": 4, "seed": 0}']
    document = json.loads(paths["json"].read_text())
    assert document["provenance"] == PROVENANCE
    assert document["rows"][-1]["value"] is None  # NaN written as null, the file stays strict JSON
    rows = pd.DataFrame(document["rows"])
    rows["p_value"] = rows["p_value"].astype(float)  # NaN written as null
    assert list(rows.columns) == list(table.columns) and len(rows) == len(table)
    pd.testing.assert_frame_equal(rows.iloc[:-1].reset_index(drop=True), table.iloc[:-1].reset_index(drop=True),
                                  check_dtype=False)


def test_never_overwrites_unless_asked(table, tmp_path):
    (tmp_path / "report.html").write_text("an earlier report")
    with pytest.raises(FileExistsError, match="report.html exists"):
        write_report(table, PROVENANCE, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # nothing written before refusing
    assert (tmp_path / "report.html").read_text() == "an earlier report"
    paths = write_report(table, PROVENANCE, tmp_path, overwrite=True)
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES.values())  # no temporary left behind


def test_report_is_self_contained_and_shows_every_part(table):
    page = render_html(table, PROVENANCE)
    assert not re.search(r"https?://|<script|<link|@import", page)
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 1 + 3  # the heat map and one bar chart per criterion with a value
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "Other numbers" in page and "0.955 ± 0.0071" in page  # accuracy, not a leakage criterion
    assert "pass 2/2" in page and "fail 2/2" in page  # npcr_test verdicts: identity fails, the others pass
    assert "too small for &lt;tn_gan&gt;" in page and "Failed cells (1)" in page  # errors escaped
    assert "&quot;device&quot;: &quot;cpu&quot;" in page  # provenance


def test_heat_map_shows_the_leak_scores(table):
    scores = analysis.leak_scores(table)
    assert list(scores.columns) == ["mi", "npcr_test"]
    mesh = figures.leak_heatmap(scores).axes[0].collections[0]
    np.testing.assert_allclose(np.ma.filled(mesh.get_array(), np.nan).reshape(scores.shape), scores.to_numpy())
    assert scores.loc["identity"].tolist() == [1.0, 1.0] and scores.loc["otp"].tolist() == [0.0, 0.0]


def test_bars_show_mean_and_every_seed(table):
    ax = figures.criterion_bars(table, "mi").axes[0]
    widths = [patch.get_width() for patch in ax.patches]
    np.testing.assert_allclose(widths, [3.005, 0.005, 1.005])  # means over the two seeds; tn_gan failed
    assert len(ax.collections[-1].get_offsets()) == 6
    assert ax.get_title() == "mi (higher leaks more)"
    with pytest.raises(ValueError, match="'entropy'"):
        figures.criterion_bars(table, "entropy")


def test_a_users_long_scheme_names_get_room_in_the_figures(table):
    """A user's scheme is named ``module:function``: the axes keep their width beside its label."""
    long = "my_lab_schemes.block_ciphers.experimental:xor_first_byte_with_a_key"
    table = table.replace({"scheme": {"rvt": long}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when tight_layout cannot fit the labels
        heat = figures.leak_heatmap(analysis.leak_scores(table))
        bars = figures.criterion_bars(table, "mi")
    for figure in (heat, bars):
        figure.canvas.draw()
        axes = figure.axes[0].get_window_extent()
        assert axes.x0 > 0 and axes.width > 0.25 * figure.bbox.width  # labels left of the axes, axes not squeezed


def test_utility_plot_joins_the_pareto_front_and_marks_plain_accuracy():
    frame = pd.DataFrame({"accuracy": [0.95, 0.9, 0.5, 0.1], "leak": [1.0, 0.4, 0.6, 0.0],
                          "pareto": [True, True, False, True]}, index=["identity", "rvt", "perm", "otp"])
    ax = figures.utility_leakage_plot(frame, plain=0.97).axes[0]
    front = [line for line in ax.get_lines() if line.get_label() == "Pareto front"][0]
    assert front.get_xdata().tolist() == [0.0, 0.4, 1.0]  # sorted by leak score
    assert [line.get_ydata()[0] for line in ax.get_lines() if line.get_label() == "plain images"] == [0.97]
    assert sorted(t.get_text() for t in ax.texts) == sorted(frame.index)
    with pytest.raises(ValueError, match="frame is empty"):
        figures.utility_leakage_plot(frame.iloc[:0])


def test_agreement_heatmap_is_symmetric_tau_with_the_upper_triangle_hidden(table):
    agreement = analysis.criteria_agreement(table)
    mesh = figures.agreement_heatmap(agreement).axes[0].collections[0]
    shown = mesh.get_array()
    assert shown.count() == 3  # 2 criteria: the diagonal and one pair below it
    assert sorted(shown.compressed().tolist()) == pytest.approx(sorted([1.0, 1.0, agreement["tau"].iloc[0]]))


def test_a_run_where_every_cell_failed_still_gets_a_report(table, tmp_path):
    failed = table.assign(value=math.nan, error="RuntimeError: no GPU")
    page = write_report(failed, {}, tmp_path)["html"].read_text()
    assert "No leakage criterion has a value" in page and f"Failed cells ({len(table)})" in page


def test_bad_arguments_are_refused_by_name(table, tmp_path):
    with pytest.raises(TypeError, match="table must be a pandas DataFrame"):
        write_report(table.to_dict(), {}, tmp_path)
    with pytest.raises(ValueError, match="lacks the column"):
        write_report(table.drop(columns="scheme"), {}, tmp_path)
    with pytest.raises(TypeError, match="provenance must be a dict"):
        write_report(table, [("seed", 0)], tmp_path)
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        write_report(table, {}, tmp_path, overwrite="yes")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="out_dir .* is a file"):
        write_report(table, {}, tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
