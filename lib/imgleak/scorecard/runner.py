"""Run a scorecard: every scheme × criterion × seed as an independent cell, on any
:class:`concurrent.futures.Executor`, each finished cell written at once, resumable.

A cell (:class:`Cell`) is plain, picklable data: the subject, the criterion (a module-level
function), the seed, the budget, where the images are (:class:`ImageSource`) and the device. The
worker that runs it (:func:`run_cell`) loads the images (once per process), cuts the seed's crops
(:func:`make_context`), makes the key and measures; the key never leaves the worker: a cell's
record carries its fingerprint only (:func:`imgleak.scorecard.key.fingerprint`). A cell that raises is recorded with
its error (type and message) and the others go on.

:func:`run` runs the cells serially (default), or on the ``executor`` given: a dask.distributed
``Client(...).get_executor()`` for a ``LocalCluster`` or an existing cluster
(:func:`~imgleak.scorecard.cluster.dask_executor` checks one before any cell). Each finished cell
is written once, by this process, to ``out_dir/cells/<cell id>.json`` (temp file + rename) as soon
as it comes back, so an interrupted run or a dead worker loses at most the cells that were running;
``resume=True`` reuses the successful cells already there, runs the failed ones again (and logs how
many), and refuses cells computed with another budget or other images, an unreadable cell file
(named) and a run that would drop cells already there.
The table has one row per measurement (:data:`COLUMNS`).

Crops: ``budget.images`` crops of ``budget.size`` pixels per seed; crop ``i`` is cut from source
``i mod S`` (:func:`crop_source_index`) at a position drawn from the seed (:func:`cut_crops`),
so with many sources the first (largest, for a folder) ``budget.images`` are used; every source
stays in ``Context.sources`` for the criteria that cut their own crops (the attacks).

>>> from imgleak.scorecard.base import Measurement
>>> from imgleak.scorecard.schemes import library_schemes
>>> def mean_pixel(subject, context):
...     key = subject.key(context.seed, context)
...     return [Measurement("mean_pixel", subject.cipher.encrypt(context.images, key).float().mean(), "grey level", "none")]
>>> import tempfile
>>> table = run([library_schemes()["identity"]], {"mean_pixel": mean_pixel}, None, "quick", 2,
...             tempfile.mkdtemp(), progress=False)
>>> table[["scheme", "criterion", "seed", "error"]].values.tolist()
[['identity', 'mean_pixel', 0, ''], ['identity', 'mean_pixel', 1, '']]
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from .._checks import boolean, integer, positive_int
from ..tensors import resolve_device
from .base import Budget, Criterion, Subject, check_budget
from .cells import Cell, cell_record, error_row, run_cell
from .sources import check_sizes, image_source, images_fingerprint
from .cluster import dask_executor
from .store import finished_cells, run_settings, settings_hash, table, write_json

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------ run


def _check_subjects(subjects: Sequence[Subject]) -> list[Subject]:
    if isinstance(subjects, Subject) or not isinstance(subjects, Sequence) or not subjects:
        raise ValueError("subjects must be a non-empty list of Subject (imgleak.scorecard.schemes.resolve)")
    bad = [s for s in subjects if not isinstance(s, Subject)]
    if bad:
        raise TypeError(f"subjects must hold Subject objects, got {type(bad[0]).__name__}")
    names = [s.name for s in subjects]
    if len(set(names)) != len(names):
        raise ValueError(f"subjects must have distinct names, got {names}")
    return list(subjects)


def _check_criteria(criteria: Mapping[str, Criterion]) -> dict[str, Criterion]:
    if not isinstance(criteria, Mapping) or not criteria:
        raise ValueError("criteria must be a non-empty dict of name -> criterion function (see all_criteria())")
    for name, function in criteria.items():
        if not isinstance(name, str) or not callable(function):
            raise TypeError(f"criteria must map names (str) to functions, got {name!r}: {type(function).__name__}")
    return dict(criteria)


MAX_SEEDS = 10_000
"""The most seeds one run takes (each seed is a cell per scheme and criterion; 5 already call a 5-sd leak)."""


def check_seeds(seeds: int | Sequence[int]) -> list[int]:
    """``seeds`` as a list: a count ``n`` (at most :data:`MAX_SEEDS`) means seeds ``0 … n-1``; a list holds
    distinct ints of a signed 64-bit range (the table's ``seed`` column).

    >>> check_seeds(3), check_seeds([7, 1])
    ([0, 1, 2], [7, 1])
    >>> check_seeds(10**12)
    Traceback (most recent call last):
    ...
    ValueError: seeds must be at most 10000 (a count of seeds 0 .. N-1), got 1000000000000
    """
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        out = [integer(s, "seeds") for s in seeds]
        if not out or len(set(out)) != len(out) or len(out) > MAX_SEEDS:
            raise ValueError(f"seeds must be a count or a non-empty list of at most {MAX_SEEDS} distinct ints, "
                             f"got {seeds!r}")
        wide = [s for s in out if not -2**63 <= s < 2**63]
        if wide:
            raise ValueError(f"seeds must fit a signed 64-bit int (|seed| < 2**63), got {wide[0]}")
        return out
    if positive_int(seeds, "seeds") > MAX_SEEDS:
        raise ValueError(f"seeds must be at most {MAX_SEEDS} (a count of seeds 0 .. N-1), got {seeds!r}")
    return list(range(seeds))


def _execute(cells: list[Cell], executor: Executor | None, finish: Callable[[dict[str, Any]], None]) -> None:
    """Run ``cells`` (serially without an executor) and ``finish`` each record as soon as it is there."""
    if executor is None:
        for cell in cells:
            finish(run_cell(cell))
        return
    futures = {executor.submit(run_cell, cell): cell for cell in cells}
    try:
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as error:  # the worker died, or the cell could not be sent
                record = {**cell_record(futures[future]), "error": f"{type(error).__name__}: {error}", "seconds": 0.0,
                          "rows": [error_row(futures[future], error, 0.0)]}
            finish(record)
    finally:
        for future in futures:
            future.cancel()


def check_out_dir(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as a :class:`~pathlib.Path`: a folder path whose existing part is a folder, not a file.

    >>> check_out_dir("/etc/hostname/report")
    Traceback (most recent call last):
    ...
    ValueError: out_dir '/etc/hostname/report': '/etc/hostname' is a file, not a folder; choose another output folder
    """
    if not isinstance(out_dir, (str, os.PathLike)) or not str(out_dir):
        raise TypeError(f"out_dir must be a folder path (str or os.PathLike), got {type(out_dir).__name__} {out_dir!r}")
    path = Path(out_dir)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ValueError(f"out_dir {str(path)!r}: {str(existing)!r} is a file, not a folder; choose another output "
                         "folder")
    return path


def _describe_subject(subject: Subject, shape: tuple[int, ...]) -> dict[str, Any]:
    try:
        bits = float(subject.cipher.key_space_log2(shape))
    except Exception:  # a user's scheme may not say
        bits = math.nan
    return {"name": subject.name, "describe": subject.cipher.describe(), "invertible": bool(subject.cipher.invertible),
            "per_image_keys": bool(subject.cipher.per_image_keys), "key_space_log2": None if math.isnan(bits) else bits}


def run(subjects: Sequence[Subject], criteria: Mapping[str, Criterion], images_source: Any, budget: Budget | str,
        seeds: int | Sequence[int], out_dir: str | os.PathLike, executor: Executor | None = None, resume: bool = False,
        device: str = "auto", progress: bool = True) -> pd.DataFrame:
    """Every subject × criterion × seed; the table (:data:`COLUMNS`), cells written to ``out_dir/cells``.

    ``images_source``: ``None`` (bundled photographs), a folder or an :class:`ImageSource`;
    ``seeds``: a count or a list; ``executor``: ``None`` runs serially here; ``resume`` reuses
    the cells already in ``out_dir``. ``out_dir/run.json`` records the settings
    (:func:`provenance` reads it). Example: the module docstring.
    """
    subjects, criteria = _check_subjects(subjects), _check_criteria(criteria)
    budget, seeds, source = check_budget(budget), check_seeds(seeds), image_source(images_source)
    resume, progress = boolean(resume, "resume"), boolean(progress, "progress")
    if executor is None:
        resolve_device(device)  # a bad device is refused here rather than in every cell
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor or None, got {type(executor).__name__}")
    photos = source.load()
    check_sizes(photos, budget.size)
    settings = run_settings(budget, source, images_fingerprint(photos))
    run_hash = settings_hash(settings)
    out = check_out_dir(out_dir)
    cells_dir = out / "cells"
    cells = [Cell(s, name, function, seed, budget, source, str(device))
             for s in subjects for name, function in criteria.items() for seed in seeds]
    done, failed = finished_cells(cells_dir, budget, run_hash, resume, [c.id for c in cells])
    if resume:
        log.info("resume: %d finished cell(s) kept, %d failed cell(s) retried, %d cell(s) run for the first time",
                 len(done), len(failed), len(cells) - len(done) - len(failed))
    cells_dir.mkdir(parents=True, exist_ok=True)
    shape = (int(photos[0].image.shape[0]), budget.size, budget.size)
    write_json(out / "run.json", {**settings, "seeds": seeds, "device": str(device), "cells": [c.id for c in cells],
                                  "schemes": [_describe_subject(s, shape) for s in subjects],
                                  "criteria": {n: f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', n)}"
                                               for n, f in criteria.items()},
                                  "executor": "serial" if executor is None else type(executor).__name__})
    records = {c.id: done[c.id] for c in cells if c.id in done}
    bar = tqdm(total=len(cells), initial=len(records), desc="scorecard cells", unit="cell", disable=not progress)

    def finish(record: dict[str, Any]) -> None:
        if not records.get(record["cell"], {"error": "none yet"})["error"]:
            return  # finished already (a rescheduled duplicate): a finished cell is written once
        record["settings"] = run_hash
        write_json(cells_dir / f"{record['cell']}.json", record)
        records[record["cell"]] = record
        bar.update()
        bar.set_postfix_str(record["cell"])

    try:
        _execute([c for c in cells if c.id not in records], executor, finish)
    finally:
        bar.close()
    return table(records[c.id] for c in cells)


__all__ = ['MAX_SEEDS', 'check_budget', 'check_seeds', 'check_out_dir', 'dask_executor', 'run']
