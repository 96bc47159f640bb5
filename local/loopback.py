"""The HTTP servers of the local stack (API Gateway, Lambda's Invoke API, the fake TOP
gateway): threaded, bound to an address without a DNS lookup, quiet about clients that go
away, and loud, through their own log, about anything else."""

from __future__ import annotations

import sys
import threading
import traceback
from http.server import ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when more clients arrive at once.
    request_queue_size = 128
    tag = "server"  # how its error lines begin
    _serving: threading.Thread | None = None

    def serve_in_background(self, name: str, poll_interval: float = 0.1) -> None:
        """Serve in a daemon thread until ``close()``."""
        self._serving = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )
        self._serving.start()

    def close(self) -> None:
        """Stop serving, then wait for the requests in flight."""
        if self._serving is not None:  # shutdown() waits for serve_forever to end
            self.shutdown()
            self._serving.join()
            self._serving = None
        self.server_close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # typed str | bytes for every kind of socket; TCP's is str
        return f"http://{host}:{port}"

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn): not needed, can be slow.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (a late answer, a dropped call): nothing to answer
        self.report(f"[{self.tag}] error serving {client_address[0]}:\n{traceback.format_exc()}")

    def report(self, text: str) -> None:
        sys.stderr.write(text.rstrip("\n") + "\n")
