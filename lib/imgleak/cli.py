"""The ``imgleak`` command line."""

from __future__ import annotations

import argparse
import sys

from imgleak.book import BookError, build_book, parse_value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgleak", description="Measure what encrypted images still leak.")
    commands = parser.add_subparsers(dest="command", required=True)
    book = commands.add_parser("book", help="execute the chapters and build the HTML book")
    book.add_argument("--profile", default="default", help="book/profiles/<PROFILE>.yaml (quick, default, paper)")
    book.add_argument("--chapter", help="re-execute only this chapter (name of notebooks/<CHAPTER>.py)")
    book.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="override a chapter parameter; VALUE is read as YAML (repeatable)")
    book.add_argument("--force", action="store_true", help="execute even chapters that are up to date")
    book.add_argument("--root", help="the book's root folder (default: the current folder)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        overrides = {name: parse_value(value, name) for name, value in args.parameter}
    except ValueError as error:
        parser.error(str(error))  # exits with status 2, as argparse does for bad arguments
    try:
        index, _ = build_book(args.root, args.profile, args.chapter, overrides, args.force)
    except BookError as error:
        print(f"imgleak book: {error}", file=sys.stderr)
        return 1
    print(f"The book is at {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
