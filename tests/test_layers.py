"""The packages form layers, and every import points down: a package may import its own modules and those of
lower layers, never a higher layer's, nor a package beside it in the same layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Top to bottom; packages in one tuple share a layer.
LAYERS = (
    ("app",),
    ("reports",),
    ("checkers",),
    ("trainer",),
    ("data",),
    ("config",),
    ("losses", "references"),
)
LEVEL = {package: depth for depth, layer in enumerate(LAYERS) for package in layer}


def project_imports(path: Path) -> set[str]:
    """The project packages a module imports, at any depth of its code (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(LEVEL)
    return found


def violations() -> list[str]:
    wrong = []
    for package, level in LEVEL.items():
        for module in sorted((ROOT / package).rglob("*.py")):
            for imported in project_imports(module) - {package}:
                if LEVEL[imported] <= level:
                    where = "a higher layer" if LEVEL[imported] < level else "a package in the same layer"
                    wrong.append(f"{module.relative_to(ROOT)} imports {imported} ({where})")
    return wrong


def test_every_package_is_in_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks", "experiments"}
    assert packages == set(LEVEL)


def test_imports_point_down():
    assert violations() == []


@pytest.mark.parametrize("source, imported", [
    ("from app.pipeline import run\n", "app"),
    ("def f():\n    import reports.plots\n", "reports"),
    ("from data import files\n", "data"),
])
def test_the_check_sees_imports_in_every_form(tmp_path, source, imported):
    module = tmp_path / "module.py"
    module.write_text(source)
    assert project_imports(module) == {imported}
