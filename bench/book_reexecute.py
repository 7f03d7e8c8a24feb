"""Re-executing a chapter with a changed parameter: how long against its first execution, and what it recomputed.

Run from the project root after a build of the same profile (the build summary gives the first
execution's time and the cache holds its results):

    .venv/bin/python bench/book_reexecute.py --profile default --chapter selective_encryption \
        --presentation confidence 0.9 --experimental mine_epochs 41

For each change it re-executes the chapter alone (no HTML), then prints its wall seconds, the
ratio to the first execution (target: <= 0.10 for a presentation parameter) and the expensive
calls it computed again (from imgleak.cache's lines in the executed notebook's standard error).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def _first_seconds(root: Path, chapter: str) -> float:
    summary = json.loads((root / "_build" / "build_summary.json").read_text())
    return next(c["seconds"] for c in summary["chapters"] if c["name"] == chapter and c["executed"])


def _cache_lines(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])
                   if o.get("name") == "stderr")
    return [line for line in text.splitlines() if line.startswith("[imgleak.cache]")]


def reexecute(root: Path, profile: str, chapter: str, name: str, value: str, first: float) -> None:
    imgleak = Path(sys.executable).parent / "imgleak"
    subprocess.run([str(imgleak), "book", "--profile", profile, "--chapter", chapter, "--no-html", "-p", name, value],
                   cwd=root, check=True, stdout=subprocess.DEVNULL)
    again = _first_seconds(root, chapter)
    lines = _cache_lines(root / "book" / "chapters" / f"{chapter}.ipynb")
    computed = [" ".join(line.split()[2:3] + line.split()[-2:-1]) for line in lines if " computed " in line]
    print(f"{chapter} with {name}={value}: {again:.0f} s against {first:.0f} s first = {again / first:.3f}; "
          f"{len(lines) - len(computed)} cached call(s) reused, computed again: {', '.join(computed) or 'nothing'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--chapter", default="selective_encryption")
    parser.add_argument("--presentation", nargs=2, default=["confidence", "0.9"], metavar=("NAME", "VALUE"))
    parser.add_argument("--experimental", nargs=2, default=["mine_epochs", "4"], metavar=("NAME", "VALUE"),
                        help="an experimental change (give 'none none' to skip it)")
    args = parser.parse_args()
    root = Path.cwd()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    first = _first_seconds(root, args.chapter)
    reexecute(root, args.profile, args.chapter, *args.presentation, first)
    if args.experimental != ["none", "none"]:
        reexecute(root, args.profile, args.chapter, *args.experimental, first)


if __name__ == "__main__":
    main()
