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
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .book_jobs import ChapterRun, Job, available_cores, previous_seconds, run_jobs, share_threads, slow_cells
from .book_jobs import summary_table, thread_environment, write_summary
from .cache import CACHE_ENV, clear_cache
from .provenance import LOCK_FILE, library_digest, lock_record

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
    toc = _read_yaml(root / "_toc.yml")
    if not isinstance(toc, dict):
        raise BookError(f"{root / '_toc.yml'} must be a mapping (format: jb-book, root: ..., chapters: [...]), "
                        f"got {type(toc).__name__}")
    prefix = CHAPTERS_DIR.as_posix() + "/"
    names = [Path(f).stem for f in _toc_files(toc) if f.startswith(prefix)]
    for name in names:
        if not (root / SOURCES_DIR / f"{name}.py").is_file():
            raise BookError(f"_toc.yml lists chapter {name!r} but {SOURCES_DIR / (name + '.py')} does not exist")
    return names


def _read_yaml(path: Path) -> Any:
    """``path`` parsed as YAML; a syntax error is a :class:`BookError` naming the file, line and problem."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise BookError(f"{path} is not valid YAML{where}: {getattr(err, 'problem', None) or err}") from None


def _profile_chapters(path: Path, chapters: Any) -> dict[str, dict[str, Any]]:
    if chapters is None:
        return {}
    if not isinstance(chapters, dict):
        raise BookError(f"{path}: 'chapters' must map chapter names to their parameters, got {type(chapters).__name__}")
    bad = {k: v for k, v in chapters.items() if not isinstance(k, str) or not isinstance(v, (dict, type(None)))}
    if bad:
        name, value = next(iter(bad.items()))
        raise BookError(f"{path}: chapter {name!r} must map to parameters (name: value, or {{}}), "
                        f"got {type(value).__name__} {value!r}")
    return {k: dict(v or {}) for k, v in chapters.items()}


def _profile_env(path: Path, env: Any) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict) or any(isinstance(v, (dict, list)) for v in env.values()):
        raise BookError(f"{path}: 'env' must map variable names to values (e.g. HF_HUB_OFFLINE: \"1\"), got {env!r}")
    return {str(k): str(v) for k, v in env.items()}


def _profile_timeout(path: Path, timeout: Any) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise BookError(f"{path}: 'timeout' must be a whole number of seconds per cell (>= 1), got {timeout!r}")
    return timeout


def load_profile(root: Path, name: str) -> Profile:
    """Read ``book/profiles/<name>.yaml``; a malformed one is a :class:`BookError` naming the file and the key."""
    path = root / PROFILES_DIR / f"{name}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (root / PROFILES_DIR).glob("*.yaml"))
        raise BookError(f"unknown profile {name!r}; available: {', '.join(available) or 'none'}")
    data = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BookError(f"{path} must be a mapping with the keys chapters, env, timeout; got {type(data).__name__}")
    unknown = set(data) - {"chapters", "env", "timeout"}
    if unknown:
        raise BookError(f"{path}: unknown keys {sorted(map(str, unknown))} (allowed: chapters, env, timeout)")
    return Profile(name=name, chapters=_profile_chapters(path, data.get("chapters")),
                   env=_profile_env(path, data.get("env")), timeout=_profile_timeout(path, data.get("timeout", 1800)))


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


def source_commit(root: Path) -> str | None:
    """The git commit checked out at ``root``, with ``+changes`` when tracked files differ from it (no git: ``None``)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("+changes" if status.stdout.strip() else "")


def reproduce_command(name: str, profile: Profile, parameters: dict[str, Any]) -> str:
    """The ``imgleak book`` command that executes chapter ``name`` with ``parameters`` under ``profile``.

    >>> reproduce_command("a", Profile("quick", {"a": {"seed": 1}}), {"seed": 1, "levels": [0, 8]})
    "imgleak book --profile quick --chapter a -p levels '[0, 8]'"
    """
    base = profile.chapters.get(name, {})
    changed = {k: v for k, v in parameters.items() if k not in base or base[k] != v}
    options = "".join(f" -p {k} {shlex.quote(yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix(chr(10) + '...'))}"
                      for k, v in changed.items())
    return f"imgleak book --profile {profile.name} --chapter {name}{options}"


def reproduce_text(name: str, record: dict[str, Any], profile: Profile) -> str:
    """The markdown that ends every executed chapter: the command, commit and lock that produced it."""
    lock = record["lock"]
    commit = record["commit"] or "unknown (not a git checkout)"
    digest = f"`{LOCK_FILE}` sha256 `{lock['sha256'][:16]}`" if lock.get("sha256") else f"no `{LOCK_FILE}`"
    differ = f", {len(lock['mismatches'])} package(s) not at the locked version" if lock.get("mismatches") else ""
    return ("## Reproduce this page\n\n"
            f"This page was executed by\n\n```bash\n{reproduce_command(name, profile, record['parameters'])}\n```\n\n"
            f"at commit `{commit}` with {digest}{differ}, profile `{profile.name}` "
            f"(`book/profiles/{profile.name}.yaml`). From a clone at that commit, `make install` installs the lock and "
            "the command above executes this chapter again; the download button above gives the executed notebook.")


