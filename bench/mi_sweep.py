"""MI sweeps: nine separate estimate_mi runs against one estimate_mi_many ensemble of nine, same seeds.

The selective-encryption chapter's n-sweep at its default sizes: MINE between the original
16x16x3 pixel patches (768-d) and the clear part's patches at the nine levels n = 0..8, about
1500 patches per bundled photo (40 epochs, batch 256, hidden 256, lr 1e-3); and the same sweep
shape on 512-d + 512-d pairs standing in for ResNet-18 embeddings (correlated Gaussians, a few
thousand pairs: the training cost depends on the shapes only). For each it prints the wall time
of both, their ratio, and whether the nine estimates are equal bit for bit.

    .venv/bin/python bench/mi_sweep.py [--device cuda] [--epochs 40] [--threads 2] [--task pixels]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

from imgleak import images
from imgleak.experiments.selective import flatten, level_patches
from imgleak.keys import Key
from imgleak.mi import estimate_mi, estimate_mi_many

LEVELS = range(9)


def pixel_sweep(per_image: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Level-0 patches and the clear parts' patches at every level, ``uint8 (P, 768)``."""
    pictures = [photo.image for photo in images.bundled_photos()]
    patches = level_patches(pictures, list(LEVELS), Key.from_seed(0), 16, per_image, seed=0)
    return flatten(patches[0]), [flatten(patches[n]) for n in LEVELS]


def embedding_sweep(pairs: int, dim: int = 512) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """512-d ``x`` and nine ``y`` less and less correlated with it (rho from 0.1 down to 0 per coordinate:
    up to 2.6 nats, the order of the chapter's embedding estimates)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(pairs, dim, generator=generator)
    ys = []
    for n in LEVELS:
        rho = 0.1 * (8 - n) / 8
        ys.append(rho * x + math.sqrt(1 - rho**2) * torch.randn(pairs, dim, generator=generator))
    return x, ys


def compare(name: str, x: torch.Tensor, ys: list[torch.Tensor], device: torch.device, options: dict) -> None:
    x, ys = x.to(device), [y.to(device) for y in ys]
    start = time.perf_counter()
    separate = [estimate_mi(x, y, seed=0, device=device, progress=False, **options) for y in ys]
    separate_s = time.perf_counter() - start
    start = time.perf_counter()
    many = estimate_mi_many([(x, y) for y in ys], seeds=0, device=device, progress=False, **options)
    many_s = time.perf_counter() - start
    equal = all(a.test_curve == b.test_curve and a.mi_nats == b.mi_nats for a, b in zip(separate, many))
    worst = max(abs(a.mi_nats - b.mi_nats) for a, b in zip(separate, many))
    print(f"{name}: {x.shape[0]} pairs {x.shape[1]}-d + {ys[0].shape[1]}-d, {options['epochs']} epochs | "
          f"9 separate runs {separate_s:7.1f} s | ensemble of 9 {many_s:7.1f} s | ratio {separate_s / many_s:4.2f}x | "
          f"estimates {'equal bit for bit' if equal else f'differ (at most {worst:.2e} nats)'}")
    print("  estimates (nats) by level:", " ".join(f"{r.mi_nats:.3f}" for r in many))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--task", choices=("pixels", "embeddings", "both"), default="both")
    parser.add_argument("--patches-per-image", type=int, default=1500)
    parser.add_argument("--embedding-pairs", type=int, default=4000)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {device}, {torch.get_num_threads()} CPU threads, load average {load:.2f} at the start")
    options = dict(epochs=args.epochs, batch_size=256, hidden=256, lr=1e-3)
    if args.task in ("pixels", "both"):
        compare("pixels", *pixel_sweep(args.patches_per_image), device, options)
    if args.task in ("embeddings", "both"):
        compare("embeddings", *embedding_sweep(args.embedding_pairs), device, options)


if __name__ == "__main__":
    main()
