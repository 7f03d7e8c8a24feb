"""The whole notebook → book pipeline, executed for real with the quick profile."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

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


def _chapter_page(root: Path, name: str) -> str:
    return (root / "_build" / "html" / "book" / "chapters" / f"{name}.html").read_text()


def test_the_download_button_gives_the_executed_notebook(built_book: Path) -> None:
    for name in chapter_names(built_book):
        page = _chapter_page(built_book, name)
        found = re.search(r'<a href="([^"]+\.ipynb)"[^>]*\n?\s*class="[^"]*btn-download-source-button', page)
        assert found, f"chapter {name}: no download button for its notebook"
        downloaded = (built_book / "_build" / "html" / "book" / "chapters" / found.group(1)).resolve()
        assert downloaded.name == f"{name}.ipynb"
        notebook = json.loads(downloaded.read_text())
        assert notebook["metadata"]["imgleak"]["profile"] == "quick"
        assert any(cell.get("outputs") for cell in notebook["cells"] if cell["cell_type"] == "code")


def test_launch_buttons_use_the_repository_setting(built_book: Path) -> None:
    config = yaml.safe_load((built_book / "_config.yml").read_text())
    owner_repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    page = _chapter_page(built_book, "data_and_keys")
    assert (f'href="https://mybinder.org/v2/gh/{owner_repo}/{branch}?urlpath=lab/tree/book/chapters/'
            'data_and_keys.ipynb"') in page
    assert f'href="https://colab.research.google.com/github/{owner_repo}/blob/{branch}/book/chapters/data_and_keys.ipynb"' in page


def test_parameters_and_set_up_are_folded_and_the_prose_links_the_api(built_book: Path) -> None:
    for name in chapter_names(built_book):
        notebook = json.loads((built_book / "book" / "chapters" / f"{name}.ipynb").read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        parameters = next(i for i, c in enumerate(code) if "parameters" in c["metadata"].get("tags", []))
        folded = [c for c in code[:parameters + 3] if "hide-input" in c["metadata"].get("tags", [])]
        sources = ["".join(c["source"]) for c in folded]
        assert "hide-input" in code[parameters]["metadata"]["tags"], f"{name}: parameters not folded"
        assert any(s.lstrip().startswith(("import", "#")) or "\nimport " in s for s in sources), (
            f"{name}: no folded set-up cell after the parameters")
        for cell in code:
            if "injected-parameters" in cell["metadata"].get("tags", []):
                assert "hide-input" in cell["metadata"]["tags"], f"{name}: papermill's injected parameters not folded"
        assert any("hide-input" not in c["metadata"].get("tags", []) for c in code), f"{name}: every cell is folded"
        page = _chapter_page(built_book, name)
        assert f"imgleak book --chapter {name}" in re.sub(r"<[^>]+>", "", page), f"{name}: no sentence on parameters"
        assert re.search(r'href="\.\./api/[a-z_]+\.html#imgleak\.', page), f"{name}: no link into the API reference"
