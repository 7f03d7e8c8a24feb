"""The notebook → book pipeline behind ``imgleak book`` and ``make book``.

1. ``jupytext`` turns each chapter source ``notebooks/<name>.py`` (percent format, with a cell
   tagged ``parameters``) into a notebook with a ``python3`` kernelspec;
2. ``papermill`` executes it with the profile's parameters (``book/profiles/<profile>.yaml``)
   plus any overrides, writing ``book/chapters/<name>.ipynb``;
3. ``jupyter-book build`` renders ``_build/html`` from those executed notebooks (execution
   ``'off'``, nitpicky, warnings as errors).

A chapter whose source, parameters and library code are unchanged since its last execution is
not executed again: the executed notebook records a content hash of the three. The chapter
list is the one in ``_toc.yml`` (every ``book/chapters/<name>`` entry).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

import imgleak
from imgleak.provenance import LOCK_FILE, lock_record

CHAPTERS_DIR = Path("book") / "chapters"
PROFILES_DIR = Path("book") / "profiles"
SOURCES_DIR = Path("notebooks")
KERNEL_NAME = "python3"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}


class BookError(RuntimeError):
    """The book could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class Profile:
    """A named set of chapter parameters, environment variables and a cell timeout."""

    name: str
    chapters: dict[str, dict[str, Any]]
    env: dict[str, str] = field(default_factory=dict)
    timeout: int = 1800


@dataclass
class ChapterRun:
    """What happened to one chapter in a run of the pipeline."""

    name: str
    parameters: dict[str, Any]
    executed: bool
    seconds: float


def project_root(root: str | os.PathLike | None = None) -> Path:
    """The book's root folder (holding ``_config.yml`` and ``_toc.yml``); default: the current folder."""
    path = Path(root) if root is not None else Path.cwd()
    for required in ("_config.yml", "_toc.yml"):
        if not (path / required).is_file():
            raise BookError(f"{str(path)!r} has no {required}: run from the project root or pass --root")
    return path.resolve()


