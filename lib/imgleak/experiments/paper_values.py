"""The papers' published numbers, kept as data in ``paper_values.yaml`` beside this module.

Each entry is one table exactly as printed, with the paper and the table / figure it comes from:

>>> float(table("attacks_ssim").loc["tanaka", "itn"])
0.9147
>>> source("rvt_accuracy").paper.split(",")[0]
'Cao et al.'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .. import _checks

PATH = Path(__file__).with_name("paper_values.yaml")
"""The data file (shipped as package data)."""


@dataclass(frozen=True)
class Source:
    """Where a set of published numbers comes from: the ``paper`` and the place in it (``where``)."""

    paper: str
    where: str


@cache
def _entries() -> dict[str, dict[str, Any]]:
    with PATH.open(encoding="utf-8") as file:
        return yaml.safe_load(file)


def names() -> list[str]:
    """The names of the tables in the data file."""
    return list(_entries())


def table(name: str) -> pd.DataFrame:
    """The published table ``name`` (see :func:`names`): one row per printed row, indexed by its
    ``index`` column when the entry names one. A fresh copy on every call."""
    entry = _entries()[_checks.choice(name, "name", names())]
    frame = pd.DataFrame([list(row) for row in entry["rows"]], columns=list(entry["columns"]))
    return frame.set_index(entry["index"]) if "index" in entry else frame


def source(name: str) -> Source:
    """The paper and the table / figure / page the numbers of ``name`` come from."""
    entry = _entries()[_checks.choice(name, "name", names())]
    return Source(entry["paper"], entry["source"])


def sources() -> pd.DataFrame:
    """One row per table: ``name, paper, where`` (for a chapter's list of sources)."""
    return pd.DataFrame([(name, *vars(source(name)).values()) for name in names()],
                        columns=["name", "paper", "where"])


__all__ = ["PATH", "Source", "names", "source", "sources", "table"]
