"""The scorecard's output files: ``scorecard.csv`` (the table), ``verdicts.csv`` (one row per
scheme × measurement, judged against the controls: :mod:`imgleak.scorecard.verdicts`),
``scorecard.json`` (its rows, the verdicts and the run's provenance) and ``report.html``, a
self-contained page (figures inlined as PNG, no script, no link outside it) that opens with the
verdict table and the disagreements, then the heat map of leak scores (relative to the run), the non-leakage numbers, the
statistical tests' verdicts, one bar chart per criterion with the spread over seeds, the cells
that failed with their error, and the provenance.

An existing file is never replaced unless ``overwrite=True`` (``imgleak evaluate --resume``
rewrites the report from the finished table).

>>> import tempfile
>>> t = pd.DataFrame({"scheme": ["identity", "otp"], "criterion": "mi", "seed": 0, "value": [3.0, 0.0],
...                   "unit": "bits", "leaks_more": "higher", "setting": "{}", "verdict": "", "error": ""})
>>> with tempfile.TemporaryDirectory() as out:
...     sorted(write_report(t, {"seeds": [0]}, out))
['csv', 'html', 'json', 'verdicts']
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._checks import boolean
from .analysis import REQUIRED, leak_scores, summary, verdicts
from .figures import criterion_bars, leak_heatmap, png_base64
from .verdicts import ALPHA, disagreements
from .verdicts import verdicts as judge

FILES = {"csv": "scorecard.csv", "verdicts": "verdicts.csv", "json": "scorecard.json", "html": "report.html"}
"""The files :func:`write_report` writes in its folder, by key of the dict it returns."""

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.8em}
.pass{color:#176917}.fail{color:#a11}td.leaks{background:#f4c7c3}td.random{background:#cde8cd}
td.inconclusive{background:#eee;color:#666}.bars{display:flex;flex-wrap:wrap;gap:8px}.bars img{max-width:48%}"""


def _checked_table(table: Any) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (the scorecard), got {type(table).__name__}")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}; a scorecard table has {list(REQUIRED)} and more")
    return table


