"""Run a scorecard: every scheme × criterion × seed as an independent cell, on any
:class:`concurrent.futures.Executor`, each finished cell written at once, resumable.

A cell (:class:`Cell`) is plain, picklable data: the subject, the criterion (a module-level
function), the seed, the budget, where the images are (:class:`ImageSource`) and the device. The
worker that runs it (:func:`run_cell`) loads the images (once per process), cuts the seed's crops
(:func:`make_context`), makes the key and measures; the key never leaves the worker: a cell's
record carries its fingerprint only (:func:`imgleak.scorecard.key.fingerprint`). A cell that raises is recorded with
its error (type and message) and the others go on.

:func:`run` runs the cells serially (default), or on the ``executor`` given: a dask.distributed
``Client(...).get_executor()`` for a ``LocalCluster`` or an existing cluster. Each finished cell
is written to ``out_dir/cells/<cell id>.json`` (temp file + rename), so an interrupted run loses
at most the cells that were running; ``resume=True`` reuses the successful cells already there
(cells that failed are run again) and refuses cells computed with another budget or other images.
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

import contextlib
import functools
import hashlib
import importlib
import json
import logging
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from .._checks import boolean, integer, positive_int
from ..images import Photo, bundled_photos, extract_patches, load_folder, patch_positions
from ..provenance import lock_record
from ..tensors import resolve_device
from .base import BUDGETS, Budget, Context, Criterion, Measurement, Subject
from .key import fingerprint

COLUMNS = ("scheme", "criterion", "family", "adversary", "seed", "value", "unit", "leaks_more", "p_value", "setting",
           "verdict", "seconds", "cell", "error")
"""The scorecard table's columns, one row per measurement (a failed cell: one row, ``value`` NaN, its ``error``)."""

CRITERIA_MODULES = ("statistical", "games", "information", "attacks", "utility", "key", "cost")
"""The criteria modules of :mod:`imgleak.scorecard`, each exposing ``CRITERIA`` (see :func:`all_criteria`)."""

KEY_CACHE_SIZE = 4
"""Keys kept per process (a learned key is trained once per scheme and seed, not once per criterion)."""


# ------------------------------------------------------------------------------------ images


@dataclass(frozen=True)
class ImageSource:
    """Where the plain images come from: a ``folder`` (:func:`imgleak.images.load_folder`, RGB) or,
    with ``folder=None``, the bundled photographs. Workers load it themselves (once per process):
    on a remote cluster, the folder must be readable at the same path there.

    >>> ImageSource().describe(), ImageSource("/data/coco").describe()
    ('bundled photographs', 'folder /data/coco')
    """

    folder: str | None = None

    def describe(self) -> str:
        """A phrase for reports."""
        return "bundled photographs" if self.folder is None else f"folder {self.folder}"

    def load(self) -> tuple[Photo, ...]:
        """The full-size images (cached per process while the folder's files stay the same: do not write
        to them)."""
        return _load(self, _signature(self.folder))


def _signature(folder: str | None) -> tuple:
    """Names, sizes and modification times of a folder's files (a changed folder is read again)."""
    if folder is None or not os.path.isdir(folder):
        return ()
    return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder) if e.is_file()))


@functools.lru_cache(maxsize=2)
def _load(source: ImageSource, signature: tuple) -> tuple[Photo, ...]:
    if source.folder is None:
        return tuple(bundled_photos())
    return tuple(load_folder(source.folder))


def image_source(images: Any) -> ImageSource:
    """``images`` as an :class:`ImageSource`: ``None`` (bundled photographs), a folder path, or one already.

    >>> image_source(None) == ImageSource()
    True
    """
    if images is None or isinstance(images, ImageSource):
        return images or ImageSource()
    if isinstance(images, (str, os.PathLike)):
        return ImageSource(str(Path(images).resolve()))
    raise TypeError(f"images must be None (the bundled photographs), a folder path or an ImageSource, "
                    f"got {type(images).__name__}")


def check_sizes(photos: Sequence[Photo], size: int) -> None:
    """Refuse images smaller than ``size`` × ``size`` (the budget's crop), naming each file and the size needed.

    >>> check_sizes([Photo("tiny", torch.zeros(3, 8, 20, dtype=torch.uint8), "/data/tiny.png")], 16)
    Traceback (most recent call last):
    ...
    ValueError: images too small for crops of 16x16 pixels (the budget's size): /data/tiny.png (8x20); ...
    """
    small = [p for p in photos if min(p.size) < size]
    if small:
        listed = ", ".join(f"{p.source if os.sep in p.source else p.name} ({p.size[0]}x{p.size[1]})" for p in small)
        raise ValueError(f"images too small for crops of {size}x{size} pixels (the budget's size): {listed}; "
                         "remove them or choose a budget with a smaller size")


