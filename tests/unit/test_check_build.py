"""tools/check_build.py (`make build`'s check) on fake build folders: what it refuses."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "check_build.py"
FUNCTIONS = (
    "TopSpiFunction",
    "OperatorApiFunction",
    "CardGeneratorFunction",
    "CardDeliveryFunction",
    "LifecycleEventsFunction",
    "PlatformNotifierFunction",
    "EticketNoticeFunction",
    "EticketFulfilmentFunction",
    "StockDeadlineFunction",
)


def _elf(machine: int) -> bytes:
    return b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little") + bytes(40)


@pytest.fixture
def check(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("check_build", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build = tmp_path / "build"
    layer = build / "SharedLayer" / "python"
    (layer / "cardmaker").mkdir(parents=True)
    (layer / "cardmaker" / "__init__.py").write_text("")
    lock = tmp_path / "requirements.txt"
    lock.write_text("# pins\npydantic-core==2.50.4\n")
    info = layer / "pydantic_core-2.50.4.dist-info"
    info.mkdir()
    (info / "WHEEL").write_text("Tag: cp313-cp313-manylinux_2_17_aarch64\n")
    (layer / "pydantic_core").mkdir()
    (layer / "pydantic_core" / "_core.cpython-313-aarch64-linux-gnu.so").write_bytes(_elf(183))
    for function in FUNCTIONS:
        (build / function).mkdir()
        (build / function / "app.py").write_text("")
    monkeypatch.setattr(module, "BUILD", build)
    monkeypatch.setattr(module, "LAYER", layer)
    monkeypatch.setattr(module, "LOCK", lock)
    return module


def test_a_build_for_lambda_passes(check):
    assert sorted(check.functions()) == sorted(FUNCTIONS)
    assert check.problems() == []


def test_x86_64_or_other_python_binaries_are_refused(check):
    core = check.LAYER / "pydantic_core"
    (core / "_core.cpython-313-aarch64-linux-gnu.so").write_bytes(_elf(62))  # x86_64
    (core / "_other.cpython-311-aarch64-linux-gnu.so").write_bytes(_elf(183))
    (check.LAYER / "pydantic_core-2.50.4.dist-info" / "WHEEL").write_text(
        "Tag: cp313-cp313-manylinux_2_17_x86_64\n"
    )

    found = "\n".join(check.problems())

    assert "_core.cpython-313-aarch64-linux-gnu.so is not an aarch64 ELF" in found
    assert "_other.cpython-311-aarch64-linux-gnu.so is built for another Python" in found
    assert "pydantic-core: wheel for ['cp313-cp313-manylinux_2_17_x86_64']" in found


def test_missing_pins_functions_and_package_and_dev_tooling_are_refused(check):
    check.LOCK.write_text("pydantic-core==2.50.5\nboto3==1.44.5\n")
    (check.BUILD / "TopSpiFunction" / "app.py").unlink()
    (check.LAYER / "cardmaker" / "__init__.py").unlink()
    (check.LAYER / "tests").mkdir()
    (check.LAYER / "pytest-9.2.0.dist-info").mkdir()
    (check.LAYER / "pytest-9.2.0.dist-info" / "WHEEL").write_text("Tag: py3-none-any\n")

    found = check.problems()

    assert "the layer has pydantic-core==2.50.4, the lock says 2.50.5" in found
    assert "the layer lacks boto3==1.44.5 (locked)" in found
    assert "TopSpiFunction: no app.py in its artifact" in found
    assert "the layer has no cardmaker package" in found
    assert "SharedLayer/python/tests: dev tooling in an artifact" in found
    assert "SharedLayer/python/pytest-9.2.0.dist-info: dev tooling in an artifact" in found
