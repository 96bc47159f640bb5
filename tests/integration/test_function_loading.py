"""Functions are loaded as Lambda loads them: each from its own folder, importing its own
modules by their plain names, and never another function's module of the same name (they
share one process in the tests and the local stack)."""

from __future__ import annotations

import sys
import types

from local.template import load_function_module


def _function(folder, name: str):
    folder.mkdir()
    (folder / "app.py").write_text("import helper\n\nNAME = helper.NAME\n", encoding="utf-8")
    (folder / "helper.py").write_text(f"NAME = {name!r}\n", encoding="utf-8")
    return folder


def test_same_named_modules_of_two_functions_stay_apart(tmp_path, monkeypatch):
    # Given two functions that each import a module called helper, and a helper already
    # imported by someone else
    first = _function(tmp_path / "first", "first")
    second = _function(tmp_path / "second", "second")
    elsewhere = types.ModuleType("helper")
    monkeypatch.setitem(sys.modules, "helper", elsewhere)
    # When both are loaded, and the first once more (a second execution environment)
    loaded = [
        load_function_module(folder, "app", f"fn_{n}")
        for n, folder in enumerate([first, second, first])
    ]
    # Then each got its own helper, freshly
    assert [module.NAME for module in loaded] == ["first", "second", "first"]
    assert sys.modules["fn_0.helper"] is not sys.modules["fn_2.helper"]
    # and the process's own helper is left as it was
    assert sys.modules["helper"] is elsewhere
    assert str(first) not in sys.path
