"""Unit tests of the pipeline's logic: profiles, table of contents, hashing, selection, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgleak import book, book_jobs, cli
from imgleak.book import BookError

CHAPTER_SOURCE = '''# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # {title}

# %% tags=["parameters"]
value = 1

# %%
{body}
'''


def make_project(root: Path, chapters: dict[str, str], profile: str = "chapters: {}\n") -> Path:
    """A minimal book: a toc listing ``chapters`` (name -> code of the last cell) and a 'quick' profile."""
    (root / "_config.yml").write_text("title: test\n")
    toc = "format: jb-book\nroot: book/intro\nchapters:\n" + "".join(
        f"  - file: book/chapters/{name}\n" for name in chapters)
    (root / "_toc.yml").write_text(toc)
    (root / "notebooks").mkdir()
    for name, body in chapters.items():
        (root / "notebooks" / f"{name}.py").write_text(CHAPTER_SOURCE.format(title=name, body=body))
    (root / "book" / "profiles").mkdir(parents=True)
    (root / "book" / "profiles" / "quick.yaml").write_text(profile)
    return root


@pytest.fixture
def fake_execution(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    """Replace execution and the HTML build by recorders; executed chapters get a minimal notebook."""
    calls: list[tuple[str, dict]] = []

    def execute(root, name, parameters, profile, chapter_hash):
        calls.append((name, parameters))
        out = root / book.CHAPTERS_DIR / f"{name}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"metadata": {"imgleak": {"hash": chapter_hash}}}))

    monkeypatch.setattr(book, "execute_chapter", execute)
    monkeypatch.setattr(book, "build_html", lambda root: root / "_build" / "html" / "index.html")
    return calls


def quiet(*_: object) -> None:
    pass


def test_chapters_come_from_the_toc_in_order(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"b": "pass", "a": "pass"})
    assert book.chapter_names(root) == ["b", "a"]


def test_a_toc_entry_without_source_is_an_error(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    (root / "notebooks" / "a.py").unlink()
    with pytest.raises(BookError, match="notebooks/a.py does not exist"):
        book.chapter_names(root)


def test_project_root_requires_config_and_toc(tmp_path: Path) -> None:
    with pytest.raises(BookError, match="_config.yml"):
        book.project_root(tmp_path)


def test_profiles_are_read_and_checked(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"a": "pass"}, "env:\n  X: 1\ntimeout: 5\nchapters:\n  a:\n    value: 3\n")
    profile = book.load_profile(root, "quick")
    assert profile.chapters == {"a": {"value": 3}} and profile.env == {"X": "1"} and profile.timeout == 5
    with pytest.raises(BookError, match="unknown profile 'nope'; available: quick"):
        book.load_profile(root, "nope")
    (root / "book" / "profiles" / "bad.yaml").write_text("chapter: {}\n")
    with pytest.raises(BookError, match="unknown keys"):
        book.load_profile(root, "bad")


def test_the_content_hash_covers_source_parameters_and_library(tmp_path: Path) -> None:
    source = tmp_path / "c.py"
    source.write_text("x = 1\n")
    base = book.content_hash(source, {"a": 1}, "lib")
    assert base == book.content_hash(source, {"a": 1}, "lib")
    assert base != book.content_hash(source, {"a": 2}, "lib")
    assert base != book.content_hash(source, {"a": 1}, "lib2")
    source.write_text("x = 2\n")
    assert base != book.content_hash(source, {"a": 1}, "lib")


def test_only_stale_chapters_are_executed(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass", "b": "pass"})
    book.build_book(root, "quick", log=quiet)
    assert [c[0] for c in fake_execution] == ["a", "b"]
    fake_execution.clear()
    book.build_book(root, "quick", log=quiet)
    assert fake_execution == []
    (root / "notebooks" / "b.py").write_text((root / "notebooks" / "b.py").read_text() + "\n# edited\n")
    book.build_book(root, "quick", log=quiet)
    assert [c[0] for c in fake_execution] == ["b"]


def test_a_chapter_override_touches_only_that_chapter(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass", "b": "pass"})
    book.build_book(root, "quick", log=quiet)
    fake_execution.clear()
    _, runs = book.build_book(root, "quick", chapter="b", overrides={"value": 7}, log=quiet)
    assert fake_execution == [("b", {"value": 7})]
    assert {r.name: r.executed for r in runs} == {"a": False, "b": True}


def test_a_book_override_goes_to_the_chapters_that_declare_it(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass", "b": "pass"})
    source = root / "notebooks" / "b.py"
    source.write_text(source.read_text().replace("value = 1", "device = 'auto'"))
    book.build_book(root, "quick", overrides={"device": "cuda"}, log=quiet)
    assert fake_execution == [("a", {}), ("b", {"device": "cuda"})]
    with pytest.raises(BookError, match=r"the book has no parameter\(s\) \['devcie'\]; chapter 'a' declares: value; "
                                        r"chapter 'b' declares: device"):
        book.build_book(root, "quick", overrides={"devcie": "cuda"}, force=True, log=quiet)


def test_without_html_the_chapters_are_executed_and_nothing_is_built(tmp_path: Path, fake_execution,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    monkeypatch.setattr(book, "build_html", lambda root: pytest.fail("build_html ran with html=False"))
    index, runs = book.build_book(root, "quick", html=False, log=quiet)
    assert index is None and [r.executed for r in runs] == [True]
    assert (root / book.CHAPTERS_DIR / "a.ipynb").is_file()


def test_force_reexecutes(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    book.build_book(root, "quick", log=quiet)
    book.build_book(root, "quick", force=True, log=quiet)
    assert len(fake_execution) == 2


def test_unknown_chapter_is_an_error(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    with pytest.raises(BookError, match="unknown chapter 'z'; chapters: a"):
        book.build_book(root, "quick", chapter="z", log=quiet)


def test_a_profile_for_an_unknown_chapter_is_an_error(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass"}, "chapters:\n  z: {value: 1}\n")
    with pytest.raises(BookError, match="unknown chapter"):
        book.build_book(root, "quick", log=quiet)


def test_a_source_without_parameters_cell_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "c.py"
    source.write_text("# %%\nx = 1\n")
    with pytest.raises(BookError, match="tagged parameters"):
        book.to_notebook(source, tmp_path / "c.ipynb")


def test_conversion_sets_the_kernel_and_keeps_parameters(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    book.to_notebook(root / "notebooks" / "a.py", tmp_path / "a.ipynb")
    notebook = json.loads((tmp_path / "a.ipynb").read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert book.declared_parameters(tmp_path / "a.ipynb") == {"value": "1"}


def test_cli_values_are_read_as_yaml() -> None:
    assert book.parse_value("3") == 3
    assert book.parse_value("[1, 2]") == [1, 2]
    assert book.parse_value("astronaut") == "astronaut"
    assert book.parse_value("null") is None


@pytest.mark.parametrize("text", ["[1, 2", "{a: [", "a: b: c", "!!python/object:os.system x"])
def test_a_value_that_is_not_yaml_names_the_parameter(text: str) -> None:
    with pytest.raises(ValueError, match=r"the value of parameter 'seed' is not valid YAML: .* at column \d+"):
        book.parse_value(text, "seed")


def test_the_command_line_refuses_a_value_that_is_not_yaml_with_status_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["book", "--profile", "quick", "-p", "seed", "[1, 2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: the value of parameter 'seed' is not valid YAML: '[1, 2'" in err
    assert "Traceback" not in err and "yaml" not in err.split("error:")[0]


# The two tests below start a real kernel (a few seconds each).

def test_an_unknown_parameter_is_refused_before_execution(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    assert cli.main(["book", "--root", str(root), "--profile", "quick", "-p", "valeu", "2"]) == 1
    err = capsys.readouterr().err
    assert "has no parameter(s) ['valeu']" in err and "declares: value" in err
    assert not (root / "book" / "chapters" / "a.ipynb").exists()


def test_a_failing_cell_fails_the_build_and_shows_the_cell(tmp_path: Path, capsys) -> None:
    root = make_project(tmp_path, {"a": "result = value / 0"})
    assert cli.main(["book", "--root", str(root), "--profile", "quick"]) == 1
    err = capsys.readouterr().err
    assert "chapter 'a' failed" in err
    assert "result = value / 0" in err and "ZeroDivisionError" in err
    assert not (root / "book" / "chapters" / "a.ipynb").exists()  # nothing half-built is kept as a chapter
    assert (root / "_build" / "failed" / "a.ipynb").is_file()
    assert not (root / "_build" / "html").exists()


@pytest.mark.parametrize("text, message", [
    ("chapters: [\n", r"quick.yaml is not valid YAML \(line \d+, column \d+\)"),
    ("chapters: [a]\n", r"'chapters' must map chapter names to their parameters, got list"),
    ("timeout: soon\n", r"'timeout' must be a whole number of seconds per cell \(>= 1\), got 'soon'"),
    ("- a\n- b\n", r"quick.yaml must be a mapping with the keys chapters, env, timeout; got list"),
    ("chapters:\n  a: [1, 2]\n", r"chapter 'a' must map to parameters \(name: value, or \{\}\), got list \[1, 2\]"),
    ("env: [A, B]\n", r"'env' must map variable names to values"),
    ("timeout: 0\n", r"'timeout' must be a whole number"),
])
def test_a_malformed_profile_is_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    root = make_project(tmp_path, {"a": "pass"}, text)
    with pytest.raises(BookError, match=message):
        book.load_profile(root, "quick")


@pytest.mark.parametrize("text, message", [("chapters: [\n", r"_toc.yml is not valid YAML"),
                                           ("- a\n", r"_toc.yml must be a mapping")])
def test_a_malformed_toc_is_refused_by_name(tmp_path: Path, text: str, message: str, capsys) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    (root / "_toc.yml").write_text(text)
    with pytest.raises(BookError, match=message):
        book.chapter_names(root)
    assert cli.main(["book", "--root", str(root), "--profile", "quick"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_one_chapter_without_html_executes_that_chapter_alone(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass", "b": "pass", "c": "pass"})
    _, runs = book.build_book(root, "quick", chapter="b", html=False, log=quiet)
    assert fake_execution == [("b", {})]
    assert [(r.name, r.executed) for r in runs] == [("a", False), ("b", True), ("c", False)]
    book.build_book(root, "quick", chapter="b", log=quiet)  # with the HTML, the never-executed ones are needed
    assert [c[0] for c in fake_execution] == ["b", "a", "c"]


def test_a_failing_chapter_does_not_stop_the_others(tmp_path: Path, fake_execution,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_project(tmp_path, {"a": "pass", "b": "pass", "c": "pass"})
    recorder = book.execute_chapter

    def execute(root, name, parameters, profile, chapter_hash):
        if name == "b":
            raise BookError("chapter 'b' failed while executing: boom")
        recorder(root, name, parameters, profile, chapter_hash)

    monkeypatch.setattr(book, "execute_chapter", execute)
    monkeypatch.setattr(book, "build_html", lambda root: pytest.fail("the HTML was built over a failed chapter"))
    with pytest.raises(BookError, match=r"(?s)1 chapter\(s\) failed: b; the others are executed; the HTML is not "
                                        r"built.*boom"):
        book.build_book(root, "quick", log=quiet)
    assert [c[0] for c in fake_execution] == ["a", "c"]
    summary = json.loads((root / "_build" / "build_summary.json").read_text())
    assert [(c["name"], c["executed"], c["error"] is not None) for c in summary["chapters"]] == [
        ("a", True, False), ("b", False, True), ("c", True, False)]
    assert "FAILED" in (root / "_build" / "build_summary.md").read_text()


def test_jobs_must_be_a_positive_whole_number(tmp_path: Path, fake_execution) -> None:
    root = make_project(tmp_path, {"a": "pass"})
    for jobs in (0, -1, 1.5, True):
        with pytest.raises(BookError, match="jobs must be a whole number >= 1"):
            book.build_book(root, "quick", jobs=jobs, log=quiet)


def test_slow_cells_come_from_papermill_durations(tmp_path: Path) -> None:
    cells = [{"source": "a = 1", "metadata": {"papermill": {"duration": 0.5}}},
             {"source": "b = train()\nmore", "metadata": {"papermill": {"duration": 42.04}}},
             {"source": "c = plot()", "metadata": {"papermill": {"duration": 12.0}}},
             {"source": "# markdown", "metadata": {}}]
    (tmp_path / "n.ipynb").write_text(json.dumps({"cells": cells}))
    assert book_jobs.slow_cells(tmp_path / "n.ipynb", threshold=10) == [
        {"cell": 1, "seconds": 42.0, "source": "b = train()"}, {"cell": 2, "seconds": 12.0, "source": "c = plot()"}]
    assert book_jobs.slow_cells(tmp_path / "missing.ipynb") == []


def test_jobs_run_longest_first_and_report_failures(tmp_path: Path) -> None:
    import os
    import sys
    lines: list[str] = []
    jobs = [book_jobs.Job(name, {}, [sys.executable, "-c", code], dict(os.environ), tmp_path / f"{name}.log")
            for name, code in [("short", "print('ok')"), ("long", "print('ok')"),
                               ("bad", "import sys; print(\"chapter 'bad' failed: no\"); sys.exit(1)")]]
    runs = book_jobs.run_jobs(jobs, 1, log=lines.append, expected={"long": 100.0, "short": 1.0})
    assert [line.split("]")[0] for line in lines if "executing" in line] == ["[long", "[short", "[bad"]
    assert [(r.name, r.executed) for r in runs] == [("short", True), ("long", True), ("bad", False)]
    assert runs[2].error == "chapter 'bad' failed: no" and runs[0].cpu_seconds > 0


# The tests below start a real kernel (a few seconds each).

def test_chapters_side_by_side_execute_in_child_processes(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"a": "import os\nprint('threads', os.environ['OMP_NUM_THREADS'], 'cache', os.environ['IMGLEAK_CACHE'])",
                                   "b": "raise ValueError('boom in b')", "c": "x = value * 2"})
    lines: list[str] = []
    with pytest.raises(BookError, match=r"(?s)1 chapter\(s\) failed: b.*ValueError: boom in b"):
        book.build_book(root, "quick", jobs=3, overrides={"value": 2}, log=lines.append, html=False)
    assert any("3 side by side with" in line for line in lines)
    executed = json.loads((root / book.CHAPTERS_DIR / "a.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert [c["metadata"]["tags"] for c in injected] == [["injected-parameters", "hide-input"]]
    last = "".join(executed["cells"][-1]["source"])
    assert last.startswith("## Reproduce this page") and "imgleak book --profile quick --chapter a -p value 2\n" in last
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert f"threads {book_jobs.share_threads(3)} cache {root / '.cache' / 'imgleak'}" in printed
    assert (root / book.CHAPTERS_DIR / "c.ipynb").is_file() and not (root / book.CHAPTERS_DIR / "b.ipynb").exists()
    assert "boom in b" in (root / "_build" / "logs" / "b.log").read_text()
    summary = json.loads((root / "_build" / "build_summary.json").read_text())
    assert {c["name"]: c["executed"] for c in summary["chapters"]} == {"a": True, "b": False, "c": True}
    assert all(c["cpu_seconds"] > 0 for c in summary["chapters"])


def test_clear_cache_empties_the_books_cache_first(tmp_path: Path, fake_execution, monkeypatch) -> None:
    monkeypatch.delenv("IMGLEAK_CACHE", raising=False)
    root = make_project(tmp_path, {"a": "pass"})
    entry = root / ".cache" / "imgleak" / "entry"
    entry.parent.mkdir(parents=True)
    entry.write_text("x")
    book.build_book(root, "quick", log=quiet)
    assert entry.exists()
    book.build_book(root, "quick", fresh_cache=True, log=quiet)
    assert not entry.exists() and book.book_cache(root) == root / ".cache" / "imgleak"
