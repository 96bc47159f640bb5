"""The layer's public surfaces, and who imports what.

Handlers, the CLI, the local stack, chaos and the tests import the layer through
``cardmaker`` (use cases, types, answers, errors, wiring), ``cardmaker.top`` (protocol work)
and ``cardmaker.store`` (tools that inspect the tables' raw items). A module of the layer
imported from anywhere else is a seam nobody meant to open: these tests find it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import cardmaker
from cardmaker import errors

REPO = Path(__file__).resolve().parents[2]
SURFACES = ("cardmaker", "cardmaker.top", "cardmaker.store")
# Internal modules a test must reach, and why: the arithmetic of a rule tested where it is
# used, a patch target (a fault is injected where the function is looked up).
ALLOWED_INTERNAL = {
    "tests/integration/test_order_repository.py": {"cardmaker.retry"},  # the backoff rule
    "tests/integration/test_top_client.py": {"cardmaker.retry"},  # the backoff rule
    "tests/integration/test_card_generation.py": {"cardmaker.generation"},  # patch target
}
# The unit tests (each tests one module) and the benchmarks (which time the generator's
# internals against their floor) may import internal modules; nothing else may.
CHECKED = ("functions", "cardmaker_cli", "local", "chaos", "tests")
UNCHECKED = ("tests/unit",)


@pytest.mark.parametrize("surface", SURFACES)
def test_every_exported_name_exists_once(surface):
    module = importlib.import_module(surface)
    names = module.__all__
    assert len(names) == len(set(names)), surface
    missing = [name for name in names if not hasattr(module, name)]
    assert not missing, missing


def test_the_surface_holds_the_use_cases_and_every_error():
    use_cases = {
        "OrderService",
        "reopen_order",
        "CardGenerator",
        "DeliveryService",
        "DeliverySender",
        "reopen_delivery",
        "SecretOpener",
        "runtime",
    }
    assert use_cases <= set(cardmaker.__all__)
    error_classes = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.CardmakerError)
    }
    assert error_classes, "no error classes found"
    assert error_classes <= set(cardmaker.__all__)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _python_files(*folders: str) -> list[Path]:
    return [
        path
        for folder in folders
        for path in sorted((REPO / folder).rglob("*.py"))
        if not any(path.is_relative_to(REPO / skip) for skip in UNCHECKED)
    ]


def test_outside_the_layer_only_the_surfaces_are_imported():
    strays = {}
    checked = 0
    for path in _python_files(*CHECKED):
        relative = path.relative_to(REPO).as_posix()
        layer_modules = {m for m in _imports(path) if m.split(".")[0] == "cardmaker"}
        checked += bool(layer_modules)
        stray = layer_modules - set(SURFACES) - ALLOWED_INTERNAL.get(relative, set())
        if stray:
            strays[relative] = sorted(stray)
    assert checked > 50, checked  # the walk found the importers
    assert not strays, strays


def test_the_cli_imports_nothing_of_the_dev_tooling():
    tooling = {"local", "chaos", "bench", "tests"}
    files = _python_files("cardmaker_cli")
    assert files
    for path in files:
        imported = {module.split(".")[0] for module in _imports(path)}
        assert not imported & tooling, path
