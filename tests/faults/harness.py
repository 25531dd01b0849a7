"""Fault-injection harness: run `codelupe run` as an operator would, break it, run it again, read the state.

Everything is loopback and bounded: every subprocess runs in its own process group with a timeout, only
processes this harness started are ever signalled (by pid or by the process group it created), and the
embedded Valkey of every DATA_DIR the harness created is stopped by `Workspace.close()`.

Used by `tests/faults/` (pytest) and `bench/chaos.py` (the same trials in a loop).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STDLIB = Path(os.__file__).resolve().parent
SIGNATURE = pygit2.Signature("Fault harness", "faults@example.invalid", 1_700_000_000, 0)

# Per-process limits: a hung run is a failure, never a hung test session.
RUN_TIMEOUT_S = 120.0  # a clean run of the fault corpus takes ~12 s on 2 cores
STATE_TIMEOUT_S = 60.0

# A run in any of these states claims to be executing (and holds a run slot): a killed run must not stay so.
IN_PROGRESS = ("NOT_STARTED", "STARTING", "STARTED", "CANCELING")


# ------------------------------------------------------------------------------------------------ corpus


EXCLUDED_DIRS = {
    "test",
    "tests",
    "idle_test",
    "site-packages",
    "encodings",
    "__pycache__",
    "lib2to3",
    "turtledemo",
}


def _stdlib_modules(max_bytes: int) -> list[Path]:
    """Standard-library modules small enough to keep a run short, in a stable order. Tests and the codec
    tables (near-copies of each other) are left out: which near-duplicate wins would depend on timing."""
    return [
        p
        for p in sorted(STDLIB.rglob("*.py"))
        if p.is_file()
        and not EXCLUDED_DIRS.intersection(p.relative_to(STDLIB).parts)
        and not p.name.startswith("_")
        and 2_000 <= p.stat().st_size <= max_bytes
    ]


def commit_files(path: Path, files: dict[str, bytes], bare: bool = True) -> str:
    """A repository at `path` whose single deterministic commit holds exactly `files`; returns its sha."""
    repo = pygit2.init_repository(str(path), bare=bare, initial_head="main")
    builders: dict[str, dict[str, bytes]] = {}
    for name, data in files.items():
        head, _, rest = name.partition("/")
        builders.setdefault(head if rest else "", {})[rest or head] = data

    def tree(entries: dict[str, bytes]) -> pygit2.Oid:
        nested: dict[str, dict[str, bytes]] = {}
        builder = repo.TreeBuilder()
        for name, data in entries.items():
            head, _, rest = name.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = data
            else:
                builder.insert(head, repo.create_blob(data), pygit2.enums.FileMode.BLOB)
        for name, sub in nested.items():
            builder.insert(name, tree(sub), pygit2.enums.FileMode.TREE)
        return builder.write()

    commit = repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "import", tree(files), [])
    return str(commit)


def build_corpus(
    dest: Path, repos: int = 12, files_per_repo: int = 15, max_file_bytes: int = 24_000
) -> list[str]:
    """`repos` bare repositories under `dest`, each a distinct slice of the standard library's modules.

    Deterministic (same files, same commit), so two builds give the same HEADs and the same documents.
    Returns the repository names the pipeline gives them (`local/<dir>`).
    """
    modules = _stdlib_modules(max_file_bytes)
    needed = repos * files_per_repo
    if len(modules) < needed:
        raise RuntimeError(f"only {len(modules)} stdlib modules under {max_file_bytes} bytes, need {needed}")
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(repos):
        chunk = modules[index * files_per_repo : (index + 1) * files_per_repo]
        directory = f"repo-{index:02d}"
        files = {f"src/{p.relative_to(STDLIB).as_posix()}": p.read_bytes() for p in chunk}
        files["README.md"] = f"# {directory}\n\nA slice of the standard library for fault tests.\n".encode()
        commit_files(dest / directory, files)
        names.append(f"local/{directory}")
    return names


def copy_corpus(template: Path, dest: Path) -> Path:
    """An identical copy of a built corpus (same HEADs), so every trial starts from untouched sources."""
    shutil.copytree(template, dest, symlinks=True)
    return dest


@dataclass(frozen=True)
class Poison:
    """A source that mixes good repositories with ones that can never be processed."""

    source: Path  # a list file: one path or URL per line
    names: tuple[str, ...]  # the poison repos that are queued, fail every attempt and must be parked
    refused: tuple[str, ...] = ()  # poison the queue refuses outright (a counted skip), never queued


def build_poison_source(dest: Path, good_repos: Path, unreachable_port: int) -> Poison:
    """A source list: every good repository by path, plus three poison entries.

    - `local/bad name!`: a valid repository whose directory (hence repository name) is not a safe owner/name:
      `queued_repos` refuses it (skipped as `invalid_name`), so it is never queued and never parked;
    - `local/corrupt-objects`: a repository whose HEAD tree refers to a blob deleted from the object store;
    - `nobody/never-clones`: a clone URL on a loopback port where nothing listens.
    """
    dest.mkdir(parents=True, exist_ok=True)
    lines = [str(p) for p in sorted(good_repos.iterdir()) if p.is_dir()]

    bad_name = dest / "bad name!"
    commit_files(bad_name, {"tool.py": b"def poison_bad_name():\n    return 'never indexed'\n" * 20})
    lines.append(str(bad_name))

    corrupt = dest / "corrupt-objects"
    blob = b"def poison_missing_object():\n    return 'this blob is deleted'\n" * 20
    commit_files(
        corrupt,
        {
            "keep.py": b"def poison_kept_file():\n    return 'in a corrupt repository'\n" * 20,
            "gone.py": blob,
        },
    )
    repo = pygit2.Repository(str(corrupt))
    oid = str(repo.create_blob(blob))  # already present: returns its id
    loose = corrupt / "objects" / oid[:2] / oid[2:]
    loose.unlink()
    lines.append(str(corrupt))

    lines.append(f"http://127.0.0.1:{unreachable_port}/nobody/never-clones.git")
    source = dest / "sources.txt"
    source.write_text("\n".join(lines) + "\n")
    return Poison(source, ("local/corrupt-objects", "nobody/never-clones"), refused=("local/bad name!",))


def closed_port() -> int:
    """A loopback port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------------------ runs


