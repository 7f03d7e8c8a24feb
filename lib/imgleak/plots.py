"""Figures shared by the chapters (matplotlib + seaborn); each function returns its Figure."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.patches import Rectangle

from .images import Photo
from .keys import BitBalance


def _as_display(image: torch.Tensor) -> tuple[np.ndarray, str | None]:
    """A ``(C, H, W)`` uint8 tensor as something ``imshow`` shows faithfully, plus its colormap."""
    array = image.detach().cpu().numpy()
    if array.shape[0] == 1:
        return array[0], "gray"
    return array.transpose(1, 2, 0), None


def show_image(ax: plt.Axes, image: torch.Tensor, title: str | None = None) -> None:
    """Draw one ``(C, H, W)`` uint8 image on ``ax`` without axes ticks (0..255 range kept)."""
    array, cmap = _as_display(image)
    ax.imshow(array, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def image_grid(images: Sequence[torch.Tensor], titles: Sequence[str] | None = None,
               columns: int = 4, size: float = 2.6) -> plt.Figure:
    """A grid of ``(C, H, W)`` uint8 images with optional titles."""
    if len(images) == 0:
        raise ValueError("image_grid needs at least one image")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            show_image(ax, images[i], titles[i] if titles else None)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def photo_grid(photos: Sequence[Photo], columns: int = 4) -> plt.Figure:
    """The photographs with their name, size (H×W×C) and source in each title."""
    titles = [f"{p.name}\n{p.size[0]}×{p.size[1]}×{p.image.shape[0]} ({p.source})"
              if len(p.source) < 20 else f"{p.name}\n{p.size[0]}×{p.size[1]}×{p.image.shape[0]}"
              for p in photos]
    return image_grid([p.image for p in photos], titles, columns)


def bit_balance_plot(balance: BitBalance, z: float = 2.576) -> plt.Figure:
    """Share of ones at each bit position of a keystream, with the band a fair coin stays in."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    positions = [f"bit {7 - i}" + (" (MSB)" if i == 0 else " (LSB)" if i == 7 else "") for i in range(8)]
    sns.barplot(x=positions, y=balance.ones_by_position - 0.5, ax=ax, color=sns.color_palette()[0])
    band = balance.tolerance(z)
    ax.axhspan(-band, band, color="0.85", zorder=0, label=f"99 % band of a fair coin (n = {balance.n_bytes:,})")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("share of ones − 0.5")
    ax.set_ylim(-3 * band, 3 * band)
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Keystream bit balance: {balance.ones_fraction:.5f} ones overall, z = {balance.z_score:+.2f}")
    fig.tight_layout()
    return fig


def byte_histogram_plot(stream: np.ndarray) -> plt.Figure:
    """Histogram of keystream byte values against the uniform expectation."""
    counts = np.bincount(np.asarray(stream, dtype=np.uint8), minlength=256)
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    ax.bar(np.arange(256), counts, width=1.0, color=sns.color_palette()[0])
    ax.axhline(len(stream) / 256, color="C3", lw=1, label="uniform expectation")
    ax.set_xlabel("byte value")
    ax.set_ylabel("count")
    ax.set_xlim(-1, 256)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def patch_overlay(image: torch.Tensor, positions: torch.Tensor, size: int, title: str | None = None) -> plt.Figure:
    """An image with numbered squares where its patches were cut."""
    fig, ax = plt.subplots(figsize=(5.5, 5.5 * image.shape[-2] / image.shape[-1]))
    show_image(ax, image, title)
    for i, (row, col) in enumerate(positions.tolist()):
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), size, size, fill=False, lw=1.5, ec="yellow"))
        ax.text(col + 3, row + 3, str(i), color="yellow", fontsize=8, va="top")
    fig.tight_layout()
    return fig


