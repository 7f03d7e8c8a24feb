"""The dependency lock: it agrees with pyproject.toml, pins everything with hashes, and results name it."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from imgleak.provenance import lock_path, lock_pins, lock_record

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_every_dependency_of_pyproject_is_locked_at_a_version_its_range_allows():
    pins = lock_pins(LOCK.read_text())
    problems = []
    for requirement in _project_requirements():
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{name} is not in the lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{name}=={pins[name]} is outside pyproject's {requirement.specifier} (run make lock)")
        for extra in requirement.extras:  # dask[distributed] brings distributed
            if extra == "distributed" and "distributed" not in pins:
                problems.append("distributed (dask[distributed]) is not in the lock")
    assert not problems, problems


def test_every_locked_package_is_pinned_exactly_with_hashes():
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text().split("\n", 2)[2])  # after uv's two header lines
    entries = [b for b in blocks if not b.startswith("#")]
    assert len(entries) == len(lock_pins(LOCK.read_text())) > 50
    unhashed = [b.split()[0] for b in entries if "--hash=sha256:" not in b]
    assert not unhashed


def test_conda_environment_installs_the_same_pins():
    environment = (ROOT / "environment.yml").read_text()
    assert "-r requirements.lock" in environment and "python=3.11" in environment


def test_lock_pins_reads_names_and_versions_only():
    text = "# header\nPyYAML==6.0.3 \\\n    --hash=sha256:ab\n    # via imgleak\nzope.interface==8.1 ; python_version >= '3'\n"
    assert lock_pins(text) == {"pyyaml": "6.0.3", "zope-interface": "8.1"}


def test_lock_record_names_the_digest_and_what_is_not_installed_as_locked(tmp_path):
    lock = tmp_path / "requirements.lock"
    installed = __import__("importlib.metadata").metadata.version("pytest")
    lock.write_text(f"pytest=={installed} \\\n    --hash=sha256:00\nnot-a-real-package-xyz==1.0\n")
    record = lock_record(lock)
    assert record["sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert record["mismatches"] == ["not-a-real-package-xyz: installed nothing, locked 1.0"]
    assert lock_record(tmp_path / "missing.lock") == {"file": None, "sha256": None, "mismatches": []}


def test_the_checkout_lock_is_the_one_results_name():
    if lock_path() is None:
        pytest.skip("imgleak is not imported from a source checkout")
    assert lock_path() == LOCK
    assert lock_record()["sha256"] == hashlib.sha256(LOCK.read_bytes()).hexdigest()
