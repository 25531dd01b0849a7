"""The Redis resource against both server flavours, and the embedded server's sharing and durability."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
from codelupe_dagster.core.masking import mask_url
from codelupe_dagster.resources.redis import RedisResource, RedisUnavailable, connect_redis


def test_resource_connects_to_configured_url(redis_url: str, tmp_path: Path) -> None:
    resource = RedisResource(url=redis_url, data_dir=str(tmp_path), key_prefix="t:")
    client = resource.get_client()
    client.zadd(resource.redis_keys.repos, {"octo/cat": 3.0})
    assert redis.Redis.from_url(redis_url).zscore("t:repos", "octo/cat") == 3.0
    assert resource.redis_keys.repos == "t:repos"


def _url_in_child(data_dir: str, queue: multiprocessing.Queue) -> None:
    queue.put(ensure_embedded_valkey(data_dir))


def test_embedded_server_is_shared_by_processes_and_survives_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    resource_connection = RedisResource(data_dir=str(data_dir)).get_client().connection_pool.connection_kwargs
    first = ensure_embedded_valkey(data_dir)
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    children = [ctx.Process(target=_url_in_child, args=(str(data_dir), queue)) for _ in range(3)]
    for child in children:
        child.start()
    urls = {queue.get(timeout=60) for _ in children}
    for child in children:
        child.join(timeout=60)
    assert urls == {first}, "every process must attach to the one server of this DATA_DIR"
    assert resource_connection["port"] == int(first.rsplit(":", 1)[1].split("/")[0])

    client = redis.Redis.from_url(first)
    client.zadd("pipeline:repos", {"a/b": 1.5})
    client.hset("pipeline:processed:files", b"\x00" * 16, "b1")
    assert stop_embedded_valkey(data_dir)
    with pytest.raises(redis.ConnectionError):
        client.ping()

    second = ensure_embedded_valkey(data_dir)
    restarted = redis.Redis.from_url(second)
    assert restarted.zscore("pipeline:repos", "a/b") == 1.5
    assert restarted.hget("pipeline:processed:files", b"\x00" * 16) == b"b1"
    stop_embedded_valkey(data_dir)


def test_embedded_server_restarts_after_a_crash(tmp_path: Path) -> None:
    import json
    import os
    import signal

    url = ensure_embedded_valkey(tmp_path)
    state = json.loads((tmp_path / "valkey" / "server.json").read_text())
    os.kill(state["pid"], signal.SIGKILL)
    again = ensure_embedded_valkey(tmp_path)
    assert redis.Redis.from_url(again).ping()
    assert json.loads((tmp_path / "valkey" / "server.json").read_text())["pid"] != state["pid"]
    assert url.startswith("redis://:") and "@127.0.0.1:" in url
    stop_embedded_valkey(tmp_path)


def test_unreachable_url_gives_clear_error_with_masked_password(tmp_path: Path) -> None:
    with pytest.raises(RedisUnavailable) as info:
        connect_redis("redis://admin:hunter2@127.0.0.1:1/0", str(tmp_path), attempts=2)
    message = str(info.value)
    assert "hunter2" not in message
    assert "redis://admin:***@127.0.0.1:1/0" in message


def test_embedded_server_starts_its_own_when_the_recorded_port_now_belongs_to_another_service(
    tmp_path: Path,
) -> None:
    """After a reboot the recorded port may be served by something that does not speak Redis at all."""
    import json
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def greet_like_ssh() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=greet_like_ssh, daemon=True).start()
    home = tmp_path / "data" / "valkey"
    home.mkdir(parents=True)
    stale_url = f"redis://127.0.0.1:{port}/0"
    (home / "server.json").write_text(json.dumps({"url": stale_url, "pid": None, "run_id": "before-reboot"}))
    try:
        url = ensure_embedded_valkey(tmp_path / "data")
        assert url != stale_url
        assert redis.Redis.from_url(url).ping()
    finally:
        stop_embedded_valkey(tmp_path / "data")
        listener.close()


def _raw(port: int, command: bytes) -> bytes:
    """One inline command on a fresh connection, and the server's first reply line."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(1024)


