"""The scoring worker pool: results in task order, and a dead worker never hangs or fails the batch.

`multiprocessing.Pool.imap` waits forever for the task of a worker that was SIGKILLed (the OOM killer, an
operator, a segfault in a native library). `concurrent.futures.ProcessPoolExecutor` instead fails every
pending future with `BrokenProcessPool`, which this pool turns into recovery:

- the executor is rebuilt and every unit that was in flight becomes a *suspect*;
- a suspect runs alone (nothing else in flight), so if the pool breaks again the culprit is known;
- a convicted multi-file task is split into one-file units (suspects again), so only the file that kills
  its worker is lost: it comes back as `Dropped(path, "worker_crash")`, counted and logged by the caller;
- a file that runs past `FILE_TIMEOUT_S` (stuck in native code) ends its worker, and so is a crash too;
- rebuilds are bounded (`max_rebuilds` per batch): a pool that cannot stay up — workers that cannot start,
  a machine out of memory — ends the batch with `WorkerPoolError` instead of crawling file by file;
- a worker killed while it was writing its result leaves the executor reading half a message for ever
  (CPython 3.11: its manager thread blocks in `recv`, and neither sees the death); a pool whose dead worker
  went unnoticed for `STALL_GRACE_S` is unstuck by hand, and recovers as from any other break.

Results are yielded in task order whatever the completion order, so which copy of a duplicate survives is
the same on every run, the first one in repository priority order.
"""

from __future__ import annotations

import concurrent.futures
import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import context as mp_context
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util

from codelupe_dagster.backends import eval_sets, git_files
from codelupe_dagster.core.redaction import redact_field
from codelupe_dagster.stages.file_processing import (
    FILE_TIMEOUT_S,
    TEST_CRASH_ENV,
    Dropped,
    FileResult,
    ProcessingConfig,
    crash_hook_path,
    init_worker,
    score_task,
)

log = logging.getLogger(__name__)

WORKER_CRASH = "worker_crash"
MAX_REBUILDS = 8  # a poison file costs up to 3 (shared break, its task alone, the file alone)
EXIT_GRACE_S = 5.0  # a clean pool's workers exit in milliseconds; past this one is stuck
STALL_CHECK_S = 1.0  # how often a pool with nothing finished looks for a worker that died unnoticed
STALL_GRACE_S = 5.0  # the executor notices a death in milliseconds; past this it never will
UNSTICK_DEADLINE_S = 30.0  # an unstuck pool reports its break within this, or the batch fails

Task = tuple[int, str, list[git_files.TreeBlob]]  # (repo index, repo path, entries)


class WorkerPoolError(RuntimeError):
    """The pool broke more often than `max_rebuilds` allows in one batch."""


@dataclass
class _Unit:
    """A piece of work: a whole task, or one file of a task that killed its worker."""

    task: int  # index in the task list: results are emitted in this order
    part: int  # position of the piece within its task (0 for a whole task)
    entries: list[git_files.TreeBlob]
    suspect: bool = False

    @property
    def order(self) -> tuple[int, int]:
        return (self.task, self.part)


@dataclass
class _TaskResults:
    parts: int = 1
    done: dict[int, list[FileResult]] = field(default_factory=dict)

    def complete(self) -> bool:
        return len(self.done) == self.parts

    def results(self) -> list[FileResult]:
        return [result for part in sorted(self.done) for result in self.done[part]]


# What `spawn.get_preparation_data` tells a new process about the parent's main module.
MAIN_MODULE_KEYS = ("init_main_from_name", "init_main_from_path")
# What the forkserver imports before forking workers (the workers' module, the secret scan built).
PRELOAD_MODULE = "codelupe_dagster.stages.scoring_preload"


class _WorkerPopen(popen_forkserver.Popen):
    """A forkserver child that does not import the parent's main module.

    Every process multiprocessing starts (spawn or forkserver) first re-imports the parent's `__main__` as
    `__mp_main__`, so that functions defined there unpickle. A scoring worker needs none of it: its
    initializer, tasks and results are `codelupe_dagster` objects. But the parent is a Dagster step
    (`dagster api execute_step`), `dagster dev`, `codelupe run` or a bench script, whose main module
    imports all of Dagster: about a second of CPU in *every* worker of every batch, as much as scoring
    the issue's 4,587-file corpus takes (preloading `__main__` in the forkserver never happens on CPython
    3.11-3.13: `forkserver.ensure_running` filters for a `main_path` key that the preparation data does
    not have).

    `_launch` is `popen_forkserver.Popen._launch` of CPython 3.11-3.13 (identical in the three) with the
    main module's keys removed from the preparation data; tests/stages/test_scoring_pool.py fails if a
    worker imports the main module again.
    """

    def _launch(self, process_obj: multiprocessing.process.BaseProcess) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)  # type: ignore[attr-defined]
        for key in MAIN_MODULE_KEYS:
            prep_data.pop(key, None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        # A duplicate of the data pipe's write end: the child's sentinel of its parent.
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: multiprocessing.process.BaseProcess) -> _WorkerPopen:
        return _WorkerPopen(process_obj)


