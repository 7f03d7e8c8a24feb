"""CITATION.cff: valid CFF 1.2.0 in shape, citing the project and the three papers the book reproduces."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PAPERS = ("messadi2025selective", "cao2024rvt", "sirichotedumrong2020visual")  # keys in book/references.bib


def bib_entries(text: str) -> dict[str, dict[str, str]]:
    """``key -> {field: value}`` of a BibTeX file whose values are braced (as book/references.bib writes them)."""
    entries = {}
    for key, body in re.findall(r"@\w+\{(\w+),(.*?)\n\}", text, re.S):
        fields = re.findall(r"(\w+)\s*=\s*\{(.*?)\},?\s*$", body, re.M)
        entries[key] = {name: re.sub(r"[{}]", "", value) for name, value in fields}
    return entries


def test_citation_file_has_the_required_cff_keys() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors"} <= set(cff)
    assert cff["type"] == "software"
    assert cff["version"] == re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    for reference in cff["references"]:
        assert {"type", "title", "authors", "year"} <= set(reference)
        assert all("family-names" in a and "given-names" in a for a in reference["authors"])


def test_citation_references_are_the_papers_of_the_book() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    bib = bib_entries((ROOT / "book" / "references.bib").read_text())
    cited = {" ".join(r["title"].split()): r for r in cff["references"]}
    assert len(cited) == len(PAPERS)
    for key in PAPERS:
        entry = bib[key]
        reference = cited[" ".join(entry["title"].split())]
        assert reference["year"] == int(entry["year"])
        assert [a["family-names"] for a in reference["authors"]] == [
            name.split(",")[0].strip() for name in entry["author"].split(" and ")]
        arxiv = re.search(r"\d{4}\.\d{5}", entry.get("note", "") + entry.get("journal", "")).group(0)
        assert reference["url"] == f"https://arxiv.org/abs/{arxiv}"
