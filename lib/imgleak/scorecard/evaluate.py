"""One call from scheme names to a judged scorecard: what ``imgleak evaluate`` and the benchmark chapter run.

:func:`evaluate` resolves the schemes (the two controls always join: every verdict is judged
against them), selects the criteria, runs every cell on a serial or dask executor, and writes
``scorecard.csv``, ``verdicts.csv``, ``scorecard.json`` (with provenance) and ``report.html``.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as out:
...     run = evaluate(["selective-4"], criteria=["entropy"], budget="quick", seeds=2, out_dir=out, progress=False)
>>> [s.name for s in run.subjects], sorted(run.paths)
(['identity', 'one_time_pad', 'selective-4'], ['csv', 'html', 'json', 'verdicts'])
>>> run.verdicts.set_index("scheme").loc["selective-4", "verdict"]
'leaks'
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .base import Budget, Subject
from .cells import select_criteria
from .report import write_report
from .cluster import WAIT_SECONDS, dask_executor
from .runner import check_budget, check_out_dir, check_seeds, run
from .schemes import CONTROLS, resolve
from .sources import check_sizes, image_source
from .store import provenance
from .verdicts import verdicts


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` ran and found: the ``table`` (one row per measurement and seed), the
    ``verdicts`` (one per scheme × measurement), the files written (``paths`` by kind), the
    ``subjects``, the ``criteria`` names, the ``budget`` and the wall ``seconds``."""

    table: pd.DataFrame
    verdicts: pd.DataFrame
    paths: dict[str, Path]
    subjects: tuple[Subject, ...]
    criteria: tuple[str, ...]
    budget: Budget
    seconds: float


def evaluate(schemes: Sequence[str], *, extra: Sequence[Subject] = (), criteria: Sequence[str] | None = None,
             images: Any = None, budget: Budget | str = "default", seeds: int | Sequence[int] = 3,
             out_dir: str | os.PathLike, workers: int | None = None, scheduler: str | None = None,
             resume: bool = False, device: str = "auto", progress: bool = True, upload: bool = True,
             wait: float = WAIT_SECONDS) -> Evaluation:
    """Every scheme (``identity`` and ``one_time_pad`` first, added when missing) × criterion × seed.

    ``schemes``: library names or ``package.module:attribute``; ``extra``: subjects built in
    Python (e.g. :func:`imgleak.scorecard.gallery.broken_schemes`); ``criteria``: cell names
    (``None``: all); ``images``: ``None`` (bundled photographs), a folder or an
    :class:`~imgleak.scorecard.sources.ImageSource`; ``workers`` / ``scheduler``: a dask
    ``LocalCluster`` or an existing cluster's address, checked before any cell runs
    (:func:`~imgleak.scorecard.cluster.dask_executor`: versions compared, a user's module the
    workers lack uploaded unless ``upload=False``, at most ``wait`` seconds for the scheduler and a
    first worker). Reports are written to ``out_dir`` (replaced only with ``resume``).
    """
    budget, seeds, out_dir = check_budget(budget), check_seeds(seeds), check_out_dir(out_dir)
    chosen = select_criteria(criteria)
    source = image_source(images)
    photos = source.load()
    check_sizes(photos, budget.size)
    names = [*[c for c in CONTROLS if c not in schemes], *schemes]
    subjects = resolve(names, (2, int(photos[0].image.shape[0]), budget.size, budget.size)) + list(extra)
    start = time.perf_counter()
    with dask_executor(workers, scheduler, ship_objects=[*subjects, *chosen.values()], upload=upload,
                       wait=wait) as executor:
        table = run(subjects, chosen, source, budget, seeds, out_dir, executor=executor, resume=resume, device=device,
                    progress=progress)
    paths = write_report(table, provenance(out_dir), out_dir, overwrite=resume)
    return Evaluation(table, verdicts(table), paths, tuple(subjects), tuple(chosen), budget,
                      time.perf_counter() - start)


__all__ = ["Evaluation", "evaluate"]
