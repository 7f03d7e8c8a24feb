"""A book built once per test session with the ``quick`` profile, in a temporary copy of the project."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def copy_book_sources(destination: Path) -> Path:
    """Copy what the pipeline reads (config, toc, book/, notebooks/) without executed chapters."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, destination / name)
    shutil.copytree(REPO / "notebooks", destination / "notebooks")
    shutil.copytree(REPO / "book", destination / "book", ignore=shutil.ignore_patterns("chapters"))
    # Stray documents in hidden folders (pytest's cache writes one) must not enter the book.
    (destination / ".pytest_cache").mkdir()
    (destination / ".pytest_cache" / "README.md").write_text("# not a chapter\n")
    return destination


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run ``imgleak book --profile quick`` on a fresh copy; return the copy's root."""
    root = copy_book_sources(tmp_path_factory.mktemp("book"))
    result = subprocess.run(
        [sys.executable, "-m", "imgleak.cli", "book", "--root", str(root), "--profile", "quick"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, f"imgleak book failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    assert "The book is at" in result.stdout
    # The content cache (trained networks, MI estimates) serves a rebuild; no test reads it.
    shutil.rmtree(root / ".cache", ignore_errors=True)
    return root


@pytest.fixture(scope="module")
def book_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of the book's sources (no executed chapters), one per test module."""
    return copy_book_sources(tmp_path_factory.mktemp("book"))
