#!/usr/bin/env python3
"""Provision, start and stop a real single-node Elasticsearch for development, tests and CI.

    python scripts/elasticsearch.py start|stop|status|url [--version 9.2.8] [--port N] [--heap 512m]
    python scripts/elasticsearch.py run -- pytest -m elasticsearch

The node is Elastic's *integ-test* distribution from Maven Central (the only 9.x server build published
there): a real server with the core modules only. It has no ``analysis-common`` module, so the index
mapping in ``elastic_index.py`` uses only the ``standard`` tokenizer and ``lowercase`` filter.

Importable (stdlib only, because ``scripts/`` on ``sys.path`` would shadow the ``elasticsearch`` client):
``start_node(...) -> Node`` with ``node.url`` and ``node.stop()``. Load it by path, as
``tests/support/es_node.py`` does, never as ``import elasticsearch``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAVEN_BASE = "https://repo1.maven.org/maven2/org/elasticsearch/distribution/integ-test-zip/elasticsearch"
# Newest first; 9.3+ is not published on Central. The Python client refuses other server majors, so 9.x only.
DEFAULT_VERSIONS = ("9.2.8", "9.2.4", "9.1.0", "9.0.8")
# Central's mirror reachable from here serves the zips but 404s their .sha1 sidecars; these digests were
# recorded from downloads of the same URLs and pin the archive when the sidecar is unavailable.
PINNED_SHA1 = {"9.2.8": "46dc08be208116a375ebcd4168cacac106a8f88c"}
MIN_JAVA = 21
# Generous: a JVM start on a busy two-core machine takes minutes, not seconds.
STARTUP_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 30.0
# Elasticsearch refuses to run as root; root runs the server as this unprivileged user instead.
SERVICE_USER = "nobody"
STATE_FILE = "node.json"


class NodeError(RuntimeError):
    """The node cannot be provisioned or started; the message says what to fix."""


@dataclass
class Node:
    url: str
    pid: int
    run_dir: Path
    version: str
    _process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Terminate the server's process group and wait; idempotent."""
        _terminate_group(self.pid, self._process)
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / STATE_FILE).unlink()


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "codelupe" / "elasticsearch"


def default_work_dir(cache_dir: Path) -> Path:
    # Root's home is not traversable by the unprivileged service user, so root unpacks and runs elsewhere.
    if os.geteuid() == 0:
        return Path(tempfile.gettempdir()) / "codelupe-elasticsearch"
    return cache_dir


def log(message: str) -> None:
    print(f"[elasticsearch] {message}", file=sys.stderr, flush=True)


# --- Java -------------------------------------------------------------------------------------------


def java_major(java_home: Path) -> int | None:
    """The feature version of a JDK, from its ``release`` file (no JVM start needed)."""
    release = java_home / "release"
    if not (java_home / "bin" / "java").exists():
        return None
    if release.exists():
        match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', release.read_text(errors="replace"), re.M)
        if match:
            # Java 8 and older report "1.8.0"; those are too old either way.
            return int(match.group(2)) if match.group(1) == "1" else int(match.group(1))
    return None


def find_java_home(min_major: int = MIN_JAVA) -> Path:
    """ES_JAVA_HOME or JAVA_HOME when new enough, else the newest JDK >= ``min_major`` in /usr/lib/jvm."""
    for var in ("ES_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(var)
        if value and (java_major(Path(value)) or 0) >= min_major:
            return Path(value)
    candidates = []
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        for home in jvm_root.iterdir():
            major = java_major(home)
            if major is not None and major >= min_major and not home.is_symlink():
                candidates.append((major, home))
    if not candidates:
        raise NodeError(
            f"Elasticsearch 9 needs Java {min_major}+; none found in ES_JAVA_HOME, JAVA_HOME"
            " or /usr/lib/jvm. "
            "Install a JDK (e.g. apt-get install temurin-25-jdk or openjdk-21-jdk-headless) "
            "or set ES_JAVA_HOME."
        )
    return max(candidates)[1]


# --- Distribution -----------------------------------------------------------------------------------


def _download(url: str, dest: Path) -> None:
    partial = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)
    partial.replace(dest)


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_sha1(version: str, zip_url: str) -> str | None:
    try:
        with urllib.request.urlopen(zip_url + ".sha1", timeout=30) as response:
            text = response.read().decode().strip()
        if re.fullmatch(r"[0-9a-f]{40}(\s.*)?", text):
            return text[:40]
    except (urllib.error.URLError, OSError):
        pass
    return PINNED_SHA1.get(version)


