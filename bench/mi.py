"""Mutual-information estimators: throughput and time to accuracy, measured in one run.

Prints
  * plug-in histogram MI throughput (pixel pairs per second) on a 64x3x512x512 uint8 batch and
    its clear part, beside numpy's ``histogram2d`` on the same pairs, for scale;
  * MINE optimisation steps per second on 512-d + 512-d embedding pairs at batch 256;
  * the wall time MINE needs to get within 0.05 nats of the true MI of a 5-D correlated Gaussian
    (I = -5/2 log(1 - rho^2)), read off its per-epoch held-out curve.

    .venv/bin/python bench/mi.py [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from imgleak.ciphers import SelectiveEncryption
from imgleak.keys import Key
from imgleak.mi import estimate_mi, mutual_information
from timing import best_seconds


def gaussian_pairs(n: int, dim: int, rho: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=generator)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, dim, generator=generator)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, {torch.get_num_threads()} CPU threads")

    x = torch.randint(0, 256, (64, 3, 512, 512), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    cipher = SelectiveEncryption(3)
    clear = cipher.clear_part(cipher.encrypt(x, Key.from_seed(0)))
    x, clear = x.to(device), clear.to(device)
    ours = best_seconds(lambda: mutual_information(x, clear), device)
    x_np, clear_np = x.cpu().numpy().ravel(), clear.cpu().numpy().ravel()
    numpy_s = best_seconds(lambda: np.histogram2d(x_np, clear_np, bins=(256, 32)), torch.device("cpu"), repeats=1)
    pairs = x.numel()
    print(f"histogram MI: {pairs / ours / 1e6:8.1f} M pairs/s | numpy histogram2d {pairs / numpy_s / 1e6:6.1f} M pairs/s "
          f"| ratio {numpy_s / ours:5.1f}x")

    ex, ey = gaussian_pairs(256 * 40, 512, 0.5, 1)
    run = estimate_mi(ex, ey, epochs=2, batch_size=256, test_fraction=0.2, seed=0, device=device, progress=False)
    steps = 2 * (run.n_train // 256)
    print(f"MINE on 512-d + 512-d pairs, batch 256, hidden 256: {steps / run.seconds:7.1f} steps/s "
          f"(held-out evaluation included)")

    rho, dim = 0.5, 5
    truth = -dim / 2 * math.log(1 - rho**2)
    gx, gy = gaussian_pairs(20_000, dim, rho, 2)
    run = estimate_mi(gx, gy, epochs=30, batch_size=512, lr=2e-3, hidden=128, seed=0, device=device, progress=False)
    close = [e for e, v in enumerate(run.test_curve, start=1) if abs(v - truth) < 0.05]
    per_epoch = run.seconds / len(run.test_curve)
    if close:
        print(f"MINE, 5-D Gaussian (I = {truth:.3f} nats): within 0.05 nats after epoch {close[0]} "
              f"= {close[0] * per_epoch:.1f} s (final estimate {run.mi_nats:.3f} nats)")
    else:
        print(f"MINE, 5-D Gaussian (I = {truth:.3f} nats): not within 0.05 nats in 30 epochs "
              f"({run.seconds:.1f} s, final {run.mi_nats:.3f})")


if __name__ == "__main__":
    main()
