"""Compare the numbers two executions of the book print, chapter by chapter, cell by cell.

Run:  python bench/book_numbers.py BEFORE_ROOT AFTER_ROOT [--all]
Each ROOT is a checkout whose ``book/chapters/*.ipynb`` were executed (``imgleak book --no-html``).
Every code cell's text outputs are read (streams, errors, and per rich output its ``text/html``
with tables as their cells' text, else ``text/markdown``, else ``text/plain``) and their numbers
pulled out, after masking progress bars, numbers with a time unit (s, ms, min, h, it/s), dates,
clock times, hashes, memory addresses, paths, and table columns headed by a time word (time,
wall, second(s), duration, elapsed, (s)). Cells are matched by source text; in a run of edited or
split cells, the printing ones pair up in order. Per chapter: cells compared, identical, and per
differing cell its first line and the changed runs of numbers (before -> after; the first 12, or
all with ``--all``). Chapters in only one tree are listed, not compared. Exit 1 if a cell differs.
"""
import difflib
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

NUMBER = re.compile(r"[-+]?(?:\d+(?:,\d{3})+(?:\.\d+)?|\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|\bnan\b|[-+]?\binf\b")
UNIT = r"(?:s|sec|secs|seconds?|ms|min|mins|minutes?|h|hours?|it/s|s/it|cell/s|s/cell)\b"
MASKS = [  # (pattern, replacement), applied in order before the numbers are read
    (re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\b"), "<clock>"),
    (re.compile(r"\b0x[0-9a-fA-F]+"), "<addr>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b"), "<hash>"),
    (re.compile(r"(?:[\w.~-]*/)+[\w.-]*[A-Za-z_][\w.-]*(?::\d+)*"), "<path>"),
    (re.compile("(?:" + NUMBER.pattern + r")\s*" + UNIT), "<duration>"),
]
PROGRESS = re.compile(r"\d+%\||it/s|s/it|█|\r")
TIMING_HEADER = re.compile(r"time|wall|second|duration|elapsed|\(s\)|\bs\b", re.I)


class Tables(HTMLParser):
    """An HTML output's text, table rows tab-separated (row/colspans kept in place), timing columns out."""

    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell, self.text, self.below, self.timing = [], None, None, [], {}, set()
        self.skip = self.in_head = 0

    def fill(self):  # the columns an earlier row's rowspan holds
        while self.below.get(len(self.row)):
            self.below[len(self.row)] -= 1
            self.row.append("")

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")
        self.in_head = self.in_head or tag == "thead"
        if tag == "tr":
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell, attrs = [], dict(attrs)
            self.span = int(attrs.get("rowspan") or 1), int(attrs.get("colspan") or 1)

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")
        self.in_head = self.in_head and tag != "thead"
        if tag in ("td", "th") and self.cell is not None:
            self.fill()
            text = " ".join("".join(self.cell).split())
            for k in range(self.span[1]):  # a spanned cell's text once; a header's label marks every column
                if self.in_head and TIMING_HEADER.search(text):
                    self.timing.add(len(self.row))
                self.below[len(self.row)] = self.span[0] - 1
                self.row.append("" if k else text)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.fill()
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if not self.skip:
            (self.cell if self.cell is not None else self.text).append(data)

    def result(self):
        rows = ("\t".join(c for i, c in enumerate(row) if i not in self.timing) for row in self.rows)
        return "".join(self.text) + "\n" + "\n".join(rows)


def output_text(output):
    if output["output_type"] in ("stream", "error"):
        return "".join(output.get("text", "")) + f"{output.get('ename', '')} {output.get('evalue', '')}"
    data = output.get("data", {})
    if "text/html" in data:
        (parser := Tables()).feed("".join(data["text/html"]))
        return parser.result()
    return "".join(data.get("text/markdown", data.get("text/plain", "")))


def masked_numbers(text):
    text = "\n".join(line for line in text.splitlines() if not PROGRESS.search(line))
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return [n.replace(",", "") for n in NUMBER.findall(text)]


def cells(path):
    notebook = json.loads(Path(path).read_text())
    return [("".join(c["source"]), masked_numbers("\n".join(output_text(o) for o in c.get("outputs", []))))
            for c in notebook["cells"] if c["cell_type"] == "code"]


def pairs(before, after):
    """Matched (before, after) cells: equal sources, then in each run of edited (or split) cells the
    ones that print numbers in order, and the silent ones in order."""
    matcher = difflib.SequenceMatcher(None, [s for s, _ in before], [s for s, _ in after], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for prints in ((True,) if tag == "equal" else (True, False)):
            yield from zip(*([c for c in side if tag == "equal" or bool(c[1]) == prints]
                             for side in (before[i1:i2], after[j1:j2])))


def differences(a, b, limit):
    """The changed runs of numbers, "before -> after", at most `limit` of them."""
    runs = [f"{' '.join(a[i1:i2]) or '(none)'}->{' '.join(b[j1:j2]) or '(none)'}"
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if tag != "equal"]
    more = f" (+{len(runs) - limit} more)" if len(runs) > limit else ""
    return f"{len(a)}->{len(b)} numbers, {len(runs)} changed: " + ", ".join(runs[:limit]) + more


def main(argv):
    show_all = "--all" in argv
    roots = [Path(a) / "book" / "chapters" for a in argv if a != "--all"]
    if len(roots) != 2:
        sys.exit(__doc__)
    names = [{p.stem for p in root.glob("*.ipynb")} for root in roots]
    for label, only in (("before", names[0] - names[1]), ("after", names[1] - names[0])):
        for name in sorted(only):
            print(f"{name}: only {label}, not compared")
    any_differs = False
    for name in sorted(names[0] & names[1]):
        before, after = (cells(root / f"{name}.ipynb") for root in roots)
        matched = list(pairs(before, after))
        differing = [(s, a, b) for (s, a), (_, b) in matched if a != b]
        print(f"{name}: {len(matched)} cells compared ({len(before)} before, {len(after)} after), "
              f"{len(matched) - len(differing)} identical, {len(differing)} differing")
        for source, a, b in differing:
            first = next((l for l in source.splitlines() if l.strip()), "")[:70]
            print(f"  [{first}] {differences(a, b, 10**9 if show_all else 12)}")
        any_differs |= bool(differing)
    return int(any_differs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