@dataclass
class RunResult:
    returncode: int | None  # None: killed by the harness (the fault) before it ended
    seconds: float
    output: str
    timed_out: bool = False
    killed: bool = False

    def tail(self, chars: int = 2500) -> str:
        return self.output[-chars:]


@dataclass
class Workspace:
    """One DATA_DIR and everything started for it; `close()` stops all of it."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
        for name in ("REDIS_URL", "ELASTICSEARCH_URL", "DAGSTER_HOME", "REPOS_DIR", "CODELUPE_SOURCE"):
            env.pop(name, None)
        env.update(
            {
                "DATA_DIR": str(self.data_dir),
                "FILE_WORKERS": "2",
                "REPO_WORKERS": "2",
                "LEASE_TTL": "10",
                "MAX_REPO_ATTEMPTS": "3",
                "REPO_RETRY_BACKOFF": "0",
                "PYTHONUNBUFFERED": "1",
                # A run that hangs is sent SIGABRT before it is killed (`wait_run`): every thread's
                # Python stack goes to its log, so the failure says where it waited.
                "PYTHONFAULTHANDLER": "1",
                "NO_COLOR": "1",
                "COLUMNS": "160",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    # -- the run process

    def start_run(
        self, source: Path, *extra: str, preexec: Callable[[], None] | None = None
    ) -> subprocess.Popen:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.root / f"run-{len(self.procs)}.log", "w+b")  # noqa: SIM115 - closed by wait_run
        command = [PYTHON, "-m", "codelupe_dagster.cli", "run", "--source", str(source)]
        command += ["--no-train", "--batch-size", "4", *extra]
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the harness can kill the run and its workers
            preexec_fn=preexec,
        )
        proc._harness_log = log  # type: ignore[attr-defined]
        proc._harness_started = time.monotonic()  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def wait_run(self, proc: subprocess.Popen, timeout: float = RUN_TIMEOUT_S) -> RunResult:
        started = proc._harness_started  # type: ignore[attr-defined]
        timed_out = False
        try:
            proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            timed_out = True
            dump_stacks(proc)
            kill_group(proc)
        seconds = time.monotonic() - started
        killed = getattr(proc, "_harness_killed", False)
        log = proc._harness_log  # type: ignore[attr-defined]
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        code = None if (killed or timed_out) else proc.returncode
        return RunResult(code, seconds, output, timed_out=timed_out, killed=killed)

    def run(self, source: Path, *extra: str, timeout: float = RUN_TIMEOUT_S, **kw: Any) -> RunResult:
        return self.wait_run(self.start_run(source, *extra, **kw), timeout)

    def run_killed_at(self, source: Path, delay: float, timeout: float = RUN_TIMEOUT_S) -> RunResult:
        """Start a run and SIGKILL its whole process group (the run and its scoring workers) after `delay`."""
        proc = self.start_run(source)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc._harness_killed = True  # type: ignore[attr-defined]
        return self.wait_run(proc, timeout)

    # -- the embedded Valkey

    def valkey_pid(self) -> int | None:
        try:
            return json.loads((self.data_dir / "valkey" / "server.json").read_text()).get("pid")
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def stop_valkey(self) -> None:
        from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

        if not (self.data_dir / "valkey").exists():
            return
        with contextlib.suppress(Exception):
            stop_embedded_valkey(self.data_dir)
        pid = self.valkey_pid()
        if pid and _is_valkey(pid, self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- final state

    def state(self, **env: str) -> dict[str, Any]:
        """Index ids, queue, in-flight, dead set and Dagster run statuses, read in a fresh process."""
        done = subprocess.run(
            [PYTHON, "-c", STATE_SNIPPET],
            cwd=ROOT,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=STATE_TIMEOUT_S,
            start_new_session=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"reading the final state failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                kill_group(proc)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
            log = getattr(proc, "_harness_log", None)
            if log is not None and not log.closed:
                log.close()
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        self.stop_valkey()


def dump_stacks(proc: subprocess.Popen, wait_s: float = 5.0) -> None:
    """SIGABRT the run's own process: its faulthandler (PYTHONFAULTHANDLER) writes every thread's stack
    to the run's log before the process dies. Bounded: the group is killed afterwards anyway."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(proc.pid, signal.SIGABRT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait_s)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group this harness created for `proc` (the run and the workers it forked)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _is_valkey(pid: int, data_dir: Path) -> bool:
    """The pid is still this DATA_DIR's valkey-server (started in DATA_DIR/valkey), not a recycled pid."""
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return "valkey" in Path(exe).name and Path(cwd) == (data_dir / "valkey").resolve()


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, process group) of a live process, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def group_members(proc: subprocess.Popen) -> dict[int, int]:
    """pid -> ppid of the live processes in the process group the harness created for `proc`."""
    members = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat and stat[2] == proc.pid and stat[0] != "Z":
                members[int(entry.name)] = stat[1]
    return members