def _toc_files(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if isinstance(node.get("file"), str):
            yield node["file"]
        for value in node.values():
            yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def chapter_names(root: Path) -> list[str]:
    """The chapters listed in ``_toc.yml``, in order (entries under ``book/chapters/``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    prefix = CHAPTERS_DIR.as_posix() + "/"
    names = [Path(f).stem for f in _toc_files(toc) if f.startswith(prefix)]
    for name in names:
        if not (root / SOURCES_DIR / f"{name}.py").is_file():
            raise BookError(f"_toc.yml lists chapter {name!r} but {SOURCES_DIR / (name + '.py')} does not exist")
    return names


def load_profile(root: Path, name: str) -> Profile:
    """Read ``book/profiles/<name>.yaml``."""
    path = root / PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (root / PROFILES_DIR).glob("*.yaml"))
        raise BookError(f"unknown profile {name!r}; available: {', '.join(available) or 'none'}")
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - {"chapters", "env", "timeout"}
    if unknown:
        raise BookError(f"{path}: unknown keys {sorted(unknown)} (allowed: chapters, env, timeout)")
    return Profile(
        name=name,
        chapters={k: dict(v or {}) for k, v in (data.get("chapters") or {}).items()},
        env={k: str(v) for k, v in (data.get("env") or {}).items()},
        timeout=int(data.get("timeout", 1800)),
    )


def to_notebook(source: Path, destination: Path) -> None:
    """Convert a jupytext percent-format ``.py`` into an ``.ipynb`` with a python3 kernelspec."""
    import jupytext

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata.setdefault("language_info", {"name": "python"})
    if not any("parameters" in c.metadata.get("tags", []) for c in notebook.cells):
        raise BookError(f"{source} has no cell tagged parameters (write it as: # %% tags=[\"parameters\"])")
    jupytext.write(notebook, destination, fmt="ipynb")


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The parameters a notebook declares in its ``parameters`` cell, with their defaults."""
    import papermill

    return {name: info["default"] for name, info in papermill.inspect_notebook(str(notebook)).items()}


def _library_digest() -> str:
    """Hash of the library's code, the data it ships (the papers' numbers in ``*.yaml``) and the
    dependency lock's digest (new locked versions execute the chapters again)."""
    digest = hashlib.sha256()
    package = Path(imgleak.__file__).parent
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(str(lock_record()["sha256"]).encode())
    return digest.hexdigest()


def content_hash(source: Path, parameters: dict[str, Any], library_digest: str) -> str:
    """Hash of a chapter's source, its parameters and the library code it imports."""
    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    digest.update(library_digest.encode())
    return digest.hexdigest()


def recorded_hash(executed: Path) -> str | None:
    """The content hash stored in an executed chapter, if it exists."""
    if not executed.is_file():
        return None
    try:
        return json.loads(executed.read_text())["metadata"]["imgleak"]["hash"]
    except (KeyError, ValueError, TypeError):
        return None


def _describe_failure(name: str, error: Exception, kept: Path) -> str:
    cell = getattr(error, "source", None)
    lines = [f"chapter {name!r} failed while executing; the notebook as far as it ran is {kept}"]
    if cell is not None:
        lines += ["--- failing cell ---", cell.rstrip(), "--- error ---",
                  f"{getattr(error, 'ename', '')}: {getattr(error, 'evalue', '')}"]
        traceback = getattr(error, "traceback", None) or []
        if traceback:
            lines.append(ANSI_ESCAPE.sub("", "\n".join(traceback)))
    else:
        lines.append(f"{type(error).__name__}: {error}")
    return "\n".join(lines)


def execute_chapter(root: Path, name: str, parameters: dict[str, Any], profile: Profile, chapter_hash: str) -> None:
    """Convert and execute one chapter into ``book/chapters/<name>.ipynb`` (replaced only on success)."""
    import nbformat
    import papermill

    output = root / CHAPTERS_DIR / f"{name}.ipynb"
    failed = root / "_build" / "failed" / f"{name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"imgleak-{name}-") as tmp:
        source_nb = Path(tmp) / f"{name}.ipynb"
        executed = Path(tmp) / f"{name}.executed.ipynb"
        to_notebook(root / SOURCES_DIR / f"{name}.py", source_nb)
        unknown = set(parameters) - set(declared_parameters(source_nb))
        if unknown:
            raise BookError(
                f"chapter {name!r} has no parameter(s) {sorted(unknown)}; it declares: "
                f"{', '.join(declared_parameters(source_nb))}"
            )
        # The kernel inherits this process's environment; figures must use the inline backend
        # whatever MPLBACKEND the caller set for itself.
        environment = {**os.environ, **profile.env, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        old_environ = dict(os.environ)
        os.environ.update(environment)
        try:
            papermill.execute_notebook(
                str(source_nb), str(executed), parameters=parameters, kernel_name=KERNEL_NAME,
                execution_timeout=profile.timeout, progress_bar=True, cwd=str(root),
            )
        except Exception as error:  # papermill raises its own error types, plus kernel deaths
            failed.parent.mkdir(parents=True, exist_ok=True)
            if executed.exists():
                shutil.copyfile(executed, failed)
            raise BookError(_describe_failure(name, error, failed)) from None
        finally:
            os.environ.clear()
            os.environ.update(old_environ)
        notebook = nbformat.read(executed, as_version=4)
        notebook.metadata["imgleak"] = {"hash": chapter_hash, "profile": profile.name, "parameters": parameters,
                                        "lock": lock_record()}
        nbformat.write(notebook, executed)
        shutil.move(executed, output)


def build_html(root: Path) -> Path:
    """Run ``jupyter-book build`` (nitpicky, warnings as errors) and return ``index.html``."""
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(root),
               "--builder", "html", "-n", "-W", "--keep-going"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        output = ANSI_ESCAPE.sub("", result.stdout + result.stderr)
        problems = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
        raise BookError("jupyter-book build failed (warnings count as errors):\n"
                        + "\n".join(problems or output.splitlines()[-60:]))
    index = root / "_build" / "html" / "index.html"
    if not index.is_file():
        raise BookError(f"jupyter-book finished but {index} is missing")
    return index


def parse_value(text: str, name: str = "value") -> Any:
    """A command-line parameter value read as YAML (``3`` → int, ``[1, 2]`` → list, ``abc`` → str).

    Raises ``ValueError`` naming the parameter ``name`` when ``text`` is not valid YAML.
    """
    if not isinstance(text, str):
        raise TypeError(f"the value of parameter {name!r} must be YAML text (a str), got {type(text).__name__}")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        problem = f"{getattr(err, 'problem', None) or 'cannot be parsed'}" + (f" at column {where.column + 1}" if where else "")
        raise ValueError(f"the value of parameter {name!r} is not valid YAML: {text!r} ({problem}); "
                         "write it as YAML, e.g. 3, 0.5, [1, 2], astronaut or '\"quoted text\"'") from None


def source_parameters(root: Path, name: str) -> dict[str, Any]:
    """The parameters chapter ``name`` declares in ``notebooks/<name>.py``, with their defaults (as text)."""
    with tempfile.TemporaryDirectory(prefix=f"imgleak-{name}-") as tmp:
        notebook = Path(tmp) / f"{name}.ipynb"
        to_notebook(root / SOURCES_DIR / f"{name}.py", notebook)
        return declared_parameters(notebook)


def _book_overrides(root: Path, names: list[str], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Whole-book overrides per chapter: each chapter takes those it declares; a name no chapter declares is an error."""
    declared = {name: source_parameters(root, name) for name in names}
    unknown = sorted(set(overrides) - {p for parameters in declared.values() for p in parameters})
    if unknown:
        listing = "; ".join(f"chapter {n!r} declares: {', '.join(p)}" for n, p in declared.items())
        raise BookError(f"the book has no parameter(s) {unknown}; {listing}")
    return {name: {k: v for k, v in overrides.items() if k in declared[name]} for name in names}


def build_book(
    root: str | os.PathLike | None = None,
    profile: str = "default",
    chapter: str | None = None,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    log=print,
    html: bool = True,
) -> tuple[Path | None, list[ChapterRun]]:
    """Execute the chapters that need it and build the HTML book; return ``index.html`` and what ran.

    ``chapter`` restricts (re-)execution to one chapter; the others are executed only if they
    have never been executed. ``overrides`` replace profile parameters of the executed chapters;
    without ``chapter`` each chapter takes the overrides it declares (``device`` goes to the
    chapters that have one) and a name that no chapter declares is an error. ``html=False``
    executes the chapters into ``book/chapters`` without building the HTML (index ``None``):
    for a machine without Sphinx, e.g. a GPU box.
    """
    root = project_root(root)
    names = chapter_names(root)
    settings = load_profile(root, profile)
    unknown_chapters = set(settings.chapters) - set(names)
    if unknown_chapters:
        raise BookError(f"profile {profile!r} sets parameters for unknown chapter(s) {sorted(unknown_chapters)}")
    if chapter is not None and chapter not in names:
        raise BookError(f"unknown chapter {chapter!r}; chapters: {', '.join(names)}")
    overrides = dict(overrides or {})
    per_chapter = _book_overrides(root, names, overrides) if chapter is None and overrides else {}
    library = _library_digest()
    lock = lock_record()
    if lock["sha256"] is None:
        log(f"no {LOCK_FILE} beside the library: the chapters record the installed versions only")
    else:
        log(f"dependencies: {LOCK_FILE} sha256 {lock['sha256'][:12]}, "
            + (f"{len(lock['mismatches'])} package(s) not at the locked version: {'; '.join(lock['mismatches'][:5])}"
               if lock["mismatches"] else "every package at its locked version"))
    runs = []
    for name in names:
        output = root / CHAPTERS_DIR / f"{name}.ipynb"
        selected = chapter is None or name == chapter
        chosen = per_chapter.get(name, overrides) if selected else {}
        parameters = {**settings.chapters.get(name, {}), **chosen}
        chapter_hash = content_hash(root / SOURCES_DIR / f"{name}.py", parameters, library)
        stale = recorded_hash(output) != chapter_hash
        needed = not output.is_file() or (selected and (force or stale))
        if not needed:
            log(f"[{name}] up to date" if not stale else f"[{name}] kept (not selected; rerun without --chapter to refresh)")
            runs.append(ChapterRun(name, parameters, executed=False, seconds=0.0))
            continue
        log(f"[{name}] executing with profile {profile!r}, parameters {parameters}")
        start = time.perf_counter()
        execute_chapter(root, name, parameters, settings, chapter_hash)
        runs.append(ChapterRun(name, parameters, executed=True, seconds=time.perf_counter() - start))
        log(f"[{name}] done in {runs[-1].seconds:.1f} s")
    if not html:
        log(f"executed chapters are in {root / CHAPTERS_DIR}; HTML not built (html=False)")
        return None, runs
    log("building the HTML book with jupyter-book")
    index = build_html(root)
    return index, runs
