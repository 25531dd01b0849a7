"""Serve git repositories over git's smart HTTP protocol on loopback, for tests and benchmarks.

`git http-backend` (the CGI that real git hosting runs behind a web server) sits behind a small threaded
`http.server`, so the cloner is exercised over the same protocol it uses against GitHub: ref
advertisement, then a shallow `upload-pack` negotiation. libgit2 may send request bodies chunked and/or
gzip-compressed; chunked bodies are de-chunked here and gzip is passed through to http-backend, which
inflates it itself (as it does behind Apache or nginx).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

GIT_HTTP_BACKEND = shutil.which("git-http-backend") or "/usr/lib/git-core/git-http-backend"


@dataclass
class GitHttpServer:
    """A running server exporting every repository under ``root`` at ``<url>/<path relative to root>``."""

    root: Path
    url: str
    _server: ThreadingHTTPServer
    _thread: threading.Thread
    requests: Counter[str] = field(default_factory=Counter)

    def repo_url(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _read_chunked(rfile) -> bytes:
    body = bytearray()
    while True:
        size_line = rfile.readline().strip()
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            # Trailers (rare) end with an empty line.
            while rfile.readline().strip():
                pass
            return bytes(body)
        body += rfile.read(size)
        rfile.readline()  # CRLF after each chunk


def _make_handler(root: Path, requests: Counter[str]) -> type[BaseHTTPRequestHandler]:
    class GitCgiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def do_GET(self) -> None:
            self._run_cgi(b"")

        def do_POST(self) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = _read_chunked(self.rfile)
            else:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._run_cgi(body)

        def _run_cgi(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            service = parts.query.removeprefix("service=") if parts.query else parts.path.rsplit("/", 1)[-1]
            requests[service] += 1
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": self.client_address[0],
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            result = subprocess.run(
                [GIT_HTTP_BACKEND], input=body, env=env, capture_output=True, check=False, timeout=120
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            if not _ and b"\n\n" in result.stdout:
                head, _, payload = result.stdout.partition(b"\n\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return GitCgiHandler


def start_git_http_server(root: Path) -> GitHttpServer:
    """Start serving ``root`` on 127.0.0.1 on a free port, in a daemon thread."""
    requests: Counter[str] = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(Path(root), requests))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="git-http", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return GitHttpServer(
        root=Path(root), url=f"http://{host}:{port}", _server=server, _thread=thread, requests=requests
    )
