"""`make build`'s check of what `sam build` left in .aws-sam/build, i.e. what `sam deploy`
uploads: the layer holds the `cardmaker` package and every locked distribution at its locked
version, its compiled modules are built for Lambda (CPython 3.13 on arm64: ELF aarch64,
`cpython-313-aarch64` or abi3 names, wheel tags for manylinux aarch64), each function's code is
there, and nothing of the dev tooling is anywhere. Prints the layer's size, unzipped and zipped.

Standard library only: it runs with the same Python 3.13 that `sam build` used.
"""

from __future__ import annotations

import re
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "SharedLayer" / "python"
LOCK = ROOT / "layers" / "shared" / "requirements.txt"
# Dev tooling: as a top-level folder or a distribution, none of it may ship.
DEV_FOLDERS = {"local", "chaos", "bench", "tests", "cardmaker_cli"}
DEV_DISTRIBUTIONS = {
    "moto", "pytest", "pytest-xdist", "ruff", "mypy", "hypothesis", "schemathesis", "cfn-lint",
    "boto3-stubs", "botocore-stubs", "aws-sam-cli", "typer", "rich", "pyzipper",
}  # fmt: skip
ELF_AARCH64 = 183  # e_machine in the ELF header
WHEEL_PLATFORM = re.compile(r"^(cp313-cp313|cp3\d+-abi3)-manylinux.*_aarch64$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def functions() -> dict[str, str]:
    """{logical id: CodeUri} of the template's functions (a line scan: no YAML library here)."""
    found: dict[str, str] = {}
    current = None
    for line in (ROOT / "template.yaml").read_text().splitlines():
        if match := re.match(r"^  (\w+):\s*$", line):
            current = match.group(1)
        elif current and (match := re.match(r"^      CodeUri:\s*(\S+)", line)):
            found[current] = match.group(1)
    typed = (ROOT / "template.yaml").read_text()
    return {
        name: uri
        for name, uri in found.items()
        if re.search(rf"^  {name}:\s*\n    Type: AWS::Serverless::Function", typed, re.M)
    }


def installed() -> dict[str, tuple[str, Path]]:
    """{distribution: (version, its .dist-info)} in the layer."""
    result = {}
    for info in LAYER.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        result[canonical(name)] = (version, info)
    return result


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonical(name.split("[", 1)[0])] = version.strip()
    return pins


def problems() -> list[str]:
    return layer_problems() + binary_problems() + function_problems() + dev_tooling_problems()


def layer_problems() -> list[str]:
    """The package and every locked distribution at its version."""
    found = []
    if not (LAYER / "cardmaker" / "__init__.py").is_file():
        found.append("the layer has no cardmaker package")
    layer = installed()
    for name, version in locked().items():
        if name not in layer:
            found.append(f"the layer lacks {name}=={version} (locked)")
        elif layer[name][0] != version:
            found.append(f"the layer has {name}=={layer[name][0]}, the lock says {version}")
    return found


def binary_problems() -> list[str]:
    """Compiled code for Lambda's CPython 3.13 on arm64 only (an x86_64 or cp311 build would
    fail at import there, not here)."""
    found = []
    for name, (_, info) in installed().items():
        wheel = (info / "WHEEL").read_text().splitlines()
        tags = [line.removeprefix("Tag: ") for line in wheel if line.startswith("Tag: ")]
        compiled = any(not tag.endswith("-none-any") for tag in tags)
        if compiled and not all(WHEEL_PLATFORM.match(tag) for tag in tags):
            found.append(f"{name}: wheel for {tags}, not CPython 3.13 on manylinux aarch64")
    for library in LAYER.rglob("*.so*"):
        header = library.read_bytes()[:20] if library.is_file() else b""
        where = library.relative_to(BUILD)
        if header[:4] != b"\x7fELF" or int.from_bytes(header[18:20], "little") != ELF_AARCH64:
            found.append(f"{where} is not an aarch64 ELF library")
        elif ".cpython-" in library.name and "cpython-313-aarch64" not in library.name:
            found.append(f"{where} is built for another Python")
    return found


def function_problems() -> list[str]:
    return [
        f"{function}: no app.py in its artifact"
        for function in functions()
        if not (BUILD / function / "app.py").is_file()
    ]


def dev_tooling_problems() -> list[str]:
    found = []
    for artifact in (path for path in BUILD.iterdir() if path.is_dir()):
        for root in (artifact, artifact / "python"):
            found += [
                f"{(root / folder).relative_to(BUILD)}: dev tooling in an artifact"
                for folder in sorted(DEV_FOLDERS)
                if (root / folder).exists()
            ]
        for info in artifact.rglob("*.dist-info"):
            if canonical(info.name.partition("-")[0]) in DEV_DISTRIBUTIONS:
                found.append(f"{info.relative_to(BUILD)}: dev tooling in an artifact")
    return found


def size(folder: Path) -> tuple[int, int]:
    """(bytes on disk, bytes zipped as sam deploy zips it) of a folder's files."""
    return sizes_zipped(folder, None)


def sizes_zipped(folder: Path, only: tuple[str, ...] | None) -> tuple[int, int]:
    """(bytes on disk, bytes zipped) of a folder's files, or of those under its `only` entries."""
    files = [
        path
        for path in folder.rglob("*")
        if path.is_file() and (only is None or path.relative_to(folder).parts[0] in only)
    ]
    with tempfile.TemporaryFile() as archive:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(folder.parent))
        return sum(path.stat().st_size for path in files), archive.tell()


def main() -> int:
    if not LAYER.is_dir():
        print("check_build: no .aws-sam/build/SharedLayer/python: run `make build`")
        return 1
    found = problems()
    for problem in found:
        print(f"check_build: {problem}")
    unzipped, zipped = size(LAYER)
    sdk = sum(
        path.stat().st_size
        for name in ("boto3", "botocore", "s3transfer")
        for path in (LAYER / name).rglob("*")
        if path.is_file()
    )
    _, sdk_zipped = sizes_zipped(LAYER, ("boto3", "botocore", "s3transfer"))
    mib = 1024 * 1024
    print(
        f"check_build: layer {unzipped / mib:.1f} MiB unzipped ({sdk / mib:.1f} MiB of it boto3,"
        f" botocore, s3transfer), {zipped / mib:.1f} MiB zipped ({sdk_zipped / mib:.1f} MiB"
        f" of it the SDK); {len(functions())} functions"
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
