"""Files that hold card secrets: created owner-only, never overwriting anything, and never
left half-written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cardmaker_cli.errors import CliError


def refuse_existing(path: Path) -> None:
    """``CliError`` if ``path`` exists (checked early, before any work; the final link
    checks again, atomically)."""
    if path.exists() or path.is_symlink():
        raise CliError(f"{path} already exists: not overwriting it")


@contextmanager
def exclusive_file(path: Path) -> Iterator[BinaryIO]:
    """A new file at ``path``, mode 0600, that appears only once complete.

    It is written under a temporary name in the same directory (``mkstemp``: O_EXCL, 0600),
    synced, then hard-linked to ``path``: a link never replaces an existing file. On any
    failure the temporary file is removed and ``path`` is left as it was (only a killed
    process leaves its ``.<name>.*.part`` behind, still 0600).
    """
    refuse_existing(path)
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
    except OSError as error:
        raise CliError(f"cannot create a file in {path.parent}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        _link_into_place(Path(temporary), path)
    except OSError as error:  # a full disk, a lost mount: a message, not a traceback
        raise CliError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _link_into_place(temporary: Path, path: Path) -> None:
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise CliError(f"{path} appeared meanwhile: not overwriting it") from None
    except OSError:
        # A file system without hard links: claim the name exclusively, then move the
        # complete file onto our own empty claim.
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            raise CliError(f"{path} appeared meanwhile: not overwriting it") from None
        os.replace(temporary, path)
