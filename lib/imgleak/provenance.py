"""Which environment produced a result: the dependency lock's digest and whether it is installed.

The book and ``imgleak evaluate`` are reproduced from ``requirements.lock`` (exact versions with
hashes, made by ``make lock``) at the root of a source checkout. :func:`lock_record` names the
lock by its SHA-256 and lists the pinned packages whose installed version differs from the pin,
so a result says whether it was made with the locked versions. Installed from a wheel, without a
checkout, there is no lock and the record says so.

>>> record = lock_record()
>>> sorted(record)
['file', 'mismatches', 'sha256']
"""

from __future__ import annotations

import hashlib
import re
from importlib import metadata
from pathlib import Path
from typing import Any

LOCK_FILE = "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")

__all__ = ["LOCK_FILE", "library_digest", "lock_path", "lock_pins", "lock_record"]


def lock_path() -> Path | None:
    """``requirements.lock`` of the checkout imgleak is imported from, or ``None`` (an installed wheel)."""
    path = Path(__file__).resolve().parents[2] / LOCK_FILE
    return path if path.is_file() else None


def lock_pins(text: str) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of a lock's text.

    >>> lock_pins("Torch==2.14.1 \\\\\\n    --hash=sha256:00\\nopen_clip_torch==3.3.0\\n# via x")
    {'torch': '2.14.1', 'open-clip-torch': '3.3.0'}
    """
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def lock_record(path: Path | None = None) -> dict[str, Any]:
    """``{"file", "sha256", "mismatches"}``: the lock (default :func:`lock_path`), its SHA-256, and
    ``"name: installed X, locked Y"`` for each pinned package installed at another version (or
    missing). Without a lock: file and digest ``None``, no mismatches to list."""
    path = lock_path() if path is None else Path(path)
    if path is None or not path.is_file():
        return {"file": None, "sha256": None, "mismatches": []}
    data = path.read_bytes()
    mismatches = []
    for name, version in lock_pins(data.decode()).items():
        installed = _installed(name)
        # a local build tag (torch 2.14.1+cu130) is the same release as the pin
        if installed is None or installed.split("+")[0] != version.split("+")[0]:
            mismatches.append(f"{name}: installed {installed or 'nothing'}, locked {version}")
    return {"file": str(path), "sha256": hashlib.sha256(data).hexdigest(), "mismatches": mismatches}


def library_digest() -> str:
    """SHA-256 of the library's code, the data it ships (``*.yaml``) and the lock's digest: what a
    result computed by imgleak depends on besides its inputs (new code or locked versions change it).

    >>> len(library_digest())
    64
    """
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(str(lock_record()["sha256"]).encode())
    return digest.hexdigest()
