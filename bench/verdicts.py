"""Cost of judged scorecards (issue 16), measured in one run and printed:

  1. wall time of ``imgleak.scorecard.evaluate`` (what ``imgleak evaluate`` runs): ``--schemes`` (default: the
     two controls and the first 8 other library schemes = 10) x every criterion x ``--seeds`` (default 3) at
     ``--budget`` (default quick); target for the quick budget: <= 5 minutes on 2 CPU cores;
  2. the seconds of the cells by criterion family, and the share the cheap attacks (family ``games``: known
     plaintext, distinguishing game, determinism, empirical key space) add to the others; target at the
     default budget: <= 20 %;
  3. the seconds of judging (``verdicts``) and writing the reports, for scale.

The load average is printed before and after: on a shared 2-core machine a figure taken at load > 1 is not
the machine's speed.

    .venv/bin/python bench/verdicts.py                                   # (1) quick grid, 10 schemes, 3 seeds
    .venv/bin/python bench/verdicts.py --budget default --seeds 1 --schemes identity one_time_pad selective-4
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import pandas as pd
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--schemes", nargs="+")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from imgleak.scorecard.evaluate import evaluate
    from imgleak.scorecard.schemes import CONTROLS, library_schemes
    from imgleak.scorecard.verdicts import verdicts

    schemes = args.schemes or [*CONTROLS, *[n for n in library_schemes() if n not in CONTROLS][:8]]
    print(f"load average before: {os.getloadavg()[0]:.2f}; {len(schemes)} schemes, budget {args.budget}, "
          f"{args.seeds} seed(s), device {args.device}, 1 torch thread")
    with tempfile.TemporaryDirectory() as out:
        result = evaluate(schemes, budget=args.budget, seeds=args.seeds, out_dir=out, device=args.device,
                          progress=False)
        cells = [json.loads(p.read_text()) for p in (__import__("pathlib").Path(out) / "cells").glob("*.json")]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    table = result.table
    print(f"(1) evaluate: {result.seconds:.1f} s wall for {table['cell'].nunique()} cells "
          f"({result.seconds / 60:.2f} min; target for the quick budget <= 5 min)")
    seconds = pd.DataFrame([{"criterion": c["criterion"], "seconds": c["seconds"]} for c in cells])
    family = table.drop_duplicates("cell").set_index("cell")["family"]
    seconds["family"] = [family.get(c["cell"], "?") for c in cells]
    by_family = seconds.groupby("family")["seconds"].sum().sort_values(ascending=False)
    print("(2) cell seconds by family:", ", ".join(f"{f} {s:.1f}" for f, s in by_family.items()))
    games = by_family.get("games", 0.0)
    print(f"    the cheap attacks add {games:.1f} s to {by_family.sum() - games:.1f} s of the other criteria: "
          f"{games / max(by_family.sum() - games, 1e-9):.1%} (target at the default budget <= 20 %)")
    start = time.perf_counter()
    verdicts(table)
    print(f"(3) judging the table: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