def level_views_figure(views: dict[int, tuple[torch.Tensor, torch.Tensor]], name: str) -> plt.Figure:
    """For every level n: the cipher (top row) and its scaled clear part (bottom row)."""
    levels = sorted(views)
    fig, axes = plt.subplots(2, len(levels), figsize=(1.9 * len(levels), 4.2), squeeze=False)
    for col, n in enumerate(levels):
        cipher, clear = views[n]
        show_image(axes[0, col], cipher, f"n = {n}")
        show_image(axes[1, col], clear)
    axes[0, 0].set_ylabel("cipher E")
    axes[1, 0].set_ylabel("clear part C'")
    fig.suptitle(f"{name}: selective encryption of the n most significant bits", fontsize=11)
    fig.tight_layout()
    return fig


def mi_by_level_plot(table, value: str = "mi_bits", group: str = "source", title: str = "") -> plt.Figure:
    """Mean ± sd of ``value`` against n per ``group``, with the 8 − n bound."""
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    sns.lineplot(data=table, x="n", y=value, hue=group, style=group, markers=True, errorbar="sd", ax=ax)
    levels = sorted(table["n"].unique())
    ax.plot(levels, [8 - n for n in levels], color="0.4", ls=":", label="bound 8 − n")
    ax.set_xlabel("encrypted most significant bits n")
    ax.set_ylabel("mutual information (bits per sample)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def similarity_plot(table, description: str) -> plt.Figure:
    """Cosine similarity per image (left) and MI of rounded features (right) against n."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    sns.lineplot(data=table, x="n", y="cosine", marker="o", errorbar="sd", ax=left)
    left.set_title("(a) cosine similarity of embeddings", fontsize=10)
    per_level = table.drop_duplicates("n")
    sns.lineplot(data=per_level, x="n", y="rounded_mi_bits", marker="o", ax=right)
    right.set_title("(b) MI of rounded features (bits)", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("encrypted most significant bits n")
    fig.suptitle(description, fontsize=11)
    fig.tight_layout()
    return fig


def mine_curves_plot(curves: dict[int, Sequence[float]], distances: dict[int, Sequence[float]],
                     title: str) -> plt.Figure:
    """MINE estimates per epoch for every level (left) and their distance to the top curve (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    palette = sns.color_palette("viridis", len(curves))
    for colour, n in zip(palette, sorted(curves)):
        epochs = range(1, len(curves[n]) + 1)
        left.plot(epochs, curves[n], color=colour, label=f"n = {n}")
        right.plot(epochs, distances[n], color=colour, label=f"n = {n}")
    left.set_ylabel("held-out DV bound (bits)")
    right.set_ylabel("max over levels − this level (bits)")
    left.set_title("MINE estimate", fontsize=10)
    right.set_title("relative distance to the maximum MI", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("epoch")
    right.legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def estimator_sweep_plot(summary, title: str = "") -> plt.Figure:
    """Mean estimate (bits) against n for every estimator, one panel per source, with the band of
    the confidence interval across seeds (none with one seed) and each finite ceiling dashed.

    ``summary`` has ``source, estimator, ceiling_bits, n, mean, ci_low, ci_high`` and optionally
    ``diverged`` (see :func:`imgleak.experiments.selective.sweep_summary`): a level where runs
    diverged gets a red × at the bottom of its panel, and a footnote says they are left out of
    the means.

    >>> import pandas as pd
    >>> summary = pd.DataFrame({"source": "pixels", "estimator": "infonce", "ceiling_bits": 8.0, "n": [0, 8],
    ...                         "mean": [7.9, 0.0], "ci_low": [7.8, -0.1], "ci_high": [8.0, 0.1]})
    >>> [line.get_label() for line in estimator_sweep_plot(summary).axes[0].lines]
    ['infonce', 'infonce ceiling']
    """
    sources = list(dict.fromkeys(summary["source"]))
    estimators = list(dict.fromkeys(summary["estimator"]))
    colours = dict(zip(estimators, sns.color_palette(n_colors=len(estimators))))
    fig, axes = plt.subplots(1, len(sources), figsize=(4.3 * len(sources) + 0.6, 3.8), squeeze=False)
    for ax, source in zip(axes[0], sources):
        for estimator, part in summary[summary["source"] == source].groupby("estimator", sort=False):
            part = part.sort_values("n")
            ax.plot(part["n"], part["mean"], marker="o", color=colours[estimator], label=estimator)
            ax.fill_between(part["n"], part["ci_low"], part["ci_high"], color=colours[estimator], alpha=0.2, lw=0)
            ceiling = float(part["ceiling_bits"].iloc[0])
            if np.isfinite(ceiling):
                ax.axhline(ceiling, color=colours[estimator], ls="--", lw=0.9, label=f"{estimator} ceiling")
            failed = part[part["diverged"] > 0] if "diverged" in part else part.iloc[:0]
            if not failed.empty:
                ax.plot(failed["n"], [0.03] * len(failed), "x", color="red", ms=8, mew=2,
                        transform=ax.get_xaxis_transform(), label=f"{estimator}: runs diverged")
        ax.set_title(source, fontsize=10)
        ax.set_xlabel("encrypted most significant bits n")
    axes[0, 0].set_ylabel("held-out estimate (bits)")
    axes[0, -1].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    diverged = int(summary["diverged"].sum()) if "diverged" in summary else 0
    if diverged:
        fig.text(0.01, 0.005, f"× {diverged} run{'s' if diverged != 1 else ''} diverged: left out of the means "
                 "(listed below the figure)", fontsize=8, color="red", va="bottom")
    fig.tight_layout(rect=(0, 0.04 if diverged else 0, 1, 1))
    return fig


# ------------------------------------------------------------------ RVT and image information


def m_neig_plot(decay: float = 1.0, change_scale: float = 1.0, radius: float = 3.0) -> plt.Figure:
    """(a) the neighbour weight w(d) up to ``radius``; (b) m_neig(d, d') against the new distance d'."""
    from .information import m_neig, neighbour_weight

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    d = np.linspace(1, radius, 200)
    left.plot(d, neighbour_weight(torch.as_tensor(d), decay).numpy(), color="C0")
    distances = sorted({1.0, 2 ** 0.5, 2.0, 5 ** 0.5, radius})
    left.scatter(distances, neighbour_weight(torch.as_tensor(distances), decay).numpy(), color="C0", zorder=3)
    left.set_xlabel("distance d between two pixels (px)")
    left.set_ylabel("w(d)")
    left.set_title(f"(a) neighbour weight, decay = {decay:g} px", fontsize=10)
    d_new = np.linspace(0, 2 * radius + 2, 400)
    palette = sns.color_palette("viridis", len(distances))
    for colour, dist in zip(palette, distances):
        right.plot(d_new, m_neig(dist, torch.as_tensor(d_new), decay, change_scale).numpy(), color=colour,
                   label=f"d = {dist:.2f}")
        right.axvline(dist, color=colour, lw=0.6, ls=":")
    right.set_xlabel("distance d' after the transformation (px)")
    right.set_ylabel("m_neig(d, d')")
    right.set_title(f"(b) what a pair keeps, change_scale = {change_scale:g} px", fontsize=10)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def swap_check_plot(check) -> plt.Figure:
    """Left: ΔM / M(I) of random two-pixel swaps (log scale; zeros counted in the title); right:
    the library's ΔM against the pair-by-pair reference. ``check`` is an
    :class:`imgleak.experiments.rvt.SwapCheck`."""
    table = check.to_dataframe()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    positive = table[table["relative_delta"] > 0]
    bins = np.logspace(np.log10(max(positive["relative_delta"].min(), 1e-12)),
                       np.log10(positive["relative_delta"].max() * 1.01), 40) if len(positive) else 10
    left.hist(positive["relative_delta"], bins=bins, color=sns.color_palette()[0])
    if len(positive):
        left.set_xscale("log")
    left.set_xlabel("ΔM / M(I) of one swap (log scale)")
    left.set_ylabel("swaps")
    left.set_title(f"(a) {len(table):,} swaps: {check.decreased:,} lowered M, {check.unchanged:,} left it, "
                   f"{check.increased} raised it", fontsize=10)
    right.scatter(table["delta_reference"], table["delta"], s=6, alpha=0.5)
    top = float(max(table["delta"].max(), table["delta_reference"].max(), 1e-12))
    right.plot([0, top], [0, top], color="0.4", lw=0.8, ls=":")
    right.set_xlabel("ΔM, pair-by-pair definition")
    right.set_ylabel("ΔM, imgleak.information")
    right.set_title(f"(b) the two evaluations (max relative difference {check.max_disagreement:.1e})", fontsize=10)
    fig.tight_layout()
    return fig


def vortex_key_plot(image: torch.Tensor, vortex_key, title: str | None = None, ax: plt.Axes | None = None) -> plt.Figure:
    """An image with the discs of an RVT key drawn over it (number = order of application)."""
    from matplotlib.patches import Circle

    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
    else:
        fig = ax.figure
    show_image(ax, image, title)
    palette = sns.color_palette("husl", max(len(vortex_key.vortices), 1))
    for i, (colour, v) in enumerate(zip(palette, vortex_key.vortices), start=1):
        if v.radius <= 0:
            continue
        # the disc's midpoint is half a pixel before the 1-based centre: 0-based (c - 1.5)
        row, col = v.center[0] - 1.5, v.center[1] - 1.5
        if vortex_key.transposed:
            row, col = col, row
        ax.add_patch(Circle((col, row), v.radius, fill=False, lw=1.4, ec=colour))
        ax.plot(col, row, "+", color=colour, ms=6)
        ax.text(col, row, f" {i}", color=colour, fontsize=8, va="bottom")
    return fig


def displacement_plot(maps: dict[str, torch.Tensor], shape: Sequence[int], arrow_step: int = 2) -> plt.Figure:
    """For each gather map: how far every output pixel reads from (colour), arrows to its source
    (every ``arrow_step``-th row and column; 0: none) and the source pixels nobody reads (red crosses)."""
    from .ciphers.rvt import displacement_field

    height, width = (int(s) for s in shape[-2:])
    fields = {label: displacement_field(index, shape) for label, index in maps.items()}
    top = max(float(np.hypot(*f).max()) for f in fields.values()) or 1.0
    fig, axes = plt.subplots(1, len(maps), figsize=(4.4 * len(maps) + 0.8, 4.2), squeeze=False)
    for ax, (label, (d_row, d_col)) in zip(axes[0], fields.items()):
        length = np.hypot(d_row, d_col)
        shown = ax.imshow(length, cmap="magma", vmin=0, vmax=top, interpolation="nearest")
        if arrow_step:
            grid = np.zeros_like(length, dtype=bool)
            grid[::arrow_step, ::arrow_step] = True
            rows, cols = np.nonzero((length > 0) & grid)
            ax.quiver(cols, rows, d_col[rows, cols], -d_row[rows, cols], angles="xy", scale_units="xy", scale=1,
                      color="cyan", width=0.004, alpha=0.7)
        read = np.bincount(torch.as_tensor(maps[label]).reshape(-1).cpu().numpy(), minlength=height * width)
        lost_rows, lost_cols = np.divmod(np.flatnonzero(read == 0), width)
        ax.scatter(lost_cols, lost_rows, marker="x", s=14, color="red", linewidths=1.0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{label}\nmean {length.mean():.2f} px, {len(lost_rows)} never read", fontsize=9)
    fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="distance to the source pixel (px)")
    return fig


def loss_rate_scatter(points, correlation=None, title: str = "") -> plt.Figure:
    """Accuracy loss rate against information loss rate, one marker per model and variant.

    ``points`` has ``info_loss_rate, accuracy_loss_rate, model, variant, scheme`` (see
    :func:`imgleak.experiments.rvt.loss_rate_points`); ``correlation`` (optional) the table of
    :func:`imgleak.experiments.rvt.loss_rate_correlation`, whose first row goes in the title.
    """
    fig, ax = plt.subplots(figsize=(8.8, 4.6))
    sns.scatterplot(data=points, x="info_loss_rate", y="accuracy_loss_rate", hue="scheme", style="model", s=70, ax=ax)
    for variant, group in points.groupby("variant", sort=False):  # one label per variant, at its top point
        top = group.loc[group["accuracy_loss_rate"].idxmax()]
        ax.annotate(variant, (top["info_loss_rate"], top["accuracy_loss_rate"]), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("information loss rate ΔM / M(I)")
    ax.set_ylabel("accuracy loss rate (plain − encrypted) / plain")
    if correlation is not None and len(correlation):
        first = correlation.iloc[0]
        title = (f"{title}\n" if title else "") + (
            f"{first.get('variants', 'all variants')}, {first['points']}: Pearson r = {first['pearson_r']:.2f}, "
            f"Spearman ρ = {first['spearman_rho']:.2f} (n = {int(first['n'])})")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def variant_rows_plot(rows: dict[str, torch.Tensor], size: float = 1.3,
                      column_titles: Sequence[str] | None = None) -> plt.Figure:
    """One row of images per variant (``label -> (N, C, H, W)`` uint8), the label on the left and
    optional titles over the columns."""
    if not rows:
        raise ValueError("variant_rows_plot needs at least one row")
    columns = max(int(images.shape[0]) for images in rows.values())
    fig, axes = plt.subplots(len(rows), columns, figsize=(size * columns + 1.2, size * len(rows)), squeeze=False)
    for ax_row, (label, images) in zip(axes, rows.items()):
        for i, ax in enumerate(ax_row):
            if i < images.shape[0]:
                show_image(ax, images[i])
            else:
                ax.axis("off")
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    for ax, title in zip(axes[0], column_titles or ()):
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ learnable encryption and attacks


def keyspace_plot(curves, crossings: dict[str, float]) -> plt.Figure:
    """log2 key space against the number of pixels (long table: pixels, scheme, log2 keys), crossings marked."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    sns.lineplot(data=curves, x="pixels", y="log2 keys", hue="scheme", ax=ax)
    for i, (label, pixels) in enumerate(crossings.items()):
        ax.axvline(pixels, color="0.5", ls=":", lw=1)
        ax.annotate(f"{label}\nat {pixels:,.0f} px (≈ {pixels ** 0.5:.0f}²)", (pixels, 0.05 + 0.3 * i),
                    xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pixels per image")
    ax.set_ylabel("log2 of the key space (bits)")
    fig.tight_layout()
    return fig


def ssim_heatmaps(table) -> plt.Figure:
    """Table 1 as two heatmaps side by side: our mean SSIM and the paper's (columns ``(attack, ours|paper)``)."""
    sources = [s for s in ("ours", "paper") if s in table.columns.get_level_values(1)]
    fig, axes = plt.subplots(1, len(sources), figsize=(4.6 * len(sources) + 1, 0.45 * len(table) + 1.6),
                             squeeze=False)
    for ax, source in zip(axes[0], sources):
        part = table.xs(source, axis=1, level=1)
        sns.heatmap(part.astype(float), annot=True, fmt=".2f", vmin=0, vmax=1, cmap="rocket_r", cbar=False,
                    ax=ax, annot_kws={"fontsize": 8})
        ax.set_title("ours" if source == "ours" else "paper (STL-10, Table 1)", fontsize=10)
        ax.tick_params(labelsize=8)
    for ax in axes[0][1:]:
        ax.set_yticks([])
    fig.suptitle("mean SSIM of the reconstructions (higher = more recovered)", fontsize=10)
    fig.tight_layout()
    return fig


def attack_curves_plot(curves: dict[tuple[str, str], Sequence[float]], labels: dict[str, str],
                       reference: float | None = None) -> plt.Figure:
    """Test SSIM after every epoch of each trained attack (one panel per attack), a flat guess dashed."""
    attacks = sorted({a for _, a in curves})
    fig, axes = plt.subplots(1, max(1, len(attacks)), figsize=(5.2 * max(1, len(attacks)), 3.4), squeeze=False)
    for ax, attack in zip(axes[0], attacks):
        for (scheme, a), values in curves.items():
            if a == attack:
                ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=labels.get(scheme, scheme))
        if reference is not None:
            ax.axhline(reference, color="0.4", ls="--", lw=1, label="mid-grey guess")
        ax.set_title(f"{attack.upper()}-Attack", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test SSIM")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
