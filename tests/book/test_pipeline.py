"""The whole notebook → book pipeline, executed for real with the quick profile."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from imgleak.book import build_book, chapter_names

pytestmark = pytest.mark.book


def test_every_chapter_page_exists_with_an_image(built_book: Path) -> None:
    html = built_book / "_build" / "html"
    assert (html / "index.html").is_file()
    names = chapter_names(built_book)
    assert names, "the table of contents lists no chapter"
    for name in names:
        page = html / "book" / "chapters" / f"{name}.html"
        assert page.is_file(), f"no page for chapter {name}"
        sources = re.findall(r'<img[^>]+src="([^"]+)"', page.read_text())
        assert sources, f"chapter {name} has no image"
        for src in sources:
            assert (page.parent / src).resolve().is_file(), f"{name}: image {src} is missing"


def test_executed_chapters_record_profile_and_hash(built_book: Path) -> None:
    for name in chapter_names(built_book):
        meta = json.loads((built_book / "book" / "chapters" / f"{name}.ipynb").read_text())["metadata"]["imgleak"]
        assert meta["profile"] == "quick"
        assert len(meta["hash"]) == 64


def test_unchanged_chapters_are_not_executed_again(built_book: Path) -> None:
    _, runs = build_book(built_book, profile="quick", log=lambda *_: None)
    assert [r.executed for r in runs] == [False] * len(runs)


def test_a_parameter_override_reexecutes_the_chapter_and_shows_on_its_page(built_book: Path) -> None:
    _, runs = build_book(built_book, profile="quick", chapter="data_and_keys",
                         overrides={"patch_size": 40}, log=lambda *_: None)
    assert {r.name: r.executed for r in runs}["data_and_keys"] is True
    page = (built_book / "_build" / "html" / "book" / "chapters" / "data_and_keys.html").read_text()
    text = re.sub(r"<[^>]+>", "", page)
    assert "patch_size = 40" in text
    assert "patches of 40×40" in text or "(4, 3, 40, 40)" in text