def fetch_distribution(version: str, cache_dir: Path) -> Path:
    """Download and verify the zip once; a cached zip was verified when it was stored."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    archive = cache_dir / f"elasticsearch-{version}.zip"
    if archive.exists():
        return archive
    url = f"{MAVEN_BASE}/{version}/elasticsearch-{version}.zip"
    log(f"downloading {url}")
    candidate = archive.with_name(archive.name + ".download")
    _download(url, candidate)
    expected = _expected_sha1(version, url)
    actual = _sha1(candidate)
    if expected is None:
        # No checksum published or pinned: at least refuse a truncated or corrupt archive.
        with zipfile.ZipFile(candidate) as bundle:
            bad = bundle.testzip()
        if bad is not None:
            candidate.unlink()
            raise NodeError(f"{url}: corrupt archive member {bad}")
        log(f"WARNING: no published sha1 for {version}; archive CRCs checked, sha1 is {actual}")
    elif actual != expected:
        candidate.unlink()
        raise NodeError(f"{url}: sha1 {actual} does not match the expected {expected}")
    candidate.replace(archive)
    return archive


def unpack(archive: Path, version: str, work_dir: Path) -> Path:
    """Unpack once (atomically, so a crash mid-way never leaves a half install) and keep file modes."""
    home = work_dir / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    work_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(work_dir, 0o755)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=work_dir))
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                target = Path(bundle.extract(info, staging))
                mode = info.external_attr >> 16
                if mode:
                    os.chmod(target, mode & 0o777)
        os.chmod(staging, 0o755)
        (staging / f"elasticsearch-{version}").replace(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return home


def provision(versions: Sequence[str], cache_dir: Path, work_dir: Path) -> tuple[str, Path]:
    """The first version that downloads and verifies, unpacked; raise with every failure otherwise."""
    failures = []
    for version in versions:
        try:
            archive = fetch_distribution(version, cache_dir)
            try:
                return version, unpack(archive, version, work_dir)
            except zipfile.BadZipFile:
                archive.unlink()  # a damaged cache entry is fetched again next time, not tripped over forever
                raise
        except (OSError, urllib.error.URLError, zipfile.BadZipFile, NodeError) as exc:
            failures.append(f"{version}: {exc}")
            log(f"cannot provision {version}: {exc}")
    raise NodeError("no Elasticsearch distribution could be provisioned: " + "; ".join(failures))


# --- Processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return status != "Z"


def _terminate_group(pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group we created at start (launcher + server JVM), then SIGKILL if needed."""
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None and not _group_alive(pid):
                return
            if process is None and not _alive(pid) and not _group_alive(pid):
                return
            time.sleep(0.2)
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _http_json(url: str, timeout: float = 5.0) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def _service_ids() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise NodeError(
            f"running as root, and there is no '{SERVICE_USER}' user to run Elasticsearch"
        ) from exc
    return entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, ids: tuple[int, int] | None) -> None:
    if ids is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, *ids)
        for name in dirs + files:
            os.chown(os.path.join(root, name), *ids, follow_symlinks=False)


