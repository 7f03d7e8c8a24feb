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