def crop_source_index(count: int, n_sources: int) -> torch.Tensor:
    """Which source each of ``count`` crops is cut from: crop ``i`` from source ``i mod n_sources``.

    >>> crop_source_index(5, 2).tolist()
    [0, 1, 0, 1, 0]
    """
    return torch.arange(positive_int(count, "count"), dtype=torch.int64) % positive_int(n_sources, "n_sources")


def cut_crops(sources: Sequence[torch.Tensor], count: int, size: int, seed: int) -> torch.Tensor:
    """``count`` crops ``uint8 (count, C, size, size)``, crop ``i`` from ``sources[i mod S]`` at a seeded position.

    >>> sources = [torch.arange(64, dtype=torch.uint8).view(1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.uint8)]
    >>> crops = cut_crops(sources, 3, 4, seed=0)
    >>> tuple(crops.shape), int(crops[1].max()), torch.equal(crops, cut_crops(sources, 3, 4, seed=0))
    ((3, 1, 4, 4), 0, True)
    """
    if not sources:
        raise ValueError("sources must hold at least one image")
    count, size, seed = positive_int(count, "count"), positive_int(size, "size"), integer(seed, "seed")
    index = crop_source_index(count, len(sources))
    crops = torch.empty((count, *sources[0].shape[:-2], size, size), dtype=torch.uint8)
    for j, source in enumerate(sources[:count]):
        rows = (index == j).nonzero().flatten()
        h, w = source.shape[-2:]
        position_seed = (seed * 1_000_003 + j) % 2**63
        crops[rows] = extract_patches(source, patch_positions(int(h), int(w), size, rows.numel(), position_seed), size)
    return crops


def make_context(source: ImageSource, budget: Budget, seed: int, device: str | torch.device = "auto") -> Context:
    """The context of one seed: ``budget.images`` crops of ``budget.size`` (on ``device``) and the full sources.

    >>> context = make_context(ImageSource(), BUDGETS["quick"], seed=0, device="cpu")
    >>> tuple(context.images.shape), len(context.sources)
    ((4, 3, 32, 32), 11)
    """
    photos = source.load()
    check_sizes(photos, budget.size)
    sources = tuple(p.image for p in photos)
    device = resolve_device(device)
    images = cut_crops(sources, budget.images, budget.size, seed).to(device)
    return Context(images=images, seed=seed, budget=budget, sources=sources, device=device)


def images_fingerprint(photos: Sequence[Photo]) -> str:
    """A short SHA-256 of the images' names, shapes and pixels (cells of other images are not reused).

    >>> images_fingerprint([Photo("a", torch.zeros(1, 2, 2, dtype=torch.uint8), "x")])
    '5dd2e4ce444a63c6'
    """
    digest = hashlib.sha256()
    for photo in photos:
        digest.update(f"{photo.name}{tuple(photo.image.shape)}".encode())
        digest.update(photo.image.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# ------------------------------------------------------------------------------------ criteria


def all_criteria() -> dict[str, Criterion]:
    """Every criterion of the criteria modules that exist (:data:`CRITERIA_MODULES`), by cell-level name.

    >>> all(callable(c) for c in all_criteria().values())
    True
    """
    found: dict[str, Criterion] = {}
    for name in CRITERIA_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__package__}.{name}":
                raise
            continue
        for criterion, function in getattr(module, "CRITERIA", {}).items():
            if criterion in found:
                raise ValueError(f"criterion {criterion!r} is defined twice (again in {module.__name__})")
            found[criterion] = function
    return found


def select_criteria(names: Sequence[str] | None, available: Mapping[str, Criterion] | None = None
                    ) -> dict[str, Criterion]:
    """The criteria called ``names`` (all of ``available``, default :func:`all_criteria`, when ``None``).

    >>> select_criteria(["mean"], {"mean": len, "max": max})
    {'mean': <built-in function len>}
    """
    available = dict(all_criteria() if available is None else available)
    if names is None:
        return available
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        raise ValueError(f"criteria must be a non-empty list of names from {sorted(available)}, got {names!r}")
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown criteria {unknown}; choose from {sorted(available)}")
    return {n: available[n] for n in dict.fromkeys(names)}


