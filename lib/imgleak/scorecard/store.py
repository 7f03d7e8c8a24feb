"""What a scorecard run keeps on disk: each finished cell as JSON (temp file + rename, so an
interrupted run loses only the running cells), the settings a resume must match, the table
built from the cell records, and the run's provenance (versions, the dependency lock, git
commit, settings, per-cell seconds and key fingerprints; never a key)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..provenance import lock_record
from .base import Budget
from .cells import COLUMNS
from .sources import ImageSource

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


def run_settings(budget: Budget, source: ImageSource, fingerprint: str) -> dict[str, Any]:
    return {"budget": asdict(budget), "images": {"source": source.describe(), "fingerprint": fingerprint}}


def settings_hash(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _read_cell(file: Path) -> dict[str, Any]:
    """One cell file's record, or a ``ValueError`` naming the file and what to do."""
    try:
        record = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        record = error
    if not isinstance(record, dict) or not isinstance(record.get("cell"), str) or not isinstance(
            record.get("rows"), list):
        detail = record if isinstance(record, Exception) else "not a cell record"
        raise ValueError(f"cell file {file} is unreadable ({detail}): delete it to recompute that cell, "
                         "then resume again")
    return record


def finished_cells(cells_dir: Path, budget: Budget, settings_hash: str, resume: bool,
                   cell_ids: Collection[str] | None = None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The successful cells already in ``cells_dir`` by id, and the ids of its failed ones (run again).

    Refuses, naming the folder: cells unless ``resume``, other budgets or settings, an unreadable cell
    file (named), and cells this run would drop: with ``cell_ids`` (this run's cells), every cell on
    disk must be among them, so a resume never loses a finished result.
    """
    files = sorted(cells_dir.glob("*.json")) if cells_dir.is_dir() else []
    if files and not resume:
        raise ValueError(f"{cells_dir} already holds {len(files)} cells: pass resume=True to reuse them, "
                         "or choose another out_dir")
    done, failed = {}, []
    for file in files:
        record = _read_cell(file)
        if record.get("budget") != budget.name:
            raise ValueError(f"{cells_dir} holds cells of budget {record.get('budget')!r}; this run's budget is "
                             f"{budget.name!r}: budgets are not mixed in one output folder, choose another out_dir")
        if record.get("settings") != settings_hash:
            raise ValueError(f"{cells_dir} holds cells computed with other settings or other images than this run "
                             f"(cell {record.get('cell')!r}): choose another out_dir")
        if record.get("error"):
            failed.append(record["cell"])
        else:
            done[record["cell"]] = record
    dropped = [] if cell_ids is None else sorted(set(done).union(failed) - set(cell_ids))
    if dropped:
        raise ValueError(f"{cells_dir} holds {len(dropped)} cell(s) this run does not include "
                         f"({', '.join(dropped[:3])}{', ...' if len(dropped) > 3 else ''}): "
                         "a resume never drops results; give at least the schemes, criteria and seeds of the run in "
                         f"that folder (its run.json lists them), or choose another out_dir")
    return done, failed


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
    >>> from imgleak.scorecard.base import Measurement
    >>> from imgleak.scorecard.runner import run
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


__all__ = ['PACKAGES', 'git_commit', 'provenance', 'table', 'write_json']