def book_cache(root: Path) -> Path:
    """Where the chapters' expensive results are cached (:mod:`imgleak.cache`): ``.cache/imgleak`` under the root,
    unless ``IMGLEAK_CACHE`` says otherwise."""
    return Path(os.environ.get(CACHE_ENV) or root / ".cache" / "imgleak")


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
        environment = {CACHE_ENV: str(book_cache(root)), **os.environ, **profile.env,
                       "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
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
        for cell in notebook.cells:  # papermill's injected parameters are folded like the defaults they override
            tags = cell.metadata.get("tags", [])
            if "injected-parameters" in tags and "hide-input" not in tags:
                cell.metadata["tags"] = [*tags, "hide-input"]
        record = {"hash": chapter_hash, "profile": profile.name, "parameters": parameters, "lock": lock_record(),
                  "commit": source_commit(root)}
        notebook.metadata["imgleak"] = record
        notebook.cells.append(nbformat.v4.new_markdown_cell(reproduce_text(name, record, profile),
                                                            metadata={"tags": ["reproduce"]}))
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


@dataclass(frozen=True)
class _Planned:
    """One chapter in a build: its parameters, content hash, whether it executes, and why not."""

    name: str
    parameters: dict[str, Any]
    hash: str
    execute: bool
    note: str = ""


def _plan(root: Path, names: list[str], settings: Profile, chapter: str | None, overrides: dict[str, Any],
          force: bool, html: bool) -> list[_Planned]:
    """Which chapters execute, with which parameters: stale selected ones, and (for the HTML) any never executed."""
    per_chapter = _book_overrides(root, names, overrides) if chapter is None and overrides else {}
    library = library_digest()
    plan = []
    for name in names:
        output = root / CHAPTERS_DIR / f"{name}.ipynb"
        selected = chapter is None or name == chapter
        parameters = {**settings.chapters.get(name, {}), **(per_chapter.get(name, overrides) if selected else {})}
        chapter_hash = content_hash(root / SOURCES_DIR / f"{name}.py", parameters, library)
        stale = recorded_hash(output) != chapter_hash
        if selected:
            plan.append(_Planned(name, parameters, chapter_hash, force or stale, "up to date"))
        elif not output.is_file() and html:
            plan.append(_Planned(name, parameters, chapter_hash, True, "never executed; the HTML needs it"))
        else:
            plan.append(_Planned(name, parameters, chapter_hash, False,
                                 "not executed yet (--chapter without the HTML)" if not output.is_file() else
                                 "up to date" if not stale else "kept (not selected; rerun without --chapter to refresh)"))
    return plan


def run_child(payload: str) -> int:
    """Entry point of a chapter's child process (``--jobs``): execute the chapter the JSON file ``payload``
    names; a :class:`BookError` is printed (the parent reads it from the log) and gives status 1."""
    job = json.loads(Path(payload).read_text())
    root = Path(job["root"])
    try:
        execute_chapter(root, job["name"], job["parameters"], load_profile(root, job["profile"]), job["hash"])
    except BookError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _child_job(root: Path, item: _Planned, settings: Profile, workers: int) -> Job:
    logs = root / "_build" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    payload = logs / f"{item.name}.job.json"
    payload.write_text(json.dumps({"root": str(root), "name": item.name, "parameters": item.parameters,
                                   "profile": settings.name, "hash": item.hash}, default=str))
    command = [sys.executable, "-c", "import sys; from imgleak.book import run_child; sys.exit(run_child(sys.argv[1]))",
               str(payload)]
    return Job(item.name, item.parameters, command, {**os.environ, **thread_environment(workers)}, logs / f"{item.name}.log")


def _execute_here(root: Path, item: _Planned, settings: Profile, log) -> ChapterRun:
    """Execute one chapter in this process (``jobs=1``): wall and CPU seconds (this process and the kernel)."""
    log(f"[{item.name}] executing with profile {settings.name!r}, parameters {item.parameters}")
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    error = None
    try:
        execute_chapter(root, item.name, item.parameters, settings, item.hash)
    except BookError as failure:
        error = str(failure)
        log(f"[{item.name}] FAILED: {error}")
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before))
    run = ChapterRun(item.name, item.parameters, error is None, time.perf_counter() - start, cpu, error)
    if error is None:
        log(f"[{item.name}] done in {run.seconds:.1f} s ({run.cpu_seconds:.0f} s CPU)")
    return run