# ------------------------------------------------------------------------------------ cells


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


@dataclass(frozen=True)
class Cell:
    """One scheme × criterion × seed: picklable data for :func:`run_cell`."""

    subject: Subject
    criterion_name: str
    criterion: Criterion
    seed: int
    budget: Budget
    images: ImageSource
    device: str

    @property
    def id(self) -> str:
        """A file-name-safe identifier, e.g. ``identity--entropy--seed0`` (plus a short hash when names had
        characters a file name cannot hold, such as ``pkg.mod:attr``)."""
        raw = f"{self.subject.name}--{self.criterion_name}--seed{self.seed}"
        safe = _safe(raw)
        return safe if safe == raw else f"{safe}-{hashlib.sha256(raw.encode()).hexdigest()[:6]}"


_KEYS: OrderedDict[tuple, Any] = OrderedDict()


def _key(cell: Cell, context: Context) -> Any:
    """The cell's key, made once per process for a scheme, seed, budget, image source and device."""
    cache_key = (cell.subject.name, repr(cell.subject.cipher), cell.seed, cell.budget, cell.images,
                 str(context.device))
    if cache_key in _KEYS:
        _KEYS.move_to_end(cache_key)
        return _KEYS[cache_key]
    key = cell.subject.key(cell.seed, context)
    _KEYS[cache_key] = key
    while len(_KEYS) > KEY_CACHE_SIZE:
        _KEYS.popitem(last=False)
    return key


def declared(criterion: Criterion) -> tuple[str, str]:
    """``(family, adversary)`` that ``criterion``'s module declares (``FAMILY``, ``ADVERSARY``);
    ``("custom", "none")`` for a function defined elsewhere.

    >>> from imgleak.scorecard.statistical import entropy
    >>> declared(entropy)
    ('statistical', 'statistical')
    """
    module = sys.modules.get(getattr(criterion, "__module__", "") or "")
    return getattr(module, "FAMILY", "custom"), getattr(module, "ADVERSARY", "none")


def _row(cell: Cell, measurement: Any, seconds: float) -> dict[str, Any]:
    if not isinstance(measurement, Measurement):
        raise TypeError(f"criterion {cell.criterion_name!r} must return a list of Measurement, "
                        f"got an item of type {type(measurement).__name__}")
    family, adversary = declared(cell.criterion)
    return {**measurement.to_row(), "family": family, "adversary": measurement.adversary or adversary,
            "scheme": cell.subject.name, "seed": cell.seed, "seconds": seconds, "cell": cell.id, "error": ""}


def _error_row(cell: Cell, error: BaseException, seconds: float) -> dict[str, Any]:
    family, adversary = declared(cell.criterion)
    return {"scheme": cell.subject.name, "criterion": cell.criterion_name, "family": family, "adversary": adversary,
            "seed": cell.seed, "value": math.nan, "unit": "", "leaks_more": "none", "p_value": math.nan,
            "setting": "{}", "verdict": "", "seconds": seconds, "cell": cell.id,
            "error": f"{type(error).__name__}: {error}"}


def _record(cell: Cell) -> dict[str, Any]:
    """A cell's record before it runs (its rows, seconds and error come after)."""
    return {"cell": cell.id, "scheme": cell.subject.name, "criterion": cell.criterion_name, "seed": cell.seed,
            "budget": cell.budget.name, "device": cell.device, "key_fingerprint": "", "error": ""}


class _CellKey:
    """``make_key`` of the subject a criterion gets: for the cell's seed and context, the key made once
    per process (:func:`_key`), on first use only (a criterion that needs no key costs no training);
    any other seed or context gets a key made as the original subject makes it. Remembers the
    fingerprint of the key it gave."""

    def __init__(self, cell: Cell, context: Context) -> None:
        self.cell, self.context, self.fingerprint = cell, context, ""

    def __call__(self, seed: int, context: Context) -> Any:
        if seed != self.cell.seed or context is not self.context:
            return self.cell.subject.key(seed, context)
        key = _key(self.cell, context)
        self.fingerprint = self.fingerprint or fingerprint(key)
        return key


