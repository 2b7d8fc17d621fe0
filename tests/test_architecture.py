"""The map in docs/architecture.md, kept true: who may import whom, and sizes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("status", "probes", "subscribers")
CORE = (
    "clock",
    "config",
    "i18n",
    "links",
    "models",
    "netguard",
    "ops",
    "rollup",
    "rules",
    "schema",
    "snapshot",
    "store",
)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules(*parts: str) -> list[Path]:
    return sorted((ROOT.joinpath(*parts)).rglob("*.py"))


def imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def core_modules() -> list[Path]:
    found = []
    for name in CORE:
        package = ROOT / "status" / name
        found += modules("status", name) if package.is_dir() else [package.with_suffix(".py")]
    return found


@pytest.mark.parametrize("path", modules("status"), ids=lambda p: str(p.relative_to(ROOT)))
def test_status_imports_no_plugin_package(path):
    assert not [n for n in imports(path) if under(n, "probes", "subscribers", "app")]


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_neither_the_web_nor_flask(path):
    assert not [n for n in imports(path) if under(n, "status.web", "flask", "flask_babel")]


@pytest.mark.parametrize(
    "path", modules("probes") + modules("subscribers"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_plugins_use_the_core_not_the_web(path):
    assert not [n for n in imports(path) if under(n, "status.web", "app")]


@pytest.mark.parametrize(
    "path",
    [p for package in PACKAGES for p in modules(package)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_modules_and_functions_stay_small(path):
    source = path.read_text()
    assert source.count("\n") <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long


SURFACES = ("public", "machine", "console", "api_v1")


@pytest.mark.parametrize("surface", SURFACES)
def test_web_surfaces_do_not_import_each_other(surface):
    others = tuple(f"status.web.{s}" for s in SURFACES if s != surface)
    for path in modules("status", "web", surface):
        assert not [n for n in imports(path) if under(n, *others)], path