def scoring_workers(proc: subprocess.Popen) -> list[int]:
    """The run's scoring pool processes: children of its multiprocessing forkserver (itself a child of the
    run, in the run's process group)."""
    members = group_members(proc)
    servers = {pid for pid, ppid in members.items() if ppid == proc.pid and "forkserver" in _cmdline(pid)}
    return sorted(pid for pid, ppid in members.items() if ppid in servers)


STATE_SNIPPET = r"""
import json, os
from pathlib import Path
import dagster as dg
from codelupe_dagster import settings
from codelupe_dagster.backends.search import CODE_SCHEMA
from codelupe_dagster.resources.search import open_configured_index
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.resources.redis import connect_redis

keys = RedisKeys(settings.env_str("REDIS_KEY_PREFIX") or "pipeline:")
client = connect_redis(settings.env_str("REDIS_URL"), str(settings.data_dir()), attempts=3)
text = lambda v: v.decode() if isinstance(v, bytes) else v
index = open_configured_index(CODE_SCHEMA)
index.ensure()
with __import__("contextlib").suppress(Exception):
    index.refresh()
ids = [doc["id"] for doc in index.iter_documents(fields=["path"])]
home = os.environ.get("DAGSTER_HOME") or str(settings.data_dir() / "dagster")
runs = []
if Path(home).is_dir():
    instance = dg.DagsterInstance.from_config(home)
    runs = [[r.run_id, r.job_name, r.status.value] for r in instance.get_runs()]
print(json.dumps({
    "ids": ids,
    "queue": client.zcard(keys.repos),
    "inflight": {text(k): text(v) for k, v in client.hgetall(keys.inflight).items()},
    "dead": {text(k): text(v) for k, v in client.hgetall(keys.dead).items()},
    "processed_repos": sorted(text(k) for k in client.hkeys(keys.processed_repos)),
    "runs": runs,
}))
"""