def _filled(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its text columns present and without missing values (for display only)."""
    table = table.copy()
    for column in ("unit", "setting", "verdict", "error"):
        if column not in table.columns:
            table[column] = ""
        table[column] = table[column].fillna("").astype(str)
    return table


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars as Python ones, NaN and infinities as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table_html(frame: pd.DataFrame, **options: Any) -> str:
    return frame.to_html(escape=True, border=0, na_rep="—", **options)


def _figure_html(figure: Any, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64(figure)}">'


def _heatmap_section(table: pd.DataFrame) -> str:
    scores = leak_scores(table)
    if scores.empty or scores.shape[1] == 0:
        return "<h2>Leak scores</h2><p>No leakage criterion has a value.</p>"
    note = ("<p>Each leakage criterion's mean over seeds, rescaled across these schemes: 0 = leaks least, "
            "1 = leaks most (<code>leaks_more</code> says which way that is); blank: every scheme measures the "
            "same, or the cell failed.</p>")
    return "<h2>Leak scores</h2>" + note + _figure_html(leak_heatmap(scores), "leak score heat map")


def _other_numbers_section(means: pd.DataFrame, judged: pd.DataFrame) -> str:
    other = means[means["leaks_more"] == "none"]
    if other.empty:
        return ""
    flagged = judged[judged["criterion"].isin(set(other["criterion"])) & (judged["note"].astype(str) != "")]
    flags = "".join(f"<li><b>{html.escape(str(r.scheme))}</b>, {html.escape(r.criterion)}: {html.escape(str(r.note))}</li>"
                    for r in flagged.itertuples())
    cells = other.assign(text=[f"{m:.4g} ± {s:.2g} {u}".strip() for m, s, u in zip(other["mean"], other["sd"],
                                                                                   other["unit"])])
    wide = cells.pivot(index="scheme", columns="criterion", values="text")
    wide = wide.reindex(index=list(pd.unique(other["scheme"])), columns=list(pd.unique(other["criterion"])))
    return ("<h2>Other numbers (utility, key, cost)</h2><p>Not leakage measures: mean ± sd over seeds.</p>"
            + _table_html(wide) + (f"<p>Read with care:</p><ul>{flags}</ul>" if flags else ""))


def _verdict_cell(row: Any) -> str:
    if not row.verdict:
        return "<td></td>"
    effect = "" if not math.isfinite(row.effect) else f"effect {row.effect:.2f}"
    p = "" if not math.isfinite(row.p_adjusted) else f"p<sub>adj</sub> {row.p_adjusted:.2g}"
    detail = ", ".join(x for x in (effect, p) if x)
    return (f'<td class="{row.verdict}" title="{html.escape(str(row.note))}"><b>{row.verdict}</b>'
            + (f"<br><small>{detail}</small>" if detail else "") + "</td>")


def _judged_section(judged: pd.DataFrame) -> str:
    """The verdict table: scheme × measurement, grouped by adversary, coloured by verdict."""
    shown = judged[judged["verdict"] != ""]
    if shown.empty:
        return "<h2>Verdicts</h2><p>No leakage measurement to judge.</p>"
    columns = shown.drop_duplicates("criterion").sort_values(["adversary", "family"], kind="stable")
    lookup = shown.set_index(["scheme", "criterion"])
    head = ("<tr><th rowspan=2>scheme</th>" + "".join(
        f"<th colspan={len(part)}>{html.escape(a)}</th>" for a, part in columns.groupby("adversary", sort=False))
        + "</tr><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns["criterion"]) + "</tr>")
    body = []
    for scheme in pd.unique(shown["scheme"]):
        cells = [_verdict_cell(lookup.loc[(scheme, c)]) if (scheme, c) in lookup.index else "<td></td>"
                 for c in columns["criterion"]]
        body.append(f"<tr><th>{html.escape(str(scheme))}</th>{''.join(cells)}</tr>")
    explain = (f"<p>Each measurement judged against the controls, seeds pooled: <b>leaks</b> (Holm-adjusted "
               f"one-sided p &lt; {ALPHA} across the scheme's measurements), <b>random</b> (indistinguishable "
               "from random at this budget), <b>inconclusive</b> (the identity and one-time-pad controls are not "
               "separated, so the criterion cannot judge anyone here — not a sign of security). Effect: 0 = the "
               "pad, 1 = no encryption. Hover a cell for its null and notes; columns are grouped by the "
               "attacker each measurement assumes.</p>")
    notes = shown[shown["verdict"] == "inconclusive"].drop_duplicates("criterion")
    listed = "".join(f"<li><b>{html.escape(r.criterion)}</b>: {html.escape(str(r.note))}</li>" for r in notes.itertuples())
    return ("<h2>Verdicts</h2>" + explain + f"<table>{head}{''.join(body)}</table>"
            + (f"<h3>Why some criteria are inconclusive</h3><ul>{listed}</ul>" if listed else ""))


def _disagreements_section(judged: pd.DataFrame) -> str:
    found = disagreements(judged)
    if found.empty:
        return "<h2>Disagreements</h2><p>Every scheme's judged measurements agree.</p>"
    return ("<h2>Disagreements</h2><p>Where one scheme's measurements disagree: one attacker finds a leak that "
            "another's measurements call random, or one family is split.</p>" + _table_html(found, index=False))


def _verdicts_section(table: pd.DataFrame) -> str:
    counts = verdicts(table)
    if counts.empty:
        return ""
    counts["text"] = [f"pass {p}/{n}" if p * 2 >= n else f"fail {n - p}/{n}"
                      for p, n in zip(counts["passed"], counts["seeds"])]
    wide = counts.pivot(index="scheme", columns="test", values="text")
    wide = wide.reindex(index=list(pd.unique(counts["scheme"])), columns=list(pd.unique(counts["test"])))
    return ("<h2>Statistical tests, seed by seed</h2><p>Verdicts over seeds: “pass 2/3” — the test called the cipher "
            "images random in 2 of 3 seeds.</p>" + _table_html(wide))


def _bars_section(table: pd.DataFrame, means: pd.DataFrame) -> str:
    images = [_figure_html(criterion_bars(table, c), f"{c} by scheme") for c in pd.unique(means["criterion"])]
    return "<h2>Every criterion</h2><div class=\"bars\">" + "".join(images) + "</div>" if images else ""


def _failures_section(table: pd.DataFrame) -> str:
    failed = table[table["error"].str.len() > 0]
    if failed.empty:
        return "<h2>Failed cells</h2><p>None.</p>"
    shown = failed[["scheme", "criterion", "seed", "error"]].drop_duplicates()
    return f"<h2>Failed cells ({len(shown)})</h2>" + _table_html(shown, index=False)


def render_html(table: pd.DataFrame, provenance: Mapping[str, Any]) -> str:
    """The report as one HTML page (no external resource: figures are inline PNG data).

    >>> t = pd.DataFrame({"scheme": ["a", "b"], "criterion": "x", "seed": 0, "value": [1.0, float("nan")],
    ...                   "leaks_more": "higher", "error": ["", "ValueError: <bad>"]})
    >>> page = render_html(t, {})
    >>> "ValueError: &lt;bad&gt;" in page, "http" in page
    (True, False)
    """
    table = _filled(_checked_table(table))
    if not isinstance(provenance, Mapping):
        raise TypeError(f"provenance must be a dict, got {type(provenance).__name__}")
    means = summary(table)
    schemes, criteria = pd.unique(table["scheme"]), pd.unique(table["criterion"])
    failed = int((table["error"].str.len() > 0).sum())
    head = (f"<p>{len(schemes)} scheme(s) × {len(criteria)} measurement(s) × seeds "
            f"{', '.join(map(str, sorted(pd.unique(table['seed']))))}: {len(table)} row(s), {failed} failed.</p>")
    judged = judge(table)
    sections = [head, _judged_section(judged), _disagreements_section(judged),
                _heatmap_section(table).replace("<h2>Leak scores</h2>", "<h2>Leak scores (relative to this run)</h2>"),
                _other_numbers_section(means, judged), _verdicts_section(table),
                _bars_section(table, means), _failures_section(table),
                "<h2>Provenance</h2><pre>" + html.escape(json.dumps(_plain(provenance), indent=2, default=str))
                + "</pre>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>imgleak scorecard</title>"
            f"<style>{STYLE}</style></head><body><h1>imgleak scorecard</h1>\n" + "\n".join(s for s in sections if s)
            + "\n</body></html>\n")


def _write(path: Path, text: str, overwrite: bool) -> None:
    if overwrite:
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    else:
        with open(path, "x", encoding="utf-8") as handle:  # refuses, atomically, a file that appeared meanwhile
            handle.write(text)


def write_report(table: pd.DataFrame, provenance: Mapping[str, Any], out_dir: str | os.PathLike, *,
                 overwrite: bool = False) -> dict[str, Path]:
    """Write ``scorecard.csv``, ``scorecard.json`` (``{"provenance": ..., "rows": [...]}``, the rows
    as the table holds them, NaN as null) and ``report.html`` into ``out_dir`` (created if missing);
    return their paths by kind. Raises ``FileExistsError`` naming the file when one exists and
    ``overwrite`` is False, before writing anything.

    >>> import tempfile
    >>> t = pd.DataFrame({"scheme": ["a"], "criterion": "x", "seed": 0, "value": [1.0], "leaks_more": "none"})
    >>> with tempfile.TemporaryDirectory() as out:
    ...     paths = write_report(t, {}, out)
    ...     json.loads(paths["json"].read_text())["rows"][0]["value"]
    1.0
    """
    table = _checked_table(table)
    if not isinstance(provenance, Mapping):
        raise TypeError(f"provenance must be a dict, got {type(provenance).__name__}")
    overwrite = boolean(overwrite, "overwrite")
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a folder path, got {type(out_dir).__name__}")
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out_dir {str(folder)!r} is a file, not a folder")
    paths = {kind: folder / name for kind, name in FILES.items()}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; refusing to overwrite it (pass overwrite=True, i.e. --resume)")
    page = render_html(table, provenance)  # before writing: a failure leaves no partial report
    judged = judge(table)
    rows = [_plain(row) for row in table.to_dict(orient="records")]
    document = json.dumps({"provenance": _plain(dict(provenance)), "rows": rows,
                           "verdicts": [_plain(row) for row in judged.to_dict(orient="records")]},
                          indent=1, default=str, allow_nan=False)
    folder.mkdir(parents=True, exist_ok=True)
    _write(paths["csv"], table.to_csv(index=False), overwrite)
    _write(paths["verdicts"], judged.to_csv(index=False), overwrite)
    _write(paths["json"], document + "\n", overwrite)
    _write(paths["html"], page, overwrite)
    return paths


__all__ = ["FILES", "render_html", "write_report"]
