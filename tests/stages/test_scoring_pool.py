"""The scoring pool's workers start without the parent's main module (stages/scoring_pool._WorkerPopen)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from codelupe_dagster import settings
from codelupe_dagster.backends import eval_sets
from tests.support.corpus import make_repo, stdlib_files

ROOT = Path(__file__).resolve().parents[2]


def run_python(
    args: list[str],
    *,
    cwd: Path | None = None,
    path: Sequence[Path] = (),
    env: dict[str, str] | None = None,
    timeout: int,
) -> str:
    """Run this interpreter with `args`, `path` and the project first on PYTHONPATH; its stdout, once it
    exited 0 (else the test fails with its stderr's tail)."""
    pythonpath = os.pathsep.join([*map(str, path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **(env or {}), "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


# The parent's main module: a worker that imports it (as `__mp_main__`) leaves its pid in MAIN_IMPORTED.
PARENT_MAIN = """
import os
import sys

if __name__ != "__main__":
    with open(os.environ["MAIN_IMPORTED"], "a") as out:
        out.write(f"{__name__} {os.getpid()}\\n")

from codelupe_dagster.backends.git_files import TreeBlob, open_repository, walk_head
from codelupe_dagster.stages.file_processing import ProcessedFile, ProcessingConfig
from codelupe_dagster.stages.scoring_pool import ScoringPool

if __name__ == "__main__":
    repo = sys.argv[1]
    entries = [e for e in walk_head(open_repository(repo)) if isinstance(e, TreeBlob)]
    pool = ScoringPool(2, ProcessingConfig())
    try:
        results = [r for _, rs in pool.results([(0, repo, entries[:2]), (1, repo, entries[2:])]) for r in rs]
    finally:
        pool.close()
    kept = sorted(r.path for r in results if isinstance(r, ProcessedFile))
    print(len(entries), len(kept))
"""


def _run_parent(tmp_path: Path, as_module: bool) -> tuple[list[str], str]:
    repo = tmp_path / "repo.git"
    files = stdlib_files("json")
    make_repo(repo, files)
    (tmp_path / "parent_main.py").write_text(PARENT_MAIN)
    marker = tmp_path / "main_imported.txt"
    command = ["-m", "parent_main"] if as_module else [str(tmp_path / "parent_main.py")]
    stdout = run_python(
        [*command, str(repo)], cwd=tmp_path, path=[tmp_path], env={"MAIN_IMPORTED": str(marker)}, timeout=300
    )
    seen, kept = stdout.split()
    assert int(seen) == len(files) and int(kept) == len(files), stdout  # every file was scored
    imported = marker.read_text().splitlines() if marker.exists() else []
    return imported, stdout


@pytest.mark.parametrize("as_module", [False, True], ids=["script", "python-m"])
def test_workers_do_not_import_the_parents_main_module(tmp_path: Path, as_module: bool) -> None:
    """A Dagster step's main module is Dagster's CLI: importing it cost each worker about a second."""
    imported, _ = _run_parent(tmp_path, as_module)  # and every file was scored
    assert imported == []


WORKER_INIT = """
import signal

from codelupe_dagster.stages.file_processing import ProcessingConfig, init_worker

# What Dagster leaves behind in a process started with SIGINT ignored (a shell's background job): it
# points SIGTERM at SIGINT's handler around every run.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))
init_worker(ProcessingConfig())
with open("/proc/self/status") as status:
    ignored = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
print(bool(ignored & (1 << (signal.SIGTERM - 1))), bool(ignored & (1 << (signal.SIGINT - 1))))
"""


def test_a_worker_can_be_terminated_even_when_its_parent_ignores_sigterm() -> None:
    """`Pool.terminate()` sends SIGTERM: a worker that inherited it ignored would never stop."""
    stdout = run_python(["-c", WORKER_INIT], timeout=120)
    assert stdout.split() == ["False", "True"]  # SIGTERM stops it; Ctrl-C stays the parent's


# Run in a fresh interpreter: the forkserver is one per process, started with the preload of whoever
# started it first. `scan_state` runs in a worker before that worker has scanned anything.
SCAN_STATE = """
from codelupe_dagster.core import secrets

def scan_state():
    compiled = sum("regex" in vars(rule) for rule in secrets._COMPILED)
    return "anchors" in secrets._BUILT, compiled, len(secrets._COMPILED)
"""
WORKER_SCAN_STATE = """
from codelupe_dagster.core import secrets
from codelupe_dagster.stages.scoring_pool import _pool_context
from scan_state import scan_state

assert not secrets._BUILT  # lazy in the parent: nothing built at import
with _pool_context().Pool(1) as pool:
    print(*pool.apply(scan_state))
"""


def test_workers_inherit_the_secret_scan_built_once_by_the_forkserver(tmp_path: Path) -> None:
    """Built lazily, the anchors' database and ~270 regexes cost each worker's first task ~0.1-0.2 s,
    every batch; the forkserver builds them once (stages/scoring_preload) and every worker inherits them."""
    (tmp_path / "scan_state.py").write_text(SCAN_STATE)  # a module: workers do not import the main one
    stdout = run_python(["-c", WORKER_SCAN_STATE], cwd=tmp_path, path=[tmp_path], timeout=120)
    built, compiled, rules = stdout.split()
    assert built == "True"
    assert int(compiled) == int(rules) > 200


PRELOAD_STATE = """
import gc
from codelupe_dagster.backends import eval_sets
from codelupe_dagster.core import license_detection

def preload_state():
    sizes = license_detection.license_data.cache_info().currsize, eval_sets.index_for.cache_info().currsize
    return (*sizes, gc.get_freeze_count() > 0)
"""
WORKER_PRELOAD_STATE = """
from codelupe_dagster.backends import eval_sets
from codelupe_dagster.core import license_detection
from codelupe_dagster.stages.scoring_pool import _pool_context
from preload_state import preload_state

assert preload_state() == (0, 0, False)  # lazy in the parent, nothing frozen
with _pool_context().Pool(1) as pool:
    print(*pool.apply(preload_state))
"""


@pytest.mark.parametrize(("sets", "index_built"), [("humaneval", 1), ("none", 0), ("no-such-set", 0)])
def test_workers_inherit_the_licence_list_and_the_environments_sets_index(
    tmp_path: Path, sets: str, index_built: int
) -> None:
    """The SPDX list (~60 ms) and DECONTAMINATE_SETS's index (~0.1 s) are built once, by the forkserver,
    not by every worker of every batch, and frozen out of the workers' collections. A malformed value must
    not break the server (every pool would fail): the worker initialiser reports it instead."""
    (tmp_path / "preload_state.py").write_text(PRELOAD_STATE)
    env = {"DECONTAMINATE_SETS": sets}
    stdout = run_python(["-c", WORKER_PRELOAD_STATE], cwd=tmp_path, path=[tmp_path], env=env, timeout=120)
    assert stdout.split() == ["1", str(index_built), "True"]


PREPARED_POOL = """
from multiprocessing import forkserver
from codelupe_dagster.stages.file_processing import ProcessingConfig
from codelupe_dagster.stages.scoring_pool import ScoringPool

pool = ScoringPool(1, ProcessingConfig())
assert forkserver._forkserver._forkserver_pid is None
pool.prepare()
started = forkserver._forkserver._forkserver_pid
assert started is not None  # running before any task was submitted
pool.prepare()  # once per process
assert forkserver._forkserver._forkserver_pid == started
"""


def test_prepare_starts_the_workers_server_once_before_any_task() -> None:
    run_python(["-c", PREPARED_POOL], timeout=120)


def test_the_preloads_default_sets_are_the_pipelines() -> None:
    """The forkserver reads DECONTAMINATE_SETS itself (the stage layer does not import settings): with the
    variable blank (unset) it must build the index the resources would ask for. In a fresh interpreter:
    importing the preload freezes the importer's heap."""
    script = (
        "from codelupe_dagster.stages import scoring_preload; print(scoring_preload.environment_sets_spec())"
    )
    stdout = run_python(["-c", script], env={"DECONTAMINATE_SETS": " "}, timeout=120)
    assert stdout.strip() == eval_sets.resolve_spec(settings.DEFAULTS["DECONTAMINATE_SETS"]) != ""


def test_tasks_are_listed_as_the_pool_has_room_for_them(tmp_path: Path) -> None:
    """The pool reads its tasks lazily (the scorer lists them as it walks its repositories' trees): the
    first result comes while most tasks are still unlisted, and every result comes, in task order."""
    from codelupe_dagster.backends.git_files import TreeBlob, open_repository, walk_head
    from codelupe_dagster.stages.file_processing import ProcessingConfig
    from codelupe_dagster.stages.scoring_pool import ScoringPool

    repo = tmp_path / "email.git"
    make_repo(repo, stdlib_files("email"))
    entries = [e for e in walk_head(open_repository(str(repo))) if isinstance(e, TreeBlob)]
    listed: list[int] = []

    def tasks() -> Iterator[tuple[int, str, list[TreeBlob]]]:
        for index, entry in enumerate(entries):
            listed.append(index)
            yield index, str(repo), [entry]

    pool = ScoringPool(2, ProcessingConfig())
    listed_at_first_result = None
    order = []
    try:
        for index, results in pool.results(tasks()):
            if listed_at_first_result is None:
                listed_at_first_result = len(listed)
            assert [result.path for result in results] == [entries[index].path]
            order.append(index)
    finally:
        pool.close()
    assert order == list(range(len(entries))) and len(entries) > 20
    assert listed_at_first_result is not None and listed_at_first_result <= pool.in_flight_limit + 1
