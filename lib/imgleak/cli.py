"""The ``imgleak`` command line: ``imgleak book`` (execute the chapters, build the book) and
``imgleak evaluate`` (a leakage scorecard of any scheme on any images)."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imgleak.book import BookError, build_book, parse_value
from imgleak.scorecard.cluster import ClusterError
from imgleak.scorecard.evaluate import evaluate
from imgleak.scorecard.runner import check_out_dir
from imgleak.scorecard.schemes import library_schemes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgleak", description="Measure what encrypted images still leak.")
    commands = parser.add_subparsers(dest="command", required=True)
    book = commands.add_parser("book", help="execute the chapters and build the HTML book")
    book.add_argument("--profile", default="default", help="book/profiles/<PROFILE>.yaml (quick, default, paper)")
    book.add_argument("--chapter", help="re-execute only this chapter (name of notebooks/<CHAPTER>.py)")
    book.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="override a chapter parameter, VALUE read as YAML (repeatable); without --chapter it goes "
                           "to every chapter that declares it")
    book.add_argument("--force", action="store_true", help="execute even chapters that are up to date")
    book.add_argument("--root", help="the book's root folder (default: the current folder)")
    book.add_argument("--no-html", action="store_true",
                      help="execute the chapters into book/chapters without building the HTML (no Sphinx needed); "
                           "with --chapter, that chapter alone")
    book.add_argument("--clear-cache", action="store_true",
                      help="empty the cache of embeddings, trained networks and MI estimates (.cache/imgleak) first")
    book.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="chapters executed side by side, each with its share of the cores' threads "
                           "(default: one per core); output per chapter in _build/logs/")
    _evaluate_parser(commands)
    return parser


FAILED_CELLS = 3
"""``imgleak evaluate``'s exit status when the run finished but some cells failed (their errors are in
the report); 1: refused before any cell (bad input, unusable cluster); 2: bad command-line syntax;
130: interrupted."""

EXIT_STATUS = ("exit status: 0 every cell finished; 1 refused before any cell ran (bad input, an unusable "
               "cluster); 2 bad command-line syntax; 3 the run finished but some cells failed (their errors are in "
               "OUT/scorecard.csv, column error, and OUT/report.html: fix the cause and run the same command with "
               "--resume to retry them); 130 interrupted (--resume finishes the run)")


def _evaluate_parser(commands: Any) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="score schemes on every leakage criterion: scorecard.csv, scorecard.json, report.html",
        description="Every scheme x every criterion x seed; each finished cell is written at once to OUT/cells.",
        epilog=EXIT_STATUS)
    evaluate.add_argument("--scheme", action="append", required=True, metavar="NAME|module:attr",
                          help=f"a library scheme ({', '.join(library_schemes())}) or package.module:attribute "
                               "(a Cipher, a Cipher class, or f(images, key)); repeatable")
    images = evaluate.add_mutually_exclusive_group()
    images.add_argument("--images", metavar="DIR", help="a folder of images (read only; never written to)")
    images.add_argument("--bundled", action="store_true", help="the bundled photographs (the default)")
    evaluate.add_argument("--budget", default="default", help="quick, default or paper (every criterion's size)")
    evaluate.add_argument("--seeds", type=int, default=5,
                          help="seeds 0 .. N-1 (default 5: enough to call a 5-sd leak against the pad among 20 "
                               "measurements, imgleak.scorecard.verdicts.power)")
    evaluate.add_argument("--criteria", nargs="+", metavar="NAME", help="only these criteria (default: all)")
    evaluate.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    scale = evaluate.add_mutually_exclusive_group()
    scale.add_argument("--workers", type=int, metavar="N", help="run cells on a local dask cluster of N processes")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="run cells on an existing dask cluster")
    evaluate.add_argument("--upload", action=argparse.BooleanOptionalAction, default=True,
                          help="with --scheduler or --workers: upload a module:attr scheme's module (its .py file or "
                               "package folder) to workers that cannot import it (default); --no-upload stops "
                               "before any cell instead")
    evaluate.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                          help="with --scheduler: how long to wait for the scheduler to answer, then for a first "
                               "worker to connect (default 60)")
    evaluate.add_argument("--resume", action="store_true",
                          help="keep the finished cells in OUT, retry its failed ones and finish the run (give at "
                               "least the run's schemes, criteria and seeds: a resume never drops a result)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.add_argument("--out", required=True, metavar="DIR", help="the output folder (must not exist yet)")


def _check_out(out: str, images: str | None, resume: bool) -> Path:
    """The output folder: never inside the image folder; an existing one only with ``--resume``."""
    try:
        path = check_out_dir(out).resolve()
    except ValueError as error:
        raise ValueError(f"--out: {error}") from None
    if images is not None:
        folder = Path(images).resolve()
        if path == folder or folder in path.parents:
            raise ValueError(f"--out {out!r} is inside the image folder {images!r}: imgleak never writes there; "
                             "choose an output folder elsewhere")
    if path.exists() and not resume:
        raise ValueError(f"--out {out!r} exists: a report is never overwritten; choose a new folder, "
                         "or pass --resume to finish the run it holds")
    return path


def _evaluate(args: argparse.Namespace) -> int:
    out = _check_out(args.out, args.images, args.resume)
    result = evaluate(args.scheme, criteria=args.criteria, images=args.images, budget=args.budget, seeds=args.seeds,
                      out_dir=out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                      device=args.device, progress=not args.quiet, upload=args.upload, wait=args.wait)
    table, judged = result.table, result.verdicts
    failed = table.loc[table["error"] != "", "cell"].nunique()
    added = [s.name for s in result.subjects if s.name not in args.scheme]
    if added:
        print(f"added the control(s) {', '.join(added)}: every verdict is judged against them")
    for scheme, rows in judged[judged["verdict"] != ""].groupby("scheme", sort=False):
        counts = rows["verdict"].value_counts()
        leaks = rows.loc[rows["verdict"] == "leaks", "criterion"].tolist()
        print(f"{scheme}: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in ("leaks", "random", "inconclusive"))
              + (f" (leaks on {', '.join(leaks[:6])}{', ...' if len(leaks) > 6 else ''})" if leaks else ""))
    print(f"{table['cell'].nunique()} cells ({failed} failed); wrote "
          f"{', '.join(os.fspath(p) for p in result.paths.values())}")
    if failed:
        print(f"imgleak evaluate: {failed} of {table['cell'].nunique()} cells failed; their errors are in "
              f"{result.paths['csv']} (column error) and {result.paths['html']}: fix the cause and run the same "
              f"command with --resume to retry them (exit status {FAILED_CELLS})", file=sys.stderr)
        return FAILED_CELLS
    return 0


@contextlib.contextmanager
def _messages_on_stderr() -> Iterator[None]:
    """The scorecard's messages (waiting for a worker, uploads, resume counts) on stderr while it runs."""
    logger, handler = logging.getLogger("imgleak.scorecard"), logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("imgleak evaluate: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "evaluate":
        try:
            with _messages_on_stderr():
                return _evaluate(args)
        except (ValueError, TypeError, FileNotFoundError, FileExistsError, ClusterError) as error:
            print(f"imgleak evaluate: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"imgleak evaluate: interrupted; the finished cells are in {args.out}/cells: run the same "
                  "command with --resume to finish", file=sys.stderr)
            return 130
    try:
        overrides = {name: parse_value(value, name) for name, value in args.parameter}
    except ValueError as error:
        parser.error(str(error))  # exits with status 2, as argparse does for bad arguments
    try:
        index, _ = build_book(args.root, args.profile, args.chapter, overrides, args.force, html=not args.no_html,
                              jobs=args.jobs, fresh_cache=args.clear_cache, log=functools.partial(print, flush=True))
    except BookError as error:
        print(f"imgleak book: {error}", file=sys.stderr)
        return 1
    print(f"The book is at {index}" if index else "The chapters are executed (no HTML: --no-html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
