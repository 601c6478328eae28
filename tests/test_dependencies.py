"""Every third-party package the code imports is declared in pyproject.toml (a wheel install brings it)."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in [*(REPO / "activespot").rglob("*.py"), REPO / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"activespot"}


def test_every_imported_package_is_a_declared_dependency():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    # Optional extras count (openslide: imported only where an error names the extra when it is missing).
    project = pyproject["project"]
    extras = [spec for name, specs in project["optional-dependencies"].items() if name != "test" for spec in specs]
    declared = {Requirement(spec).name.lower().replace("_", "-") for spec in [*project["dependencies"], *extras]}
    distributions = packages_distributions()
    undeclared = {
        module: distributions.get(module, ["?"])
        for module in _imported_top_level_modules()
        if not {d.lower().replace("_", "-") for d in distributions.get(module, [])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