def test_embedded_server_requires_its_password(tmp_path: Path) -> None:
    import stat

    url = ensure_embedded_valkey(tmp_path / "data")
    try:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.password and len(parts.password) >= 32
        home = tmp_path / "data" / "valkey"
        assert (home / "password").read_text().strip() == parts.password
        for name in ("password", "valkey.conf", "server.json"):
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
        assert parts.password not in (home / "server.json").read_text()
        # Raw RESP, as any local process could speak it: refused without the password, and with a guess.
        assert _raw(parts.port, b"PING\r\n").startswith(b"-NOAUTH")
        assert _raw(parts.port, b"AUTH guess\r\n").startswith(b"-WRONGPASS")
        client = redis.Redis.from_url(url)
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert ensure_embedded_valkey(tmp_path / "data") == url  # the same password every time
        assert mask_url(url) == f"redis://:***@127.0.0.1:{parts.port}/0"
    finally:
        stop_embedded_valkey(tmp_path / "data")
    again = ensure_embedded_valkey(tmp_path / "data")
    assert urlsplit(again).password == parts.password  # generated once per DATA_DIR
    stop_embedded_valkey(tmp_path / "data")


def test_a_server_started_before_passwords_is_retired_without_losing_data(tmp_path: Path) -> None:
    """An upgrade: the recorded server answers without a password; it is replaced, its data kept."""
    import json
    import socket
    import subprocess

    from codelupe_dagster.backends.embedded_valkey import valkey_binary

    home = tmp_path / "data" / "valkey"
    home.mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(home), "--appendonly", "yes"]
    subprocess.run([str(valkey_binary()), *args, "--daemonize", "yes", "--pidfile", str(home / "valkey.pid")])
    old_url = f"redis://127.0.0.1:{port}/0"
    old = redis.Redis.from_url(old_url)
    for _ in range(100):
        try:
            old.zadd("pipeline:repos", {"a/b": 2.0})
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    state = {"url": old_url, "pid": int((home / "valkey.pid").read_text()), "run_id": old.info()["run_id"]}
    (home / "server.json").write_text(json.dumps(state))

    url = ensure_embedded_valkey(tmp_path / "data")
    try:
        assert urlsplit(url).password
        with pytest.raises(redis.ConnectionError):
            old.ping()  # the unprotected server is gone, not running beside the new one
        assert redis.Redis.from_url(url).zscore("pipeline:repos", "a/b") == 2.0
    finally:
        stop_embedded_valkey(tmp_path / "data")


def _server_pids(home: Path) -> set[int]:
    """valkey-server processes working in `home` (the test started them all)."""
    import os

    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if Path(exe).name.startswith("valkey-server") and Path(cwd) == home.resolve():
            pids.add(int(entry))
    return pids


def _starter_killed_before_recording(tmp_path: Path) -> str:
    """Start this DATA_DIR's server the way a starter SIGKILLed between the server's start and its record
    leaves it: running, with no `server.json`. A key is written to it first; its password URL is returned."""
    url = ensure_embedded_valkey(tmp_path)
    redis.Redis.from_url(url).set("kept", "yes")
    (tmp_path / "valkey" / "server.json").unlink()
    return url


def test_a_server_whose_starter_died_before_recording_it_is_adopted(tmp_path: Path) -> None:
    """Two servers on one append-only file would interleave their writes: the next start adopts the
    unrecorded one instead of starting a second."""
    import json

    home = tmp_path / "valkey"
    _starter_killed_before_recording(tmp_path)
    (orphan,) = _server_pids(home)
    try:
        url = ensure_embedded_valkey(tmp_path)
        assert _server_pids(home) == {orphan}
        assert redis.Redis.from_url(url).get("kept") == b"yes"
        assert json.loads((home / "server.json").read_text())["pid"] == orphan
    finally:
        stop_embedded_valkey(tmp_path)
    assert _server_pids(home) == set()


def test_an_unrecorded_server_that_does_not_answer_is_shut_down_before_a_new_one_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped (or hung) server cannot be adopted: it is killed, then a new one starts on the same files
    and finds the data the old one acknowledged."""
    import os
    import signal

    from codelupe_dagster.backends import embedded_valkey

    home = tmp_path / "valkey"
    _starter_killed_before_recording(tmp_path)
    (orphan,) = _server_pids(home)
    os.kill(orphan, signal.SIGSTOP)  # it neither answers nor acts on SIGTERM
    monkeypatch.setattr(embedded_valkey, "START_TIMEOUT_S", 1.0)
    monkeypatch.setattr(embedded_valkey, "SHUTDOWN_TIMEOUT_S", 1.0)
    try:
        url = ensure_embedded_valkey(tmp_path)
        (server,) = _server_pids(home)
        assert server != orphan
        assert redis.Redis.from_url(url).get("kept") == b"yes"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)
        stop_embedded_valkey(tmp_path)
    assert _server_pids(home) == set()


def test_stop_also_stops_an_unrecorded_server(tmp_path: Path) -> None:
    home = tmp_path / "valkey"
    _starter_killed_before_recording(tmp_path)
    assert len(_server_pids(home)) == 1
    assert stop_embedded_valkey(tmp_path)
    assert _server_pids(home) == set()
