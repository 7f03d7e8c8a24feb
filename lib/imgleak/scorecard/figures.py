"""Figures of the scorecard (the HTML report and the leakage-benchmark chapter): each function
returns a :class:`matplotlib.figure.Figure` made without pyplot, so nothing is drawn on screen or
kept open by accident; a notebook shows one with ``display(fig)``, the report embeds it with
:func:`png_base64`.

>>> scores = pd.DataFrame({"mi": [1.0, 0.0]}, index=["identity", "otp"])
>>> [ax.get_title() for ax in leak_heatmap(scores).axes][:1]
['Leak score (1 = leaks most of these schemes)']
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .analysis import agreement_matrix, summary

ANNOTATE_CELLS = 600
"""Heat maps write the number in each cell up to this many cells."""


def _checked_frame(value: object, name: str) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(value).__name__}")
    if value.empty:
        raise ValueError(f"{name} is empty: nothing to draw")
    return value


def _slanted(ax, size: int) -> None:
    """Column labels slanted and right-aligned under their cell, row labels level."""
    ax.tick_params(axis="y", labelrotation=0, labelsize=size)
    ax.tick_params(axis="x", labelsize=size)
    for label in ax.get_xticklabels():
        label.set_rotation(50)
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")


def _label_inches(labels: Iterable[object], size: int) -> float:
    """About how wide the longest of ``labels`` is, in inches, at font ``size`` (a character ≈ 0.6 em)."""
    return 0.6 * size / 72 * max((len(str(label)) for label in labels), default=0)


def png_base64(figure: Figure, dpi: int = 90) -> str:
    """The figure as a base64-encoded PNG (for an ``<img src="data:image/png;base64,...">``).

    >>> png_base64(Figure(figsize=(1, 1)))[:8]
    'iVBORw0K'
    """
    if not isinstance(figure, Figure):
        raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def leak_heatmap(scores: pd.DataFrame) -> Figure:
    """Schemes (rows) × leakage criteria (columns) coloured by leak score, 0 (leaks least) … 1
    (leaks most); blank where the score is undefined (see :func:`~.analysis.leak_scores`).

    >>> leak_heatmap(pd.DataFrame({"mi": [1.0, 0.0], "npcr": [1.0, np.nan]}, index=["a", "b"])).axes[0].get_xlabel()
    'criterion'
    """
    scores = _checked_frame(scores, "scores")
    rows, columns = scores.shape
    figure = Figure(figsize=(min(2.0 + 0.42 * columns + _label_inches(scores.index, 8), 30), 1.6 + 0.32 * rows))
    ax = figure.add_subplot()
    sns.heatmap(scores.astype(float), ax=ax, vmin=0, vmax=1, cmap="rocket_r", annot=rows * columns <= ANNOTATE_CELLS,
                fmt=".2f", annot_kws={"fontsize": 7}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "leak score"})
    ax.set_xlabel("criterion")
    ax.set_ylabel("scheme")
    _slanted(ax, 8)
    ax.set_title("Leak score (1 = leaks most of these schemes)")
    figure.tight_layout()
    return figure


def criterion_bars(table: pd.DataFrame, criterion: str) -> Figure:
    """One criterion: each scheme's mean over seeds (bar, ± one standard deviation) and every
    seed's value (dots), an infinite mean written as ±∞ instead of a bar; the title gives the unit
    and which direction leaks more.

    >>> t = pd.DataFrame({"scheme": ["a", "a", "b"], "criterion": "mi", "seed": [0, 1, 0], "value": [1.0, 1.2, 0.1],
    ...                   "unit": "bits", "leaks_more": "higher"})
    >>> criterion_bars(t, "mi").axes[0].get_xlabel()
    'bits'
    """
    _checked_frame(table, "table")
    means = summary(table)
    means = means[means["criterion"] == criterion]
    if means.empty:
        raise ValueError(f"table has no values for criterion {criterion!r}")
    seeds = table[(table["criterion"] == criterion) & table["scheme"].isin(means["scheme"])]
    seeds = seeds[np.isfinite(pd.to_numeric(seeds["value"], errors="coerce").astype(float))]
    unit, direction = means["unit"].iloc[0], means["leaks_more"].iloc[0]
    figure = Figure(figsize=(max(6.0, 4.0 + _label_inches(means["scheme"], 8)), 1.2 + 0.28 * len(means)))
    ax = figure.add_subplot()
    order = list(means["scheme"])
    finite = np.isfinite(means["mean"].astype(float)).to_numpy()
    ax.barh(order, means["mean"].where(finite, np.nan), xerr=means["sd"].where(finite, np.nan),
            color=sns.color_palette()[0], alpha=0.55, error_kw={"elinewidth": 1, "capsize": 2})
    for row, mean in enumerate(means["mean"].astype(float)):  # an infinite mean (e.g. an unbounded key space)
        if not finite[row]:
            ax.annotate("+∞" if mean > 0 else "−∞" if mean < 0 else "undefined", (0, row), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=8)
    ax.scatter(seeds["value"].astype(float), [order.index(s) for s in seeds["scheme"]], s=10, color="0.15", zorder=3,
               label="one seed")
    ax.invert_yaxis()
    ax.set_xlabel(unit or "value")
    ax.tick_params(axis="y", labelsize=8)
    leaks = {"higher": "higher leaks more", "lower": "lower leaks more"}.get(direction, "not a leakage measure")
    ax.set_title(f"{criterion} ({leaks})", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    figure.tight_layout()
    return figure


def agreement_heatmap(agreement: pd.DataFrame) -> Figure:
    """Kendall's τ between every pair of leakage criteria (:func:`~.analysis.criteria_agreement`),
    from −1 (opposite rankings of the schemes) to 1 (the same ranking).

    >>> pairs = pd.DataFrame({"criterion_a": ["mi"], "criterion_b": ["ssim"], "tau": [0.5]})
    >>> agreement_heatmap(pairs).axes[0].get_title()
    "Kendall's τ between criteria, across schemes"
    """
    matrix = agreement_matrix(_checked_frame(agreement, "agreement"))
    n = len(matrix)
    figure = Figure(figsize=(min(2.5 + 0.42 * n, 24), min(2.0 + 0.38 * n, 22)))
    ax = figure.add_subplot()
    mask = np.triu(np.ones(matrix.shape, dtype=bool), k=1)
    sns.heatmap(matrix.astype(float), ax=ax, mask=mask, vmin=-1, vmax=1, cmap="vlag", annot=n * n <= ANNOTATE_CELLS,
                fmt=".2f", annot_kws={"fontsize": 6}, square=True, cbar_kws={"label": "τ"})
    _slanted(ax, 7)
    ax.set_title("Kendall's τ between criteria, across schemes")
    figure.tight_layout()
    return figure


def utility_leakage_plot(frame: pd.DataFrame, plain: float | None = None) -> Figure:
    """Accuracy on encrypted images against mean leak score (:func:`~.analysis.utility_vs_leakage`),
    one labelled point per scheme, the Pareto front (schemes no other beats on both) joined by a
    line, and the accuracy on ``plain`` images as a dashed line when given.

    >>> f = pd.DataFrame({"accuracy": [0.9, 0.1], "leak": [1.0, 0.0], "pareto": [True, True]}, index=["a", "b"])
    >>> utility_leakage_plot(f).axes[0].get_xlabel()
    'mean leak score (0 = leaks least)'
    """
    frame = _checked_frame(frame, "frame")
    figure = Figure(figsize=(6.5, 4.5))
    ax = figure.add_subplot()
    on_front = frame["pareto"].astype(bool)
    ax.scatter(frame.loc[~on_front, "leak"], frame.loc[~on_front, "accuracy"], color="0.55", label="dominated")
    front = frame[on_front].sort_values("leak")
    ax.plot(front["leak"], front["accuracy"], "o-", color=sns.color_palette()[3], label="Pareto front")
    if plain is not None:
        ax.axhline(float(plain), color="0.3", ls="--", lw=1, label="plain images")
    for scheme, row in frame.iterrows():
        ax.annotate(str(scheme), (row["leak"], row["accuracy"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("mean leak score (0 = leaks least)")
    ax.set_ylabel("accuracy on encrypted images")
    ax.legend(fontsize=8)
    ax.set_title("Utility against leakage")
    figure.tight_layout()
    return figure


__all__ = ["agreement_heatmap", "criterion_bars", "leak_heatmap", "png_base64", "utility_leakage_plot"]