def _execute_plan(root: Path, plan: list[_Planned], settings: Profile, jobs: int, log) -> list[ChapterRun]:
    """Execute the planned chapters (side by side with ``jobs`` > 1); every chapter gets a :class:`ChapterRun`."""
    todo = [item for item in plan if item.execute]
    for item in plan:
        if not item.execute:
            log(f"[{item.name}] {item.note}")
    workers = min(jobs, len(todo))
    if workers > 1:
        log(f"executing {len(todo)} chapters, {workers} side by side with {share_threads(workers)} thread(s) each")
        done = run_jobs([_child_job(root, item, settings, workers) for item in todo], workers, log=log,
                        expected=previous_seconds(root / "_build"))
    else:
        done = [_execute_here(root, item, settings, log) for item in todo]
    by_name = {run.name: run for run in done}
    runs = [by_name.get(item.name) or ChapterRun(item.name, item.parameters, False, 0.0) for item in plan]
    for run in runs:
        if run.executed:
            run.slow_cells = slow_cells(root / CHAPTERS_DIR / f"{run.name}.ipynb")
    return runs


def _check_jobs(jobs: int | None) -> int:
    if jobs is None:
        return available_cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise BookError(f"jobs must be a whole number >= 1 (chapters executed side by side), got {jobs!r}")
    return jobs


def build_book(
    root: str | os.PathLike | None = None,
    profile: str = "default",
    chapter: str | None = None,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    log=print,
    html: bool = True,
    jobs: int | None = 1,
    fresh_cache: bool = False,
) -> tuple[Path | None, list[ChapterRun]]:
    """Execute the chapters that need it and build the HTML book; return ``index.html`` and what ran.

    ``chapter`` restricts (re-)execution to one chapter; with ``html`` the others are executed
    only if they have never been (the HTML needs them), without it not at all. ``overrides``
    replace profile parameters of the executed chapters; without ``chapter`` each chapter takes
    the overrides it declares (``device`` goes to the chapters that have one) and a name that no
    chapter declares is an error. ``html=False`` executes into ``book/chapters`` without building
    the HTML (index ``None``): for a machine without Sphinx, e.g. a GPU box. ``jobs`` chapters run
    side by side in child processes (``None``: one per core), each with its share of the cores'
    threads and its output in ``_build/logs/<chapter>.log``. A chapter that fails does not stop the
    others; the HTML is then not built and a :class:`BookError` names every failure. Each run writes
    ``_build/build_summary.{json,md}`` (wall and CPU seconds per chapter and slow cell). Embeddings,
    trained networks and MI estimates are cached by content in :func:`book_cache` (a chapter
    re-executed with another plotting parameter recomputes none of them); ``fresh_cache`` empties it first.
    """
    root = project_root(root)
    names = chapter_names(root)
    settings = load_profile(root, profile)
    jobs = _check_jobs(jobs)
    unknown_chapters = set(settings.chapters) - set(names)
    if unknown_chapters:
        raise BookError(f"profile {profile!r} sets parameters for unknown chapter(s) {sorted(unknown_chapters)}")
    if chapter is not None and chapter not in names:
        raise BookError(f"unknown chapter {chapter!r}; chapters: {', '.join(names)}")
    _log_lock(log)
    if fresh_cache and clear_cache(book_cache(root)):
        log(f"emptied the cache {book_cache(root)}")
    plan = _plan(root, names, settings, chapter, dict(overrides or {}), force, html)
    start = time.perf_counter()
    runs = _execute_plan(root, plan, settings, jobs, log)
    wall = time.perf_counter() - start
    summary = write_summary(root / "_build", runs, wall, {"profile": profile, "jobs": jobs, "cores": available_cores()})
    log(summary_table(runs, wall) + f"\n(build summary: {summary})")
    failed = [run for run in runs if run.error]
    if failed:
        raise BookError(f"{len(failed)} chapter(s) failed: {', '.join(r.name for r in failed)}; "
                        + ("the others are executed; the HTML is not built.\n\n" if html else "the others are executed.\n\n")
                        + "\n\n".join(r.error for r in failed))
    if not html:
        log(f"executed chapters are in {root / CHAPTERS_DIR}; HTML not built (html=False)")
        return None, runs
    log("building the HTML book with jupyter-book")
    return build_html(root), runs


def _log_lock(log) -> None:
    lock = lock_record()
    if lock["sha256"] is None:
        log(f"no {LOCK_FILE} beside the library: the chapters record the installed versions only")
    else:
        log(f"dependencies: {LOCK_FILE} sha256 {lock['sha256'][:12]}, "
            + (f"{len(lock['mismatches'])} package(s) not at the locked version: {'; '.join(lock['mismatches'][:5])}"
               if lock["mismatches"] else "every package at its locked version"))
