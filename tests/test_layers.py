"""The library's layered map (DESIGN.md): imports only point down, and no module reaches for
another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import imgleak

LIB = Path(imgleak.__file__).parent
# top to bottom; a module may import its own layer and the layers below it
LAYERS = ["pipeline", "experiments", "scorecard", "attacks", "mi", "training", "nets", "ciphers", "base"]
PIPELINE = {"plots", "book", "cli"}  # the notebooks' and the command line's helpers: may import anything


def _layer(module: str) -> str:
    """The layer of a dotted module name inside imgleak (``imgleak.ciphers.rvt`` -> ``ciphers``)."""
    parts = module.split(".")[1:]
    if not parts or parts[0] in ("__init__",):
        return "pipeline"
    if parts[0] in PIPELINE:
        return "pipeline"
    return parts[0] if parts[0] in LAYERS else "base"


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(LIB.rglob("*.py")):
        rel = path.relative_to(LIB.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(imported module, imported names, line)`` for every import of an imgleak module."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "imgleak":
                out.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "imgleak"]
    return out


MODULES = _modules()


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down_the_map(module, path):
    mine = LAYERS.index(_layer(module))
    for target, names, line in _imports(module, path):
        targets = [target] + [f"{target}.{n}" for n in names if (LIB.parent / Path(*target.split("."), n)).exists()
                              or (LIB.parent / Path(*target.split("."), f"{n}.py")).exists()]
        for t in targets:
            if t == "imgleak":
                continue
            assert LAYERS.index(_layer(t)) >= mine, f"{module}:{line} imports {t}, a layer above ({_layer(t)})"


def _is_module(package: str, name: str) -> bool:
    folder = LIB.parent / Path(*package.split("."))
    return (folder / f"{name}.py").exists() or (folder / name / "__init__.py").exists()


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_no_private_names_from_other_modules(module, path):
    for target, names, line in _imports(module, path):  # a shared private module (_checks) is fine, its names public
        private = [n for n in names if n.startswith("_") and not n.startswith("__") and not _is_module(target, n)]
        assert not private, f"{module}:{line} imports private names {private} from {target}"


def test_the_map_sees_every_layer_package():
    packages = {p.name for p in LIB.iterdir() if (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), f"packages outside the map: {packages - set(LAYERS)}"
    assert {"experiments", "ciphers", "attacks", "mi"} <= packages
