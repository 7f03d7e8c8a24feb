"""One seeded-training context shared by every training loop (classifiers, transformation
networks, attacks): the global RNG forked and seeded, the thread count set, both restored.

>>> import torch
>>> with seeded_training(0, torch.device("cpu")):
...     a = torch.rand(2)
>>> with seeded_training(0, torch.device("cpu")):
...     b = torch.rand(2)
>>> bool(torch.equal(a, b))
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded_training(seed: int, device: torch.device, num_threads: int | None = None) -> Iterator[None]:
    """Run the body with torch's global RNG (CPU, and ``device``'s when CUDA) seeded with ``seed``
    and ``num_threads`` intra-op threads; the caller's RNG state and thread count come back after."""
    before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    fork = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=fork):
            torch.random.default_generator.manual_seed(seed)
            if device.type == "cuda":
                with torch.cuda.device(device):
                    torch.cuda.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(before)