class _WorkerContext(mp_context.ForkServerContext):
    Process = _WorkerProcess


def _pool_context() -> multiprocessing.context.BaseContext:
    """forkserver: workers never inherit the parent's threads and locks (Dagster, gRPC, Redis), which a
    plain fork of a multi-threaded process can deadlock on; the preloaded server makes each pool cheap,
    and its workers skip the parent's main module (`_WorkerPopen`)."""
    ctx = _WorkerContext()
    ctx.set_forkserver_preload([PRELOAD_MODULE])
    return ctx


def _init_scoring_worker(config: ProcessingConfig, crash_marker: str | None, file_timeout_s: int) -> None:
    """Each worker builds the evaluation sets' index once, before its first task (DECONTAMINATE_SETS),
    unless the forkserver built it already (`scoring_preload`)."""
    init_worker(config, crash_marker, file_timeout_s)
    if config.decontaminate_sets:
        eval_sets.index_for(config.decontaminate_sets)


class ScoringPool:
    """`results(tasks)` scores tasks on `workers` processes and yields `(repo index, results)` in order."""

    def __init__(
        self,
        workers: int,
        config: ProcessingConfig,
        max_rebuilds: int = MAX_REBUILDS,
        file_timeout_s: int = FILE_TIMEOUT_S,
    ):
        if workers < 1:
            raise ValueError("a scoring pool needs at least one worker")
        self.workers = workers
        self.config = config
        self.max_rebuilds = max_rebuilds
        self.file_timeout_s = file_timeout_s  # a file stuck longer ends its worker: a crash, recovered
        self.rebuilds = 0
        self.in_flight_limit = 2 * workers + 1  # keeps workers busy while the parent claims and writes
        self.ahead_limit = 8 * workers + 8  # bounds results held back for ordering
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._crash_marker = crash_hook_path()

    # ----------------------------------------------------------------- executor lifecycle

    def prepare(self) -> None:
        """Start the forkserver now, without waiting for it. It imports and builds the workers' state in
        its own process (`scoring_preload`, ~0.5 s of CPU), so a caller that has its own preparing to do
        (opening the ledger, walking the trees) does it meanwhile, instead of waiting on the first task's
        worker for that long. A no-op once the server runs (one per process)."""
        _pool_context()  # sets the server's preload
        forkserver.ensure_running()

    def _worker_initializer(self) -> tuple[Callable[..., None], tuple]:
        """What each worker runs before its first task, and with what."""
        return _init_scoring_worker, (self.config, self._crash_marker, self.file_timeout_s)

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            initializer, initargs = self._worker_initializer()
            self._executor = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=_pool_context(), initializer=initializer, initargs=initargs
            )
        return self._executor

    def _rebuild(self, why: str) -> None:
        self.rebuilds += 1
        if self.rebuilds > self.max_rebuilds:
            self.close(cancel=True)
            raise WorkerPoolError(
                f"scoring workers died {self.rebuilds} times in one batch (limit {self.max_rebuilds}); "
                f"last: {why}. Check memory limits and the worker logs."
            )
        log.warning("scoring pool broke (%s); rebuilding (%d/%d)", why, self.rebuilds, self.max_rebuilds)
        self.close(cancel=True)

    def close(self, cancel: bool = False) -> None:
        """Stop the workers and never wait for ever: after a clean run let them exit (within
        `EXIT_GRACE_S`); on cancel (Ctrl-C, Dagster termination, an error, a rebuild) kill them now.

        `ProcessPoolExecutor.shutdown(wait=True)` can block for ever: a worker SIGKILLed while it held the
        task queue's read lock leaves its siblings unable to read the "stop" sentinel, and the executor's
        manager thread joins them indefinitely (seen on CPython 3.11). So the workers are joined here with
        a deadline and terminated past it; the manager thread then finishes, and so can the process.
        """
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = _workers(executor)
        executor.shutdown(wait=False, cancel_futures=cancel)
        deadline = time.monotonic() + (0.0 if cancel else EXIT_GRACE_S)
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        stuck = [process for process in processes if process.is_alive()]
        if stuck and not cancel:
            log.warning("%d scoring workers did not exit; terminating them", len(stuck))
        for process in stuck:
            process.terminate()
        for process in stuck:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        manager = getattr(executor, "_executor_manager_thread", None)
        if manager is not None:
            manager.join(timeout=10)

    # ----------------------------------------------------------------- scheduling

    def results(self, tasks: Iterable[Task]) -> Iterator[tuple[int, list[FileResult]]]:
        """`(repo index, results)` of each task, in task order. `tasks` is read lazily, a task whenever
        the pool has room for one: a caller that lists them as it walks its repositories' trees has the
        first ones scored meanwhile, instead of leaving the workers idle until the last tree is read."""
        source = iter(tasks)
        listed: list[Task] = []
        # Units to run before any task not yet listed: a stack (pop() takes the lowest (task, part)),
        # filled from `source` when empty and by recovery after a break.
        todo: list[_Unit] = []
        pending: list[_TaskResults] = []
        running: dict[concurrent.futures.Future, _Unit] = {}
        emitted = 0
        while True:
            while emitted < len(listed) and pending[emitted].complete():
                yield listed[emitted][0], pending[emitted].results()
                pending[emitted] = _TaskResults()  # release the results
                emitted += 1
            more = self._submit(source, listed, pending, todo, running, emitted)
            if not running:
                if more:
                    continue  # a broken pool was rebuilt before anything could be submitted
                if emitted == len(listed):
                    return  # every task listed, scored and emitted
                raise RuntimeError(f"task {emitted} is neither running, queued nor done")  # a bug here
            finished = self._wait(running)
            broken: list[_Unit] = []
            for future in finished:
                unit = running.pop(future)
                try:
                    _, results = future.result()
                except BrokenProcessPool:
                    broken.append(unit)
                    continue
                pending[unit.task].done[unit.part] = results
            if broken:
                self._recover(listed, todo, running, broken, pending)

    def _wait(self, running: dict) -> set[concurrent.futures.Future]:
        """Wait for a future to finish, and never for ever.

        A worker SIGKILLed while it wrote its result to the pool's result pipe leaves part of a message
        there. The executor's manager thread, woken by those bytes, blocks reading the rest (the parent's
        own copy of the pipe's write end keeps it from ever seeing end-of-file), so it never looks at its
        workers' sentinels again: no future is ever failed, and the batch would wait for ever (seen in the
        fault tests, one run in a few). A pool with nothing finished is checked every `STALL_CHECK_S`; a
        worker dead for `STALL_GRACE_S` with no break reported is unstuck here (`_unstick`), after which
        the executor fails every pending future as after any crash, and recovery takes over."""
        dead_since: float | None = None
        unstuck_at: float | None = None
        while True:
            finished, _ = concurrent.futures.wait(
                running, timeout=STALL_CHECK_S, return_when=concurrent.futures.FIRST_COMPLETED
            )
            if finished:
                return finished
            executor = self._executor
            if executor is None:  # never while futures run; a bug if so
                raise RuntimeError("futures are running on a pool that was closed")
            now = time.monotonic()
            if unstuck_at is not None:
                if now - unstuck_at > UNSTICK_DEADLINE_S:
                    self.close(cancel=True)
                    raise WorkerPoolError(
                        f"a scoring worker died unnoticed and the pool did not report its break within "
                        f"{UNSTICK_DEADLINE_S:.0f}s of being unstuck"
                    )
                continue
            dead = _dead_workers(executor)
            if not dead:
                dead_since = None
                continue
            if dead_since is None:
                dead_since = now
            elif now - dead_since >= STALL_GRACE_S:
                _unstick(executor, dead)
                unstuck_at = now

    def _submit(
        self,
        source: Iterator[Task],
        listed: list[Task],
        pending: list[_TaskResults],
        todo: list[_Unit],
        running: dict,
        emitted: int,
    ) -> bool:
        """Fill the pool: healthy units up to the in-flight limit, a suspect only into an empty pool; a
        task is listed from `source` when `todo` is empty. False once `source` is exhausted and nothing
        is left to submit."""
        if any(unit.suspect for unit in running.values()):
            return True
        executor = self._start()
        while len(running) < self.in_flight_limit:
            if not todo:
                task = next(source, None)
                if task is None:
                    return bool(running)
                listed.append(task)
                pending.append(_TaskResults())
                todo.append(_Unit(len(listed) - 1, 0, list(task[2])))
            unit = todo[-1]
            if unit.task >= emitted + self.ahead_limit and running:
                return True
            if unit.suspect and running:
                return True
            repo_index, repo_path, _ = listed[unit.task]
            try:
                future = executor.submit(score_task, (repo_index, repo_path, unit.entries))
            except BrokenProcessPool:
                # Broken between two waits (a worker died idle, or could not start): the running
                # futures report it; with none running, rebuild here or the wait would return at once.
                if not running:
                    self._rebuild("the pool was broken before a task was submitted")
                return True
            todo.pop()
            running[future] = unit
            if unit.suspect:
                return True
        return True

    def _recover(
        self,
        tasks: Sequence[Task],
        todo: list[_Unit],
        running: dict,
        broken: list[_Unit],
        pending: list[_TaskResults],
    ) -> None:
        """After a break: convict a unit that ran alone, suspect everything else that was in flight."""
        # Every other in-flight future fails the same way; collect them all before rebuilding.
        for future, unit in list(running.items()):
            try:
                future.result()
            except BrokenProcessPool:
                broken.append(unit)
            else:
                pending[unit.task].done[unit.part] = future.result()[1]
            del running[future]
        alone = len(broken) == 1 and broken[0].suspect
        repo = tasks[broken[0].task][1]
        self._rebuild(f"a worker died running {len(broken)} task(s) of {repo}")
        if alone:
            self._convict(broken[0], tasks, todo, pending)
        else:
            for unit in broken:
                unit.suspect = True
                todo.append(unit)
        todo.sort(key=lambda unit: unit.order, reverse=True)

    def _convict(
        self, unit: _Unit, tasks: Sequence[Task], todo: list[_Unit], pending: list[_TaskResults]
    ) -> None:
        """A unit that broke the pool while running alone: split it, or drop its one file as a crash."""
        repo_path = tasks[unit.task][1]
        if len(unit.entries) > 1:
            # Only whole tasks hold several files, so the task has no other parts yet.
            pending[unit.task].parts = len(unit.entries)
            for part, entry in enumerate(unit.entries):
                todo.append(_Unit(unit.task, part, [entry], suspect=True))
            return
        entry = unit.entries[0]
        # The path leaves the scorer in this line: a token or an address in a file name is redacted.
        shown = redact_field(entry.path, self.config.pii_kinds).text
        log.error("scoring worker died twice on %s in %s: dropped as %s", shown, repo_path, WORKER_CRASH)
        pending[unit.task].done[unit.part] = [Dropped(entry.path, WORKER_CRASH)]


