"""Timing shared by the benchmarks: best of several runs, synchronising CUDA around each."""

from __future__ import annotations

import time
from typing import Callable

import torch


def best_seconds(work: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """The fastest of ``repeats`` runs of ``work`` (after one warm-up run)."""
    work()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)
