"""Wall time of a scorecard run (``imgleak evaluate``), of its resume, and of a local dask cluster against serial.

Issue 10's targets, measured in one run each and printed:
  1. the ``default`` budget on the bundled photos, every library scheme, every criterion, one seed:
     wall time (target <= 20 minutes on 2 CPU cores);
  2. a second run with resume and nothing changed: its wall time as a share of the first (target <= 5 %);
  3. ``--compare-workers N``: the same grid serially and on ``dask_executor(N)``, their ratio.

Every timed run is a fresh process (``--child``) doing what ``imgleak evaluate`` does through the
public API (resolve the schemes, ``runner.run``, ``store.provenance``, ``report.write_report``), so
imports, loading the photos and writing the report are counted, and a resume finds no warm cache.
The child takes one seed of any value (``--seed``; the CLI's ``--seeds N`` runs seeds 0..N-1).
Resume time is the best of ``--resume-repeats`` resumes after one warm-up resume (``timing.best_seconds``):
an unchanged resume is idempotent, so repeating it is fair.

With ``--schemes`` a subset of the library, the full grid is also *extrapolated*: each criterion's
time on an unmeasured scheme is the mean of that criterion over the measured schemes of the same
kind (learned key: ``tn_model``/``tn_gan``, or not; a learned scheme's key is trained in its first
cell and cached for the others), plus the run's fixed overhead (process wall time minus the cells).
The per-criterion table (seconds per cell, extrapolated total, share) is the profile.
The load average (``os.getloadavg``) is printed before and after each timed run: on a shared
machine a figure taken at load > 1 on 2 cores is not the machine's speed; the child's CPU seconds
(user + system) are printed too, what the run needs of a quiet machine's cores.

    .venv/bin/python bench/scorecard.py                                   # (1) + (2), full grid, serial
    .venv/bin/python bench/scorecard.py --schemes identity pixelwise-different tn_model etc
    .venv/bin/python bench/scorecard.py --budget quick --schemes identity etc --compare-workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from timing import best_seconds

HERE = Path(__file__).resolve()


# ------------------------------------------------------------------------------------ the timed process


def evaluate(schemes: list[str], criteria: list[str] | None, budget: str, seed: int, out: str, workers: int | None,
             resume: bool, device: str = "auto") -> dict[str, float]:
    """What ``imgleak evaluate`` does, through the public API; the seconds of each phase."""
    start = time.perf_counter()
    from imgleak.scorecard import cells, report, runner, sources, store
    from imgleak.scorecard import schemes as library

    imported = time.perf_counter()
    source, chosen = sources.image_source(None), runner.check_budget(budget)
    photos = source.load()
    subjects = library.resolve(schemes, (2, int(photos[0].image.shape[0]), chosen.size, chosen.size))
    with runner.dask_executor(workers) as executor:
        table = runner.run(subjects, cells.select_criteria(criteria), source, chosen, [seed], out,
                           executor=executor, resume=resume, device=device, progress=False)
    ran = time.perf_counter()
    report.write_report(table, store.provenance(out), Path(out), overwrite=resume)
    failed = sorted(set(table.loc[table["error"] != "", "cell"]))
    return {"import_s": imported - start, "run_s": ran - imported, "report_s": time.perf_counter() - ran,
            "cells": int(table["cell"].nunique()), "failed": failed}


def timed_child(args: argparse.Namespace, out: Path, workers: int | None, resume: bool) -> dict[str, Any]:
    """Run :func:`evaluate` in a fresh process; its phases, wall time and the load average around it."""
    command = [sys.executable, str(HERE), "--child", "--budget", args.budget, "--seed", str(args.seed),
               "--out", str(out), "--device", args.device, "--schemes", *args.schemes]
    command += ["--criteria", *args.criteria] if args.criteria else []
    command += ["--workers", str(workers)] if workers else []
    command += ["--resume"] if resume else []
    load_before = os.getloadavg()
    start, cpu_before = time.perf_counter(), _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"the timed run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    return {**phases, "wall_s": wall, "cpu_s": cpu, "load_before": load_before, "load_after": os.getloadavg()}


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes: what the run needs of a quiet machine's cores."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------------------------ the profile


def cell_seconds(out: Path) -> dict[tuple[str, str], float]:
    """Seconds of each (scheme, criterion) cell of a finished run (its ``cells/*.json``)."""
    seconds = {}
    for path in sorted((out / "cells").glob("*.json")):
        record = json.loads(path.read_text())
        seconds[(record["scheme"], record["criterion"])] = float(record["seconds"])
    return seconds


def learned(names: list[str]) -> set[str]:
    """The names whose key is trained (a subject with its own ``make_key``)."""
    from imgleak.scorecard.schemes import library_schemes

    everything = library_schemes()
    return {n for n in names if n in everything and everything[n].make_key is not None}


def profile(seconds: dict[tuple[str, str], float], all_schemes: list[str]) -> list[dict[str, Any]]:
    """Per criterion: seconds per measured scheme, and the extrapolated total over ``all_schemes``."""
    measured = sorted({s for s, _ in seconds})
    trained = learned(all_schemes + measured)
    rows = []
    for criterion in dict.fromkeys(c for _, c in seconds):
        own = {s: seconds[(s, criterion)] for s in measured if (s, criterion) in seconds}
        total = 0.0
        for scheme in all_schemes:
            if scheme in own:
                total += own[scheme]
                continue
            alike = [t for s, t in own.items() if (s in trained) == (scheme in trained)] or list(own.values())
            total += sum(alike) / len(alike)
        rows.append({"criterion": criterion, "per_scheme": own, "measured_s": sum(own.values()), "full_grid_s": total})
    return sorted(rows, key=lambda r: -r["full_grid_s"])


def print_profile(rows: list[dict[str, Any]], measured: list[str], n_all: int) -> None:
    """The per-criterion table (markdown)."""
    grand = sum(r["full_grid_s"] for r in rows) or 1.0
    print(f"\n| criterion | {' | '.join(measured)} | measured sum, s | full grid ({n_all} schemes), s | share |")
    print("|---" * (len(measured) + 4) + "|")
    for r in rows:
        cells = " | ".join(f"{r['per_scheme'].get(s, float('nan')):.1f}" for s in measured)
        print(f"| {r['criterion']} | {cells} | {r['measured_s']:.1f} | {r['full_grid_s']:.0f} | "
              f"{100 * r['full_grid_s'] / grand:.0f} % |")
    by_scheme = {s: sum(r["per_scheme"].get(s, 0.0) for r in rows) for s in measured}
    print("| **all criteria** | " + " | ".join(f"{by_scheme[s]:.1f}" for s in measured)
          + f" | {sum(by_scheme.values()):.1f} | {grand:.0f} | 100 % |")


def load_text(run: dict[str, Any]) -> str:
    return (f"load {', '.join(f'{x:.2f}' for x in run['load_before'])} before, "
            f"{', '.join(f'{x:.2f}' for x in run['load_after'])} after")


# ------------------------------------------------------------------------------------ the measurements


def measure_run(args: argparse.Namespace, out: Path, all_schemes: list[str]) -> dict[str, Any]:
    """Targets (1) and (2): the run, its profile and extrapolation, then its resume."""
    first = timed_child(args, out, args.workers, resume=False)
    seconds = cell_seconds(out)
    overhead = first["wall_s"] - sum(seconds.values())
    rows = profile(seconds, all_schemes)
    full = sum(r["full_grid_s"] for r in rows) + overhead
    print(f"\nmeasured: {first['cells']} cells ({len(first['failed'])} failed {first['failed']}) in "
          f"{first['wall_s']:.1f} s wall, {first['cpu_s']:.1f} CPU-s (imports {first['import_s']:.1f} s, cells "
          f"{first['run_s']:.1f} s, report "
          f"{first['report_s']:.1f} s; overhead outside cells {overhead:.1f} s); {load_text(first)}")
    print_profile(rows, sorted({s for s, _ in seconds}), len(all_schemes))
    subset = sorted({s for s, _ in seconds}) != sorted(all_schemes)
    label = "EXTRAPOLATED" if subset else "measured"
    print(f"\nfull grid ({len(all_schemes)} schemes x {len(rows)} criteria, seed {args.seed}, budget {args.budget}, "
          f"{'serial' if not args.workers else f'{args.workers} workers'}): {full:.0f} s = {full / 60:.1f} min "
          f"({label}; target <= 20 min on 2 cores)")
    result = {"first": first, "profile": rows, "full_grid_s": full, "full_grid_is": label, "overhead_s": overhead}
    if args.resume_repeats:
        runs: list[dict[str, Any]] = []
        best = best_seconds(lambda: runs.append(timed_child(args, out, args.workers, resume=True)),
                            torch.device("cpu"), repeats=args.resume_repeats)
        walls = [r["wall_s"] for r in runs[1:]]
        print(f"resume, nothing changed (measured): best {best:.1f} s of {len(walls)} after a warm-up "
              f"({', '.join(f'{w:.1f}' for w in walls)} s; imports {runs[-1]['import_s']:.1f} s, cells "
              f"{runs[-1]['run_s']:.1f} s, report {runs[-1]['report_s']:.1f} s; {load_text(runs[-1])}) = "
              f"{100 * best / first['wall_s']:.1f} % of the first run (target <= 5 %)")
        result["resume"] = {"best_s": best, "walls_s": walls, "share": best / first["wall_s"], "last": runs[-1]}
    return result


def measure_workers(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Target (3): the same grid serially and on a local dask cluster of ``args.compare_workers``."""
    serial = timed_child(args, out / "serial", None, resume=False)
    parallel = timed_child(args, out / f"workers{args.compare_workers}", args.compare_workers, resume=False)
    cells = sum(cell_seconds(out / "serial").values())
    print(f"\nserial: {serial['cells']} cells in {serial['wall_s']:.1f} s wall (cells {serial['run_s']:.1f} s, "
          f"their own seconds {cells:.1f} s; {load_text(serial)})")
    print(f"dask_executor({args.compare_workers}): {parallel['wall_s']:.1f} s wall (cells {parallel['run_s']:.1f} s; "
          f"{load_text(parallel)})")
    print(f"speed-up (measured): wall {serial['wall_s'] / parallel['wall_s']:.2f}x, "
          f"run phase {serial['run_s'] / parallel['run_s']:.2f}x")
    return {"serial": serial, "parallel": parallel, "speedup_wall": serial["wall_s"] / parallel["wall_s"],
            "speedup_run": serial["run_s"] / parallel["run_s"]}


# ------------------------------------------------------------------------------------ main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", default="default", help="quick, default or paper")
    parser.add_argument("--schemes", nargs="+", help="scheme names (default: every library scheme)")
    parser.add_argument("--criteria", nargs="+", help="criteria names (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="the one seed (default 0)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, as imgleak evaluate), cpu or cuda")
    parser.add_argument("--out", help="a new folder for the runs (default: a new temporary folder)")
    parser.add_argument("--workers", type=int, help="run (1)/(2) on a local dask cluster of N processes")
    parser.add_argument("--resume-repeats", type=int, default=3, help="timed resumes after a warm-up; 0: none")
    parser.add_argument("--compare-workers", type=int, metavar="N",
                        help="measure (3) instead: the grid serially and on N local dask workers")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.child:
        print(json.dumps(evaluate(args.schemes, args.criteria, args.budget, args.seed, args.out, args.workers,
                                  args.resume, args.device)))
        return
    from imgleak.scorecard.schemes import library_schemes

    all_schemes = list(library_schemes())
    args.schemes = args.schemes or all_schemes
    out = Path(args.out or tempfile.mkdtemp(prefix="scorecard-bench-"))
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"--out {out} is not empty: choose a new folder")
    commit = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, commit {commit}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, device {args.device}, budget {args.budget}, seed {args.seed}, schemes {args.schemes}, "
          f"criteria {args.criteria or 'all'}, out {out}")
    if args.compare_workers:
        result = measure_workers(args, out)
    else:
        result = measure_run(args, out / "run", all_schemes)
    (out / "bench.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"figures: {out / 'bench.json'}")


if __name__ == "__main__":
    main()