def _workers(executor: concurrent.futures.ProcessPoolExecutor) -> list[multiprocessing.Process]:
    # No public handle on the workers; _processes is stable across CPython 3.8-3.13.
    return list((getattr(executor, "_processes", None) or {}).values())


def _dead_workers(executor: concurrent.futures.ProcessPoolExecutor) -> list[multiprocessing.Process]:
    """The executor's workers that have ended, found from their sentinels without reading them: the
    executor's own threads read a worker's exit status, and must still find it there."""
    workers = _workers(executor)
    ended = set(multiprocessing.connection.wait([process.sentinel for process in workers], timeout=0))
    return [process for process in workers if process.sentinel in ended]


def _unstick(executor: concurrent.futures.ProcessPoolExecutor, dead: list[multiprocessing.Process]) -> None:
    """Let a manager thread stuck on half a result see end-of-file, so that it breaks the pool.

    The result pipe's write ends are held by the workers and by this process: the workers are killed (their
    results are lost either way: a broken pool fails every pending future) and this process's copy is
    closed. The forkserver holds none; it closes its copies of a worker's descriptors once it has forked."""
    log.warning(
        "scoring worker(s) %s died %.0fs ago and the pool has not noticed (killed while writing a result?); "
        "killing its other workers so that it breaks",
        ", ".join(str(process.pid) for process in dead),
        STALL_GRACE_S,
    )
    for process in _workers(executor):
        if process not in dead:  # a dead worker's pid may already be another process's
            process.kill()
    result_queue = getattr(executor, "_result_queue", None)
    writer = getattr(result_queue, "_writer", None)
    if writer is not None:
        writer.close()


__all__ = ["MAX_REBUILDS", "TEST_CRASH_ENV", "WORKER_CRASH", "ScoringPool", "WorkerPoolError"]
