"""Run the docstring examples (``>>>``) of every imgleak module, one test per docstring, and check
that the modules below show an example for every public function.

Collected here rather than with ``--doctest-modules`` in ``addopts``: that option would also
import ``tests/conftest.py`` and ``tests/book/conftest.py`` as modules of one name (an "import
file mismatch" error), and this way ``pytest tests/...`` with ``--device`` keeps working.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from types import FunctionType

import pytest

import imgleak

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS  # as pyproject's doctest_optionflags


def _docstring_tests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for info in pkgutil.walk_packages(imgleak.__path__, "imgleak."):
        module = importlib.import_module(info.name)
        found += [test for test in finder.find(module, info.name) if test.examples]
    return sorted(found, key=lambda test: test.name)


DOCTESTS = _docstring_tests()


EXAMPLED = ("imgleak.metrics", "imgleak.mi.histogram", "imgleak.mi.mine", "imgleak.mi.encoders",
            "imgleak.mi.bounds", "imgleak.mi.critics", "imgleak.mi.ensemble", "imgleak.mi.config",
            "imgleak.mi.ground_truth", "imgleak.keys",
            "imgleak.chacha", "imgleak.information", "imgleak.tensors", "imgleak.ciphers.keyspace",
            "imgleak.ciphers.selective", "imgleak.ciphers.rvt", "imgleak.ciphers.permutation",
            "imgleak.ciphers.blockwise", "imgleak.ciphers.pixelwise", "imgleak.ciphers.etc")


def _has_example(obj: object) -> bool:
    return ">>>" in (inspect.getdoc(obj) or "")


@pytest.mark.parametrize("name", EXAMPLED)
def test_public_functions_have_examples(name: str) -> None:
    """Every public function, and every public class with methods (in its own docstring or in
    each method's), of these modules shows a runnable example."""
    module = importlib.import_module(name)
    missing = []
    for attr, obj in vars(module).items():
        if attr.startswith("_") or getattr(obj, "__module__", None) != name:
            continue
        if inspect.isfunction(obj) and not _has_example(obj):
            missing.append(attr)
        elif inspect.isclass(obj) and not _has_example(obj):
            methods = [k for k, v in vars(obj).items() if not k.startswith("_")
                       and isinstance(v, (FunctionType, property, classmethod, staticmethod))]
            missing += [f"{attr}.{k}" for k in methods if not _has_example(getattr(obj, k))]
    assert not missing, f"{name}: no docstring example for {', '.join(missing)}"


@pytest.mark.parametrize("test", DOCTESTS, ids=lambda test: test.name)
def test_docstring_examples(test: doctest.DocTest) -> None:
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    result = runner.run(test, out=report.append, clear_globs=False)
    if result.failed:
        pytest.fail("".join(report), pytrace=False)
