"""Figures shared by the chapters (matplotlib + seaborn); each function returns its Figure."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch
from matplotlib.patches import Rectangle

from imgleak.images import Photo
from imgleak.keys import BitBalance


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
