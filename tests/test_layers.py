"""Imports flow one way between the subpackages, and no subpackage reaches into another's private modules.

io → features → model / select → loop (arrays) → project (journal, rounds, lock) → cells / transfer /
review → app / study → cli (the CLI also launches the app). The package's base modules (constants, files,
config, errors, numeric and progress helpers) serve every layer. Lazy imports inside functions count.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "activespot"
LAYERS = {
    "io": 0,
    "features": 1,
    "model": 2,
    "select": 2,
    "loop": 3,
    "project": 4,
    "cells": 5,
    "transfer": 5,
    "review": 5,
    "study": 6,
    "cli": 7,
    "app": 6,
}
BASE = {"_constants", "_files", "_numeric", "_progress", "config", "errors", "__init__"}


def _imports(path: Path):
    """(subpackage, module) of every activespot import in ``path``, resolved from relative form."""
    own = path.relative_to(PACKAGE).parts
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(own[: len(own) - node.level])
                parts = base + (node.module.split(".") if node.module else [])
                names = [alias.name for alias in node.names]
            elif node.module and node.module.split(".")[0] == "activespot":
                parts = node.module.split(".")[1:]
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names if not parts else [None]:
                yield parts + ([name] if name else [])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "activespot":
                    yield alias.name.split(".")[1:]


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts
        if len(own) == 1:  # base modules
            continue
        for target in _imports(path):
            if target and target[0] != own[0]:
                yield own, target


EDGES = list(_edges())


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_imports_flow_one_way(package):
    upward = [
        f"{'/'.join(own)} imports activespot.{'.'.join(target)}"
        for own, target in EDGES
        if own[0] == package and target[0] in LAYERS and LAYERS[target[0]] >= LAYERS[package]
    ]
    assert not upward, "\n".join(upward)


def test_no_private_module_of_another_subpackage_is_imported():
    private = [
        f"{'/'.join(own)} imports activespot.{'.'.join(target)}"
        for own, target in EDGES
        if target[0] in LAYERS and len(target) > 1 and target[1].startswith("_") and target[1] != "__init__"
    ]
    assert not private, "\n".join(private)


def test_every_subpackage_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


def test_base_modules_import_no_subpackage():
    for path in PACKAGE.glob("*.py"):
        assert path.stem in BASE | {"__main__"} or path.stem.startswith("_"), path
        imported = [t for t in _imports(path) if t and t[0] in LAYERS]
        assert not imported, f"{path.name} imports {imported}"
