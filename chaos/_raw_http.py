"""HTTP at the byte level, for input no well-behaved client library would send: raw bytes in
the request line, repeated or non-UTF-8 headers, any body. Every request is a fresh
connection to the local stack (which closes each one after its answer)."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RawAnswer:
    """An answer as it came off the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes  # status line, headers and body: what a secret must never appear in

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def send_raw(
    base_url: str,
    method: bytes,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
    timeout: float = 30.0,
) -> RawAnswer:
    """Send one request exactly as given (``content_length`` adds the header) and read the
    whole answer."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + f"{host}:{port}".encode()]
    lines += [name + b": " + value for name, value in headers]
    if content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(request)
        received = bytearray()
        while chunk := connection.recv(1 << 16):
            received += chunk
    return parse_answer(bytes(received))


def parse_answer(raw: bytes) -> RawAnswer:
    """An HTTP/1.1 answer read until the server closed the connection."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    ]
    return RawAnswer(status=status, headers=headers, body=body, raw=raw)