# ------------------------------------------------------------------------------------------------ checks


@dataclass
class Verdict:
    lost: int
    duplicated: int  # ids returned twice, plus ids a clean run does not have (a duplicate let through)
    inflight: int
    queued: int
    dead: list[str]
    in_progress_runs: list[str]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (
            self.lost or self.duplicated or self.inflight or self.queued or self.dead or self.in_progress_runs
        )

    def describe(self) -> str:
        parts = []
        if self.lost:
            parts.append(f"{self.lost} ids lost")
        if self.duplicated:
            parts.append(f"{self.duplicated} ids duplicated/extra")
        if self.inflight:
            parts.append(f"{self.inflight} repos left in inflight")
        if self.queued:
            parts.append(f"{self.queued} repos left queued")
        if self.dead:
            parts.append(f"dead set {self.dead}")
        if self.in_progress_runs:
            parts.append(f"{len(self.in_progress_runs)} Dagster runs left in progress")
        return "; ".join(parts) or "identical to a clean run"


def compare(state: dict[str, Any], expected_ids: set[str]) -> Verdict:
    ids = state["ids"]
    got = set(ids)
    repeated = len(ids) - len(got)
    extra = got - expected_ids
    lost = expected_ids - got
    in_progress = [
        f"{job}:{run_id[:8]}:{status}" for run_id, job, status in state["runs"] if status in IN_PROGRESS
    ]
    return Verdict(
        lost=len(lost),
        duplicated=repeated + len(extra),
        inflight=len(state["inflight"]),
        queued=state["queue"],
        dead=sorted(state["dead"]),
        in_progress_runs=in_progress,
        detail={"lost": sorted(lost)[:5], "extra": sorted(extra)[:5], "inflight": state["inflight"]},
    )


# ------------------------------------------------------------------------------------------------ trials


@dataclass
class Baseline:
    """A clean, uninterrupted run of the corpus: the ids every faulted trial must end with."""

    corpus: Path
    ids: frozenset[str]
    seconds: float


def clean_baseline(root: Path, corpus: Path) -> Baseline:
    """Run an identical copy of `corpus` once, uninterrupted; its ids are what every trial must end with."""
    ws = Workspace(root)
    try:
        result = ws.run(copy_corpus(corpus, root / "source"))
        if result.returncode != 0:
            raise RuntimeError(f"the clean run failed (exit {result.returncode}):\n{result.tail()}")
        state = ws.state()
        verdict = compare(state, set(state["ids"]))
        if not state["ids"] or verdict.inflight or verdict.queued or verdict.dead:
            raise RuntimeError(
                f"the clean run did not end clean: {verdict.describe()}, {len(state['ids'])} ids"
            )
        return Baseline(corpus, frozenset(state["ids"]), result.seconds)
    finally:
        ws.close()


@dataclass
class KillTrial:
    seed: int
    delay: float
    killed: bool  # False when the run finished before the kill moment
    first: RunResult
    rerun: RunResult
    verdict: Verdict


