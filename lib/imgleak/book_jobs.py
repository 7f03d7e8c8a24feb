"""Chapters side by side, and the build summary: the execution half of ``imgleak book --jobs N``.

:func:`run_jobs` runs one command per chapter (a child Python process that executes the
notebook, see :func:`imgleak.book.build_book`) on a thread pool of ``jobs`` workers, longest
chapter first (by the previous build's times). Each child writes its output to its own log file,
gets ``cpu_count // jobs`` threads through the usual environment variables, and is measured with
``os.wait4`` (wall and CPU seconds of the child and the kernel it started). A chapter that fails
does not stop the others. While they run, a line per minute says how far each one is.

:func:`write_summary` records per chapter (and per slow cell, from papermill's cell durations) the
wall and CPU seconds in ``_build/build_summary.json`` and ``.md``, beside the HTML.

>>> share_threads(2, cores=2), share_threads(1, cores=16), share_threads(8, cores=2)
(1, 16, 1)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SUMMARY_NAME = "build_summary"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_PROGRESS = re.compile(r"(\d+)/(\d+) \[")

__all__ = ["ChapterRun", "Job", "available_cores", "previous_seconds", "run_jobs", "share_threads", "slow_cells",
           "summary_table", "write_summary"]


@dataclass
class ChapterRun:
    """What happened to one chapter in a run of the pipeline (seconds are 0 for a chapter not executed)."""

    name: str
    parameters: dict[str, Any]
    executed: bool
    seconds: float
    cpu_seconds: float = 0.0
    error: str | None = None
    log: str | None = None
    slow_cells: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    """One chapter to execute in a child process: its command, environment and log file."""

    name: str
    parameters: dict[str, Any]
    command: list[str]
    env: dict[str, str]
    log: Path


def available_cores() -> int:
    """The CPU cores this process may use (its affinity where the system says, else ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def share_threads(jobs: int, cores: int | None = None) -> int:
    """Threads for each of ``jobs`` chapters running side by side on ``cores`` cores (at least 1)."""
    return max(1, (cores or available_cores()) // max(1, jobs))


def thread_environment(jobs: int) -> dict[str, str]:
    """``OMP_NUM_THREADS`` and its siblings set to the share of one of ``jobs`` chapters."""
    return dict.fromkeys(THREAD_VARIABLES, str(share_threads(jobs)))


def previous_seconds(build_dir: Path) -> dict[str, float]:
    """Each chapter's wall seconds in the last build summary under ``build_dir`` (none: empty)."""
    try:
        data = json.loads((build_dir / f"{SUMMARY_NAME}.json").read_text())
        return {c["name"]: float(c["seconds"]) for c in data["chapters"] if c.get("executed")}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def slow_cells(notebook: Path, threshold: float = 10.0, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` cells of an executed notebook that took at least ``threshold`` seconds (papermill's
    durations): ``{"cell", "seconds", "source"}`` with the source's first line, slowest first."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return []
    timed = [{"cell": i, "seconds": round(float(d), 1), "source": _telling_line("".join(c.get("source", "")))}
             for i, c in enumerate(cells)
             if (d := c.get("metadata", {}).get("papermill", {}).get("duration")) is not None and d >= threshold]
    return sorted(timed, key=lambda c: -c["seconds"])[:top]


def _telling_line(source: str) -> str:
    """The first line of a cell that is not blank, a comment or an import (else its first line), at most 100 characters.

    >>> _telling_line(chr(10).join(["import time", "", "# train", "result = train(x)", "plot(result)"]))
    'result = train(x)'
    """
    lines = [line.strip() for line in source.strip().splitlines()]
    telling = [line for line in lines if line and not line.startswith(("#", "import ", "from "))]
    return (telling or lines or [""])[0][:100]


def _last_progress(log: Path) -> str:
    """``"cell k/N"`` from the last progress bar line in a chapter's log, or ``""``."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 4096))
            tail = handle.read().decode(errors="replace")
    except OSError:
        return ""
    found = _PROGRESS.findall(tail)
    return f"cell {found[-1][0]}/{found[-1][1]}" if found else ""


def _run_one(job: Job) -> ChapterRun:
    """Run ``job``'s command, its output into its log; wall and CPU seconds from ``os.wait4``."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with job.log.open("w") as log:
        process = subprocess.Popen(job.command, env=job.env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    error = None
    if process.returncode != 0:
        text = job.log.read_text(errors="replace")
        marker = text.rfind("chapter " + repr(job.name))
        error = (text[marker:] if marker >= 0 else text[-3000:]).strip() or f"exit status {process.returncode}"
    return ChapterRun(job.name, job.parameters, executed=error is None, seconds=seconds,
                      cpu_seconds=usage.ru_utime + usage.ru_stime, error=error, log=str(job.log))


def run_jobs(jobs: Sequence[Job], workers: int, log: Callable[[str], None] = print,
             expected: Mapping[str, float] | None = None, interval: float = 60.0) -> list[ChapterRun]:
    """Run ``jobs`` on ``workers`` threads, longest ``expected`` first; one result per job, in ``jobs``' order.

    >>> import sys, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> job = Job("a", {}, [sys.executable, "-c", "print('hi')"], dict(os.environ), folder / "a.log")
    >>> [(r.name, r.executed, r.error) for r in run_jobs([job], 1, log=lambda _: None)]
    [('a', True, None)]
    """
    expected = dict(expected or {})
    order = sorted(jobs, key=lambda j: -expected.get(j.name, 0.0))
    started: dict[str, float] = {}
    lock = threading.Lock()

    def run(job: Job) -> ChapterRun:
        with lock:
            started[job.name] = time.perf_counter()
        log(f"[{job.name}] executing with parameters {job.parameters}; output in {job.log}")
        result = _run_one(job)
        log(f"[{job.name}] " + (f"done in {result.seconds:.0f} s ({result.cpu_seconds:.0f} s CPU)" if result.error is None
                                else f"FAILED after {result.seconds:.0f} s; see {job.log}"))
        return result

    results: dict[str, ChapterRun] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: set[Future] = {pool.submit(run, job) for job in order}
        while pending:
            done, pending = wait(pending, timeout=interval, return_when=FIRST_COMPLETED)
            results.update((f.result().name, f.result()) for f in done)
            with lock:
                running = [n for n in started if n not in results]
            if pending and running and not done:
                now = time.perf_counter()
                log("still running: " + "; ".join(
                    f"{n} {(now - started[n]) / 60:.0f} min {_last_progress(next(j.log for j in jobs if j.name == n))}"
                    .rstrip() for n in running))
    return [results[job.name] for job in jobs]


def summary_table(runs: Sequence[ChapterRun], wall: float) -> str:
    """A plain-text table of the runs: chapter, wall, CPU, slowest cells; the build's wall time last.

    >>> print(summary_table([ChapterRun("a", {}, True, 12.0, 11.5, slow_cells=[{"cell": 3, "seconds": 10.0,
    ...                                                                          "source": "x = f()"}])], 13.0))
    chapter  status    wall s  CPU s  slowest cells
    a        executed    12.0   11.5  #3 10 s: x = f()
    whole build          13.0
    """
    rows = [("chapter", "status", "wall s", "CPU s", "slowest cells")]
    for run in runs:
        status = "FAILED" if run.error else ("executed" if run.executed else "kept")
        cells = "; ".join(f"#{c['cell']} {c['seconds']:.0f} s: {c['source']}" for c in run.slow_cells[:3])
        rows.append((run.name, status, f"{run.seconds:.1f}", f"{run.cpu_seconds:.1f}", cells))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}  {r[4]}".rstrip()
             for r in rows]
    lines.append(f"{'whole build':<{widths[0] + widths[1] + 2}}  {wall:>{widths[2]}.1f}")
    return "\n".join(lines)


def write_summary(build_dir: Path, runs: Sequence[ChapterRun], wall: float, settings: Mapping[str, Any]) -> Path:
    """Write ``build_summary.json`` (every field) and ``build_summary.md`` (the table) into ``build_dir``."""
    build_dir.mkdir(parents=True, exist_ok=True)
    record = {**settings, "wall_seconds": round(wall, 1), "chapters": [asdict(r) for r in runs]}
    path = build_dir / f"{SUMMARY_NAME}.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    (build_dir / f"{SUMMARY_NAME}.md").write_text(
        f"# Build summary ({', '.join(f'{k} {v}' for k, v in settings.items())})\n\n```\n"
        + summary_table(runs, wall) + "\n```\n")
    return path
