"""The operator console's static files (``console/``), served by the local stack's HTTP
server at ``/console/``, beside the API it calls: same origin, so the page needs no CORS and
its requests go unsigned to the local routes (which play the IAM principal themselves).

On AWS the same folder is a static site of its own (docs/operator-manual.md, "The
console"); nothing here is deployed.
"""

from __future__ import annotations

from pathlib import Path

from local.template import REPO

CONSOLE_DIR = REPO / "console"
CONSOLE_PATH = "/console/"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The page loads only its own files and calls only its own origin; nothing may frame it.
_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    ),
]


class ConsoleFiles:
    """The console's files by URL path: a fixed set, read from disk on each request (edit a
    file, reload the page). No other path of the folder is reachable (no ``..``, no
    subfolders)."""

    def __init__(self, folder: Path = CONSOLE_DIR) -> None:
        self._folder = folder

    def handles(self, path: str) -> bool:
        return path == CONSOLE_PATH.rstrip("/") or path.startswith(CONSOLE_PATH)

    def answer(self, method: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for a request under ``/console``."""
        if method not in ("GET", "HEAD"):
            return 405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"GET only\n"
        if path == CONSOLE_PATH.rstrip("/"):
            return 301, [("Location", CONSOLE_PATH)], b""
        name = path[len(CONSOLE_PATH) :] or "index.html"
        files = {
            file.name: file
            for file in self._folder.iterdir()
            if file.is_file() and file.suffix in _TYPES
        }
        found = files.get(name)
        if found is None:
            return 404, [("Content-Type", "text/plain")], b"Not Found\n"
        return 200, [("Content-Type", _TYPES[found.suffix]), *_HEADERS], found.read_bytes()