def run_cell(cell: Cell) -> dict[str, Any]:
    """Measure one cell; a record with its rows, seconds, device and key fingerprint (never the key).

    An exception inside the cell is caught and recorded (``error``: type and message).

    >>> from imgleak.scorecard.schemes import library_schemes
    >>> def count(subject, context): return [Measurement("count", len(context.images), "images", "none")]
    >>> record = run_cell(Cell(library_schemes()["identity"], "count", count, 0, BUDGETS["quick"], ImageSource(), "cpu"))
    >>> record["rows"][0]["value"], record["error"], record["key_fingerprint"]  # no key asked for: none made
    (4.0, '', '')
    """
    start = time.perf_counter()
    record, make_key = _record(cell), None
    try:
        context = make_context(cell.images, cell.budget, cell.seed, cell.device)
        record["device"] = str(context.device)
        make_key = _CellKey(cell, context)
        subject = Subject(cell.subject.name, cell.subject.cipher, make_key, cell.subject.trained_keys)
        measurements = cell.criterion(subject, context)
        if not isinstance(measurements, (list, tuple)) or not measurements:
            raise TypeError(f"criterion {cell.criterion_name!r} must return a non-empty list of Measurement, "
                            f"got {type(measurements).__name__}")
        seconds = time.perf_counter() - start
        record["rows"] = [_row(cell, m, seconds) for m in measurements]
    except Exception as error:  # recorded, the other cells go on
        seconds = time.perf_counter() - start
        record["rows"], record["error"] = [_error_row(cell, error, seconds)], f"{type(error).__name__}: {error}"
    record["seconds"], record["key_fingerprint"] = seconds, make_key.fingerprint if make_key else ""
    return record


# ------------------------------------------------------------------------------------ files


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a temp file in the same folder, then a rename).

    >>> path = Path(tempfile.mkdtemp()) / "cell.json"
    >>> write_json(path, {"value": 1.5}); json.loads(path.read_text())
    {'value': 1.5}
    """
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(data, file, indent=1, default=str)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _settings(budget: Budget, source: ImageSource, fingerprint: str) -> dict[str, Any]:
    return {"budget": asdict(budget), "images": {"source": source.describe(), "fingerprint": fingerprint}}


def _settings_hash(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _finished(cells_dir: Path, budget: Budget, settings_hash: str, resume: bool) -> dict[str, dict[str, Any]]:
    """The successful cells already in ``cells_dir`` (refusing other budgets or settings; none unless ``resume``)."""
    files = sorted(cells_dir.glob("*.json")) if cells_dir.is_dir() else []
    if files and not resume:
        raise ValueError(f"{cells_dir} already holds {len(files)} cells: pass resume=True to reuse them, "
                         "or choose another out_dir")
    done = {}
    for file in files:
        record = json.loads(file.read_text())
        if record.get("budget") != budget.name:
            raise ValueError(f"{cells_dir} holds cells of budget {record.get('budget')!r}; this run's budget is "
                             f"{budget.name!r}: budgets are not mixed in one output folder, choose another out_dir")
        if record.get("settings") != settings_hash:
            raise ValueError(f"{cells_dir} holds cells computed with other settings or other images than this run "
                             f"(cell {record.get('cell')!r}): choose another out_dir")
        if not record.get("error"):
            done[record["cell"]] = record
    return done


def table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The scorecard table (:data:`COLUMNS`) of cell records, in their order.

    >>> table([]).columns.tolist() == list(COLUMNS)
    True
    """
    rows = [row for record in records for row in record["rows"]]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["value"] = frame["value"].astype(float)
    frame["seed"] = frame["seed"].astype(int)
    frame["seconds"] = frame["seconds"].astype(float)
    return frame


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


def check_budget(budget: Budget | str) -> Budget:
    """``budget`` as a :class:`Budget` (a name of :data:`BUDGETS` or one already).

    >>> check_budget("quick").size
    32
    """
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, str) and budget in BUDGETS:
        return BUDGETS[budget]
    raise ValueError(f"budget must be one of {sorted(BUDGETS)} or a Budget, got {budget!r}")


def check_seeds(seeds: int | Sequence[int]) -> list[int]:
    """``seeds`` as a list: a count ``n`` means seeds ``0 … n-1``.

    >>> check_seeds(3), check_seeds([7, 1])
    ([0, 1, 2], [7, 1])
    """
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        out = [integer(s, "seeds") for s in seeds]
        if not out or len(set(out)) != len(out):
            raise ValueError(f"seeds must be a count or a non-empty list of distinct ints, got {seeds!r}")
        return out
    return list(range(positive_int(seeds, "seeds")))


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
                record = {**_record(futures[future]), "error": f"{type(error).__name__}: {error}", "seconds": 0.0,
                          "rows": [_error_row(futures[future], error, 0.0)]}
            finish(record)
    finally:
        for future in futures:
            future.cancel()