def _write_config(home: Path, run_dir: Path, http_port: int, transport_port: int) -> Path:
    config = run_dir / "config"
    if config.exists():
        shutil.rmtree(config)
    shutil.copytree(home / "config", config)
    settings = {
        "cluster.name": f"codelupe-{run_dir.name}",
        "node.name": "codelupe",
        "network.host": "127.0.0.1",
        "http.port": http_port,
        "transport.port": transport_port,
        "discovery.type": "single-node",
        "xpack.security.enabled": False,
        "path.data": str(run_dir / "data"),
        "path.logs": str(run_dir / "logs"),
        # A shared dev disk that is 90% full must not flip the indices to read-only mid-test.
        "cluster.routing.allocation.disk.threshold_enabled": False,
        # Sized thread pools for a small shared machine.
        "node.processors": 1,
    }
    (config / "elasticsearch.yml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return config


def _reap_orphans(runs_dir: Path) -> None:
    """Stop nodes whose owning process died without stopping them (a killed pytest session)."""
    if not runs_dir.is_dir():
        return
    for state_path in runs_dir.glob(f"*/{STATE_FILE}"):
        state = _read_state(state_path.parent)
        if not state or _alive(state.get("owner_pid", 0)) or not state.get("ephemeral"):
            continue
        log(f"stopping orphaned node {state['url']} (owner {state['owner_pid']} is gone)")
        _terminate_group(state["pid"])
        shutil.rmtree(state_path.parent, ignore_errors=True)


def _read_state(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def running_node(run_dir: Path) -> Node | None:
    state = _read_state(run_dir)
    if not state or not _alive(state["pid"]):
        return None
    return Node(url=state["url"], pid=state["pid"], run_dir=run_dir, version=state["version"])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NodeError(f"Elasticsearch exited with code {process.returncode} while starting")
        health = _http_json(f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=3)
        if health and health.get("status") in ("yellow", "green"):
            return
        time.sleep(0.5)
    raise NodeError(f"Elasticsearch did not become healthy within {timeout:.0f}s")


def start_node(
    *,
    versions: Sequence[str] = DEFAULT_VERSIONS,
    port: int | None = None,
    heap: str = "512m",
    cache_dir: Path | None = None,
    work_dir: Path | None = None,
    name: str = "default",
    ephemeral: bool = False,
    timeout: float = STARTUP_TIMEOUT_S,
) -> Node:
    """Start (or reuse, when ``name`` is already running) a single-node server on loopback.

    ``ephemeral`` nodes belong to the calling process: their data is deleted on stop, and a later start
    reaps them if their owner died without stopping them.
    """
    cache_dir = Path(cache_dir or default_cache_dir()).expanduser()
    work_dir = Path(work_dir or default_work_dir(cache_dir)).expanduser()
    runs_dir = work_dir / "runs"
    _reap_orphans(runs_dir)
    run_dir = runs_dir / name
    existing = running_node(run_dir)
    if existing is not None:
        return existing
    java_home = find_java_home()
    ids = _service_ids()
    version, home = provision(versions, cache_dir, work_dir)
    attempts = 1 if port else 3
    last_error: NodeError | None = None
    for _ in range(attempts):
        http_port = port or free_port()
        try:
            node = _launch(home, version, run_dir, http_port, java_home, heap, ids, timeout, ephemeral)
        except NodeError as exc:
            last_error = exc
            # A port taken between choosing and binding is the one failure worth another try.
            if "BindException" not in str(exc) and "Address already in use" not in str(exc):
                raise
            continue
        return node
    raise last_error or NodeError("Elasticsearch did not start")


def _launch(
    home: Path,
    version: str,
    run_dir: Path,
    http_port: int,
    java_home: Path,
    heap: str,
    ids: tuple[int, int] | None,
    timeout: float,
    ephemeral: bool,
) -> Node:
    run_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "logs", "tmp"):
        (run_dir / sub).mkdir(exist_ok=True)
    config = _write_config(home, run_dir, http_port, free_port())
    _chown_tree(run_dir, ids)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(run_dir),
        "ES_JAVA_HOME": str(java_home),
        "ES_PATH_CONF": str(config),
        "ES_TMPDIR": str(run_dir / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
    }
    url = f"http://127.0.0.1:{http_port}"
    console = run_dir / "logs" / "console.log"
    log(f"starting Elasticsearch {version} at {url} (run dir {run_dir}, Java {java_home})")
    with console.open("ab") as out:
        process = subprocess.Popen(
            [str(home / "bin" / "elasticsearch")],
            cwd=run_dir / "logs",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=ids[0] if ids else None,
            group=ids[1] if ids else None,
            extra_groups=[] if ids else None,
        )
    node = Node(url=url, pid=process.pid, run_dir=run_dir, version=version, _process=process)
    try:
        _wait_healthy(url, process, timeout)
    except NodeError as exc:
        node.stop()
        server_log = run_dir / "logs" / f"codelupe-{run_dir.name}.log"
        detail = (
            f"{exc}\n--- console.log ---\n{_tail(console)}\n--- {server_log.name} ---\n{_tail(server_log)}"
        )
        if ephemeral:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise NodeError(detail) from exc
    state = {
        "pid": process.pid,
        "url": url,
        "version": version,
        "owner_pid": os.getpid(),
        "ephemeral": ephemeral,
        "started": time.time(),
    }
    (run_dir / STATE_FILE).write_text(json.dumps(state))
    if ephemeral:
        return _EphemeralNode(url=url, pid=process.pid, run_dir=run_dir, version=version, _process=process)
    return node


class _EphemeralNode(Node):
    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def stop_node(run_dir: Path) -> bool:
    node = running_node(run_dir)
    if node is None:
        with contextlib.suppress(FileNotFoundError):
            (run_dir / STATE_FILE).unlink()
        return False
    node.stop()
    return True


# --- CLI --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("start", "stop", "status", "url", "run"))
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="for run: -- CMD ARGS...")
    parser.add_argument(
        "--version", help=f"one version to use (default: first of {', '.join(DEFAULT_VERSIONS)})"
    )
    parser.add_argument("--port", type=int, help="HTTP port (default: a free one)")
    parser.add_argument("--heap", default="512m")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--work-dir", type=Path, help="unpacked distribution and run dirs")
    parser.add_argument("--name", default="default", help="which node (run dir) to act on")
    parser.add_argument("--timeout", type=float, default=STARTUP_TIMEOUT_S)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cache_dir = args.cache_dir.expanduser()
    work_dir = (args.work_dir or default_work_dir(cache_dir)).expanduser()
    run_dir = work_dir / "runs" / args.name
    versions = (args.version,) if args.version else DEFAULT_VERSIONS
    common = dict(versions=versions, port=args.port, heap=args.heap, cache_dir=cache_dir, work_dir=work_dir)
    try:
        if args.command == "start":
            node = start_node(name=args.name, timeout=args.timeout, **common)
            print(node.url)
        elif args.command == "stop":
            stopped = stop_node(run_dir)
            log("stopped" if stopped else "not running")
        elif args.command in ("status", "url"):
            node = running_node(run_dir)
            if node is None:
                log("not running")
                return 1
            if args.command == "url":
                print(node.url)
            else:
                health = _http_json(f"{node.url}/_cluster/health") or {}
                print(f"{node.url} pid={node.pid} version={node.version} health={health.get('status', '?')}")
        else:
            command = list(args.argv[1:] if args.argv[:1] == ["--"] else args.argv)
            if not command:
                log("run needs a command: run -- CMD ARGS...")
                return 2
            node = start_node(name=f"run-{os.getpid()}", ephemeral=True, timeout=args.timeout, **common)
            try:
                return subprocess.call(command, env={**os.environ, "ELASTICSEARCH_URL": node.url})
            finally:
                node.stop()
    except NodeError as exc:
        log(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
