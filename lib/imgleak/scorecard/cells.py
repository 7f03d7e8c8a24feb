"""The cells of a scorecard: every criterion (from the criteria modules, each declaring its family
and adversary), one cell per scheme × criterion × seed (:class:`Cell`, plain picklable data
with an id), the per-process key cache (a learned key is trained once per scheme and seed) and
:func:`run_cell`, which measures one cell and records its rows or its error."""

from __future__ import annotations

import hashlib
import importlib
import math
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .base import Budget, Context, Criterion, Measurement, Subject
from .key import fingerprint
from .sources import ImageSource, make_context

COLUMNS = ("scheme", "criterion", "family", "adversary", "seed", "value", "unit", "leaks_more", "p_value", "setting",
           "verdict", "seconds", "cell", "error")
"""The scorecard table's columns, one row per measurement (a failed cell: one row, ``value`` NaN, its ``error``)."""

CRITERIA_MODULES = ("statistical", "games", "information", "attacks", "utility", "key", "cost")
"""The criteria modules of :mod:`imgleak.scorecard`, each exposing ``CRITERIA`` (see :func:`all_criteria`)."""

KEY_CACHE_SIZE = 4
"""Keys kept per process (a learned key is trained once per scheme and seed, not once per criterion)."""


# ------------------------------------------------------------------------------------ criteria


def all_criteria() -> dict[str, Criterion]:
    """Every criterion of the criteria modules (:data:`CRITERIA_MODULES`), by cell-level name.

    >>> all(callable(c) for c in all_criteria().values())
    True
    """
    found: dict[str, Criterion] = {}
    for name in CRITERIA_MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
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


def error_row(cell: Cell, error: BaseException, seconds: float) -> dict[str, Any]:
    family, adversary = declared(cell.criterion)
    return {"scheme": cell.subject.name, "criterion": cell.criterion_name, "family": family, "adversary": adversary,
            "seed": cell.seed, "value": math.nan, "unit": "", "leaks_more": "none", "p_value": math.nan,
            "setting": "{}", "verdict": "", "seconds": seconds, "cell": cell.id,
            "error": f"{type(error).__name__}: {error}"}


def cell_record(cell: Cell) -> dict[str, Any]:
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
    >>> from imgleak.scorecard.base import BUDGETS
    >>> def count(subject, context): return [Measurement("count", len(context.images), "images", "none")]
    >>> record = run_cell(Cell(library_schemes()["identity"], "count", count, 0, BUDGETS["quick"], ImageSource(), "cpu"))
    >>> record["rows"][0]["value"], record["error"], record["key_fingerprint"]  # no key asked for: none made
    (4.0, '', '')
    """
    start = time.perf_counter()
    record, make_key = cell_record(cell), None
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
        record["rows"], record["error"] = [error_row(cell, error, seconds)], f"{type(error).__name__}: {error}"
    record["seconds"], record["key_fingerprint"] = seconds, make_key.fingerprint if make_key else ""
    return record


__all__ = ['COLUMNS', 'CRITERIA_MODULES', 'Cell', 'KEY_CACHE_SIZE', 'all_criteria', 'declared', 'run_cell', 'select_criteria']