def _describe_subject(subject: Subject, shape: tuple[int, ...]) -> dict[str, Any]:
    try:
        bits = float(subject.cipher.key_space_log2(shape))
    except Exception:  # a user's scheme may not say
        bits = math.nan
    return {"name": subject.name, "describe": subject.cipher.describe(), "invertible": bool(subject.cipher.invertible),
            "per_image_keys": bool(subject.cipher.per_image_keys), "key_space_log2": None if math.isnan(bits) else bits}


@contextlib.contextmanager
def dask_executor(workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor | None]:
    """A dask.distributed executor for :func:`run`: a ``LocalCluster`` of ``workers`` processes (one
    thread each), or the existing cluster at ``scheduler`` (e.g. one dask-jobqueue started on Slurm);
    ``None`` (serial) when neither is given. Closed on exit.

    >>> with dask_executor() as executor:
    ...     executor is None
    True
    """
    if workers is not None and scheduler is not None:
        raise ValueError("give workers (a local cluster) or scheduler (an existing one), not both")
    if workers is None and scheduler is None:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler is not None:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=positive_int(workers, "workers"), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
    settings = _settings(budget, source, images_fingerprint(photos))
    settings_hash = _settings_hash(settings)
    out, cells_dir = Path(out_dir), Path(out_dir) / "cells"
    done = _finished(cells_dir, budget, settings_hash, resume)
    cells = [Cell(s, name, function, seed, budget, source, str(device))
             for s in subjects for name, function in criteria.items() for seed in seeds]
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
        record["settings"] = settings_hash
        write_json(cells_dir / f"{record['cell']}.json", record)
        records[record["cell"]] = record
        bar.update()
        bar.set_postfix_str(record["cell"])

    try:
        _execute([c for c in cells if c.id not in records], executor, finish)
    finally:
        bar.close()
    return table(records[c.id] for c in cells)


# ------------------------------------------------------------------------------------ provenance


PACKAGES = ("imgleak", "torch", "torchvision", "numpy", "pandas", "dask", "distributed")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The git commit of the checkout holding ``path`` (default: imgleak's source), ``+dirty`` when it has
    uncommitted changes; ``None`` outside a git checkout or without git.

    >>> git_commit("/") is None or len(git_commit("/")) >= 40
    True
    """
    folder = Path(path) if path is not None else Path(__file__).parent
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance(out_dir: str | os.PathLike) -> dict[str, Any]:
    """What produced the scorecard in ``out_dir``: package versions, git commit, every setting
    (budget, images, seeds, device, schemes, criteria) and per cell its seconds, device, error and
    key fingerprint. No key material.

    >>> from imgleak.scorecard.schemes import library_schemes
    >>> def count(subject, context): return [Measurement("count", len(context.images), "images", "none")]
    >>> out = tempfile.mkdtemp()
    >>> _ = run([library_schemes()["identity"]], {"count": count}, None, "quick", [5], out, progress=False)
    >>> record = provenance(out)
    >>> record["seeds"], record["budget"]["name"], [c["cell"] for c in record["cells"]], "torch" in record["versions"]
    ([5], 'quick', ['identity--count--seed5'], True)
    """
    out = Path(out_dir)
    settings = json.loads((out / "run.json").read_text())
    cells = []
    for cell_id in settings["cells"]:
        path = out / "cells" / f"{cell_id}.json"
        if path.is_file():
            record = json.loads(path.read_text())
            cells.append({k: record.get(k) for k in ("cell", "seconds", "device", "error", "key_fingerprint")})
    return {"versions": {p: _version(p) for p in PACKAGES}, "lock": lock_record(), "python": platform.python_version(),
            "platform": platform.platform(), "git_commit": git_commit(), **settings, "cells": cells,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


__all__ = ["COLUMNS", "CRITERIA_MODULES", "Cell", "declared", "ImageSource", "all_criteria", "check_budget", "check_seeds",
           "check_sizes", "crop_source_index", "cut_crops", "dask_executor", "git_commit", "image_source", "images_fingerprint",
           "make_context", "provenance", "run", "run_cell", "select_criteria", "table",
           "write_json"]