def kill_delay(seed: int, clean_seconds: float) -> float:
    """A seeded moment inside a clean run's duration (start-up included: early kills are faults too); the last
    fifth is left out so that a run slower than the clean one is still killed, not waited for."""
    return round(random.Random(seed).uniform(0.5, max(1.0, 0.8 * clean_seconds)), 2)


def kill_trial(root: Path, baseline: Baseline, seed: int, kills: int = 1) -> KillTrial:
    """SIGKILL `codelupe run` at a seeded moment — `kills` times in a row on the same state, each run
    picking up what the killed one left — then run it again to completion and compare with the clean run.
    `delay` and `first` describe the last kill; `killed` is True when any run was actually killed."""
    corpus = copy_corpus(baseline.corpus, root / "source")
    ws = Workspace(root)
    try:
        killed = False
        for attempt in range(kills):
            delay = kill_delay(seed + 1000 * attempt, baseline.seconds)
            first = ws.run_killed_at(corpus, delay)
            killed = killed or bool(first.killed)
        rerun = ws.run(corpus)
        verdict = compare(ws.state(), set(baseline.ids))
        return KillTrial(seed, delay, killed, first, rerun, verdict)
    finally:
        ws.close()


# ------------------------------------------------------------------------------------------------ ES proxy


class CuttableProxy:
    """A loopback TCP proxy in front of a server that the harness can cut: while cut, every connection is
    closed and new ones are refused (nothing listens on the port).

    `cut_on` (a test on the bytes a client sends) arms one automatic cut: the first chunk it accepts is
    forwarded, then the
    proxy goes down for `cut_seconds` — the server may have applied the request, the client never sees the
    answer (the worst moment for a bulk request).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        cut_on: Callable[[bytes], bool] | None = None,
        cut_seconds: float = 20.0,
    ):
        self.upstream = upstream
        self.cut_on = cut_on
        self.cut_seconds = cut_seconds
        self.port = closed_port()
        self.cuts: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._up = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CuttableProxy:
        self._thread.start()
        if not self._up.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._drop_all()

    def _listen(self) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        listener.listen(64)
        listener.settimeout(0.2)
        return listener

    def _serve(self) -> None:
        self._listener = self._listen()
        self._up.set()
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:  # cut: wait until the cut is over, then listen again
                time.sleep(0.1)
                continue
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()
        if self._listener is not None:
            self._listener.close()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        src.settimeout(None)
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                break
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
            if from_client and self.cut_on is not None and self.cut_on(data):
                with self._lock:
                    armed, self.cut_on = self.cut_on is not None, None
                if armed:
                    threading.Thread(target=self.cut, args=(self.cut_seconds,), daemon=True).start()
                    break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            self._conns.discard(src)
            self._conns.discard(dst)

    def _drop_all(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self, seconds: float) -> None:
        """Refuse and drop every connection for `seconds` (blocking), then serve again."""
        started = time.time()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_all()
        time.sleep(seconds)
        if not self._stopped.is_set():
            self._listener = self._listen()
        self.cuts.append((started, time.time()))


# ------------------------------------------------------------------------------------------------ spool disk


@contextlib.contextmanager
def small_spool(data_dir: Path, size_bytes: int) -> Iterator[str]:
    """DATA_DIR/spool on a tmpfs of `size_bytes` (yields "tmpfs"), grown to 256 MB on `grow()`; when mounting
    is not allowed here, yields "rlimit": the caller limits the run's file size with RLIMIT_FSIZE instead."""
    spool = data_dir / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_bytes},mode=0700", "tmpfs", str(spool)],
            capture_output=True,
            timeout=20,
        )
        mounted = done.returncode == 0
    try:
        yield "tmpfs" if mounted else "rlimit"
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(spool)], capture_output=True, timeout=20)


def grow_spool(data_dir: Path) -> None:
    subprocess.run(
        ["mount", "-o", "remount,size=268435456", str(data_dir / "spool")],
        check=True,
        capture_output=True,
        timeout=20,
    )


def fsize_limit(max_bytes: int) -> Callable[[], None]:
    """preexec_fn: no file the run writes may grow past `max_bytes` (writes past it fail with EFBIG)."""

    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
