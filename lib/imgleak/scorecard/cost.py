"""The cost criterion of the scorecard: how fast a scheme encrypts on the run's device.

``budget.throughput_images`` crops (the run's images, repeated to that count: speed does not
depend on what they show) are encrypted in one call, :data:`REPEATS` times; the best time gives
images per second (CUDA work is synchronised before the clock stops). The key is made before
the clock starts, so a learned scheme's training is not counted. Cost, not leakage:
``leaks_more="none"``.
"""

from __future__ import annotations

import time

import torch

from .base import Context, Criterion, Measurement, Subject, check_cell

REPEATS = 3
"""Timed encryptions of the whole batch; the fastest counts (the first pays for warm-up)."""


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(subject: Subject, context: Context) -> list[Measurement]:
    """Encryption throughput (images/s) over ``budget.throughput_images`` crops, best of :data:`REPEATS`.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> context = Context(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), seed=0, budget=BUDGETS["quick"])
    >>> (row,) = throughput(Subject("identity", ciphers.get("identity")), context)
    >>> row.criterion, row.unit, row.leaks_more, row.value > 0, row.setting["images"]
    ('throughput', 'images/s', 'none', True, 16)
    """
    subject, context = check_cell(subject, context)
    count = context.budget.throughput_images
    device = torch.device(context.device)
    reps = -(-count // context.images.shape[0])  # ceil
    images = context.images.repeat(reps, 1, 1, 1)[:count].to(device).contiguous()
    key = subject.key(context.seed, context)
    times = []
    for _ in range(REPEATS):
        _synchronise(device)
        start = time.perf_counter()
        subject.cipher.encrypt(images, key, first_index=0)
        _synchronise(device)
        times.append(time.perf_counter() - start)
    best = min(times)
    setting = {"images": count, "shape": list(images.shape[1:]), "device": str(device), "repeats": REPEATS,
               "best_seconds": best, "threads": torch.get_num_threads()}
    return [Measurement("throughput", count / max(best, 1e-9), "images/s", "none", setting)]


FAMILY = "cost"
ADVERSARY = "none"  # speed, not an attack

CRITERIA: dict[str, Criterion] = {"throughput": throughput}
"""The cost cell, by name."""

__all__ = ["ADVERSARY", "FAMILY", "CRITERIA", "REPEATS", "throughput"]
