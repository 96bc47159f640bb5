"""The `cardmaker` command as an operator gets it: a wheel built from a copy of the checkout
(as `pip install .` from a clone builds it), installed with its dependencies into a fresh
venv outside the checkout, and run from a directory outside it. Nothing of the dev venv (its
`.pth` to the checkout, the dev dependencies) is visible there.

It reaches the package registry for the build backend and the dependencies (pip's cache makes
that quick); about 20-40 seconds in all, most of it pip installing boto3 and friends.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from cardmaker import CARDORDER_MAKE, CARDORDER_MAKE_PARAMETERS
from cardmaker.top import SpiPolicy, SpiRequest, verify_spi_call

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared"
# What a checkout has that a clone would not (or that a build must not see).
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    ".aws-sam",
    ".cardmaker",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)
DEV_ONLY = {"local", "chaos", "bench", "tests", "functions", "layers", "events", "docs"}
SECRET = "package-test-secret-4711"  # a made-up app secret, for this test only
API_URL = "https://cardmaker.example.invalid"  # never contacted: `platform sign` only prints
_IMPORT_ALL_THEN_LIST_FILES = """
import importlib, importlib.metadata, json, pkgutil, cardmaker, cardmaker_cli
for package in (cardmaker, cardmaker_cli):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
print(json.dumps([str(name) for name in importlib.metadata.distribution("cardmaker").files]))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with the wheel built from a copy of the checkout
    and the dependencies it declares; returns the venv's bin directory."""
    work = tmp_path_factory.mktemp("cli-package")
    clone = work / "clone"
    shutil.copytree(ROOT, clone, ignore=NOT_IN_A_CLONE)
    wheels = work / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, clone)
    (wheel,) = wheels.glob("cardmaker-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    # The dev venv's pip installs into the new venv (quicker than bootstrapping a pip there);
    # no byte-compiling of boto3 and friends, which only costs time here.
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-compile", wheel)
    return venv / "bin"


def test_the_distribution_is_the_layer_and_the_command_and_every_module_imports(installed):
    # Given the installed distribution's file list, read after importing every module of its
    # packages (one process: each start costs seconds here)
    listed = _outside(installed, "-c", _IMPORT_ALL_THEN_LIST_FILES)
    files = json.loads(listed.stdout)
    top_level = {Path(name).parts[0] for name in files if not name.startswith("..")}

    # Then it holds the layer's package and the command, and no dev tooling
    assert {"cardmaker", "cardmaker_cli"} <= top_level
    assert not top_level & DEV_ONLY, top_level
    # and every module of the layer's package (a subpackage missed would fail at run time)
    layer_modules = {
        path.relative_to(LAYER).as_posix() for path in (LAYER / "cardmaker").rglob("*.py")
    }
    assert layer_modules <= set(files)
    # and every module imported: none imports the dev tooling (local/, chaos/) or a package
    # the distribution does not declare (one the dev venv happens to have), whichever
    # command uses it; and the dev tooling is not importable from the venv
    probe = _outside(installed, "-c", "import local", check=False)
    assert "No module named 'local'" in probe.stderr


def test_cardmaker_help_runs_outside_the_checkout(installed):
    result = _outside(installed, "--help", command="cardmaker")

    for command in ("platform", "orders", "deliveries", "cards", "dlq"):
        assert command in result.stdout


def test_platform_sign_prints_a_request_signed_as_the_platform_signs(installed):
    # When the installed command signs an order for a deployed stack's API
    result = _outside(
        installed,
        "--api-url", API_URL, "platform", "sign", "--card-order-id", "26107",
        "--template", "T1:4:20", "--app-key", "12345678", "--json",
        command="cardmaker",
        env={"TOP_APP_SECRET": SECRET},
    )  # fmt: skip

    # Then the printed request carries the business parameters and never the secret
    signed = json.loads(result.stdout)
    assert SECRET not in result.stdout
    url = urlsplit(signed["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{API_URL}/top/spi"
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    body = signed["body"]
    order = json.loads(body)
    assert (order["card_order_id"], order["card_product_infos"][0]["count"]) == (26107, 4)
    # and its sign is TOP's SPI sign, computed here by hand: MD5 (upper-case hex) over the
    # secret, the query's parameters sorted by name as name+value, the JSON body, the secret
    params = "".join(name + value for name, value in sorted(query.items()) if name != "sign")
    expected = hashlib.md5((SECRET + params + body + SECRET).encode("utf-8")).hexdigest()
    assert query["sign"] == expected.upper()
    # and the SPI endpoint's verification accepts the request as printed
    verified = verify_spi_call(
        SpiRequest(raw_query=url.query, body=body.encode("utf-8"), headers=signed["headers"]),
        SECRET,
        policy=SpiPolicy(app_key="12345678"),
        methods={CARDORDER_MAKE: CARDORDER_MAKE_PARAMETERS},
    )
    assert verified.params["method"] == "alibaba.fundplatform.cardorder.make"


def _outside(
    bin_dir: Path,
    *args: str,
    command: str = "python",
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a program of the venv from a directory outside the checkout, with none of the
    dev environment's Python paths."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
        and not name.startswith(("TOP_", "CARDMAKER_"))
    }
    environment.update(env or {}, COLUMNS="200")
    result = subprocess.run(
        [bin_dir / command, *args],
        cwd=bin_dir.parent.parent,  # the test's temporary directory, not the checkout
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _run(*command: str | Path) -> None:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
