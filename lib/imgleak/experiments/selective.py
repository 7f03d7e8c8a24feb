"""From images and encryption levels n to the paired samples each leakage estimator needs.

For every image i and level n the image is encrypted with :class:`SelectiveEncryption`
(key ``key.derive(f"image/{i}")``, so no two images share key bits) and the analyst's view of
the cipher is its **scaled clear part** ``C' = (E mod 2^(8-n)) * 2^n``, a bijection of the
clear part (same mutual information) that looks like an image. Level 0 is the original image
itself, so every estimator compares level 0 with level n.

* :func:`histogram_mi` — plug-in MI per image and level (the paper's Fig. 2).
* :func:`level_patches` — co-located patches of the original and of every clear part, cut at
  the same seeded positions (no resizing): flattened pixels for MINE, or the input of
  :func:`level_patch_embeddings` for MINE on CLIP / ResNet features.
* :func:`level_image_embeddings` — whole images resized to 224×224 and embedded (the paper's
  cosine-similarity and rounded-feature experiments, Fig. 3).
* :func:`mine_by_level`, :func:`relative_distance` — MINE runs and the "relative distance to
  the maximum MI" curves (Figs. 4–8).
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from .. import _checks
from imgleak.ciphers.selective import SelectiveEncryption
from imgleak.images import extract_patches, patch_positions
from imgleak.keys import Key
from imgleak.mi.encoders import Encoder, cosine_similarity, rounded_features
from imgleak.mi.histogram import mutual_information
from imgleak.mi.mine import MineResult, estimate_mi


def _check_levels(levels: Sequence[int]) -> list[int]:
    levels = list(levels)
    if not levels or any(isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 8 for n in levels):
        raise ValueError(f"levels must be a non-empty list of ints from 0 to 8, got {levels!r}")
    return sorted(set(levels))


def clear_view(image: torch.Tensor, n: int, key: Key, index: int) -> torch.Tensor:
    """The scaled clear part of image ``index`` encrypted at level ``n`` (level 0: the image)."""
    cipher = SelectiveEncryption(n)
    return cipher.scaled_clear_part(cipher.encrypt(image, key.derive(f"image/{index}")))


def histogram_mi(images: Sequence[torch.Tensor], levels: Sequence[int], key: Key,
                 names: Sequence[str] | None = None, miller_madow: bool = False) -> pd.DataFrame:
    """Plug-in MI (bits per sample) between each image and its clear part, for every level.

    Returns one row per image and level: ``image, n, mi_bits, bound_bits`` with the upper
    bound ``8 - n`` (reached by uniformly distributed pixels).
    """
    levels = _check_levels(levels)
    names = list(names) if names is not None else [f"image {i}" for i in range(len(images))]
    rows = []
    for i, image in enumerate(images):
        for n in levels:
            cipher = SelectiveEncryption(n)
            clear = cipher.clear_part(cipher.encrypt(image, key.derive(f"image/{i}")))
            rows.append({"image": names[i], "n": n, "bound_bits": 8 - n,
                         "mi_bits": mutual_information(image, clear, miller_madow=miller_madow)})
    return pd.DataFrame(rows)


def uniform_images(count: int, shape: tuple[int, int, int], seed: int) -> list[torch.Tensor]:
    """``count`` images of independent uniform 8-bit noise: the reference that meets the bound."""
    count, seed = _checks.non_negative_int(count, "count"), _checks.integer(seed, "seed")
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator) for _ in range(count)]


def level_patches(images: Sequence[torch.Tensor], levels: Sequence[int], key: Key, size: int,
                  per_image: int, seed: int) -> dict[int, torch.Tensor]:
    """Co-located ``size``×``size`` patches of every image at every level, ``uint8 (P, C, size, size)``.

    Patch positions of image ``i`` come from ``seed + i`` and are the same at every level, so
    row ``j`` of level 0 (the original) and row ``j`` of level n are a pair. Images smaller than
    the patch raise ``ValueError``.
    """
    levels = sorted(set(_check_levels(levels)) | {0})
    out: dict[int, list[torch.Tensor]] = {n: [] for n in levels}
    for i, image in enumerate(images):
        positions = patch_positions(int(image.shape[-2]), int(image.shape[-1]), size, per_image, seed + i)
        for n in levels:
            out[n].append(extract_patches(clear_view(image, n, key, i), positions, size))
    return {n: torch.cat(parts) for n, parts in out.items()}


def level_patch_embeddings(encoder: Encoder, patches: dict[int, torch.Tensor], batch_size: int = 32,
                           progress: bool = True) -> dict[int, torch.Tensor]:
    """Embed the patches of every level with a frozen encoder (no resizing)."""
    return {n: encoder.embed(p, batch_size=batch_size)
            for n, p in tqdm(patches.items(), desc=f"embedding with {encoder.name}", disable=not progress)}


def level_image_embeddings(encoder: Encoder, images: Sequence[torch.Tensor], levels: Sequence[int],
                           key: Key) -> dict[int, torch.Tensor]:
    """Whole images (level 0) and clear parts resized to 224×224 and embedded: ``(images, dim)`` per level."""
    levels = sorted(set(_check_levels(levels)) | {0})
    return {n: torch.stack([encoder.embed(clear_view(img, n, key, i), resize=True) for i, img in enumerate(images)])
            for n in levels}


def embedding_similarity(embeddings: dict[int, torch.Tensor], names: Sequence[str], decimals: int) -> pd.DataFrame:
    """Per level: cosine similarity of each image's embedding with its clear part's, and the
    plug-in MI (bits) of the rounded features pooled over dimensions and images.

    Returns one row per image and level: ``image, n, cosine, rounded_mi_bits`` (the MI is one
    value per level, repeated on its rows).
    """
    base = embeddings[0]
    codes_base = rounded_features(base, decimals)
    rows = []
    for n, emb in embeddings.items():
        mi = mutual_information(codes_base, rounded_features(emb, decimals))
        for name, cos in zip(names, cosine_similarity(base, emb).tolist()):
            rows.append({"image": name, "n": n, "cosine": cos, "rounded_mi_bits": mi})
    return pd.DataFrame(rows)


def flatten(samples: torch.Tensor) -> torch.Tensor:
    """``(P, ...)`` → ``(P, D)``."""
    return samples.reshape(samples.shape[0], -1)


def mine_by_level(samples: dict[int, torch.Tensor], levels: Sequence[int], **mine_options: Any) -> dict[int, MineResult]:
    """MINE between level 0 and each level n (samples flattened to vectors), one run per level.

    ``mine_options`` go to :func:`imgleak.mi.mine.estimate_mi` (epochs, lr, batch_size, seed, ...).
    """
    levels = _check_levels(levels)
    x = flatten(samples[0])
    results = {}
    for n in tqdm(levels, desc="MINE over levels", disable=not mine_options.get("progress", True)):
        results[n] = estimate_mi(x, flatten(samples[n]), **mine_options)
    return results


def relative_distance(curves: dict[int, Sequence[float]]) -> dict[int, list[float]]:
    """The paper's relative distance to the maximum: ``D_n(t) = max_m I_m(t) - I_n(t)`` per epoch t."""
    stacked = torch.tensor([list(c) for c in curves.values()], dtype=torch.float64)
    top = stacked.max(dim=0).values
    return {n: (top - row).tolist() for n, row in zip(curves, stacked)}


def mine_table(results: dict[str, dict[int, MineResult]]) -> pd.DataFrame:
    """Final held-out estimates (bits) as a table: one row per level n, one column per estimator."""
    return pd.DataFrame({name: {n: r.mi_bits for n, r in by_level.items()} for name, by_level in results.items()}).rename_axis("n")


def linearity(table: pd.DataFrame, value: str) -> dict[str, float]:
    """Least-squares line of the per-level mean of ``value`` against n: slope, intercept and R²."""
    means = table.groupby("n")[value].mean()
    n = torch.tensor(means.index.to_numpy(), dtype=torch.float64)
    v = torch.tensor(means.to_numpy(), dtype=torch.float64)
    design = torch.stack([n, torch.ones_like(n)], dim=1)
    slope, intercept = torch.linalg.lstsq(design, v.unsqueeze(1)).solution.squeeze(1).tolist()
    residual = v - (slope * n + intercept)
    total = ((v - v.mean()) ** 2).sum()
    r2 = float(1 - (residual ** 2).sum() / total) if total > 0 else float("nan")
    return {"slope": slope, "intercept": intercept, "r2": r2}
