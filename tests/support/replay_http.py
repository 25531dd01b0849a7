"""A loopback HTTP server that answers GETs from a Python method: the base of the forge replay servers.

Subclasses implement `answer(path, headers) -> (status, headers, body)` and keep their own state (pages,
quotas, recorded requests, planted faults); this class owns the socket, the thread and the wire format.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Answer = tuple[int, dict[str, str], bytes]


class ReplayServer:
    """`ThreadingHTTPServer` on 127.0.0.1:<free port>; use as a context manager or start()/stop()."""

    def __init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def answer(self, path: str, headers: dict[str, str]) -> Answer:
        """The reply to one GET of `path` (with its query); `headers` have lower-case names."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out as two writes; with Nagle on, the body waits for a delayed ACK (~40ms)
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, out_headers, body = server.answer(self.path, headers)
            self.send_response(status)
            for key, value in out_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output readable; the servers record every request themselves

    return Handler
