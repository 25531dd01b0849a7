"""Runs whose process is gone are marked failed, so dead runs never hold a concurrency slot.

The daemon's run monitoring does this for runs it launched. `codelupe run` executes runs inside its own
process, which nobody monitors: a SIGKILL leaves them STARTED in the run history for ever, counted
against `BATCH_MAX_ACTIVE_RUNS`. So every run `codelupe run` starts carries its process identity (host,
pid and the pid's start time, which tells a recycled pid from the original), and both the batch sensor
and the next `codelupe run` call `reap_dead_runs` to settle the batch of such a run (as a crash: the
repos go back on the queue) and then mark the run failed. Settling first means a crash between the two
steps is finished by the next pass, and the failure sensor that then fires finds nothing left to settle.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from codelupe_dagster.backends.repo_queue import BatchNotFound, RepoQueue
from codelupe_dagster.stages.settle import RunEnd, settle_run

HOST_TAG = "codelupe/host"
PID_TAG = "codelupe/pid"
PID_START_TAG = "codelupe/pid_start"
PARTITION_TAG = "dagster/partition"

ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]

UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22, counted after the parenthesised command name (which may itself contain spaces).
    return stat.rpartition(")")[2].split()[19]


def process_tags() -> dict[str, str]:
    """Tags that identify the process executing a run in-process."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), PID_START_TAG: _start_time(pid)}


def is_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return not start or _start_time(pid) in ("", start)


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    batch_id: str | None
    pid: int


def find_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Unfinished runs started in-process on this host by a process that no longer exists."""
    host = socket.gethostname()
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    dead = []
    for record in records:
        run = record.dagster_run
        try:
            pid = int(run.tags.get(PID_TAG, ""))
        except ValueError:
            continue
        if pid == os.getpid() or is_alive(pid, run.tags.get(PID_START_TAG, "")):
            continue
        dead.append(DeadRun(run.run_id, run.job_name, run.tags.get(PARTITION_TAG), pid))
    return dead


def _last_event_age(instance: dg.DagsterInstance, run_id: str, now: float) -> float:
    records = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    return now - records[0].timestamp if records else float("inf")


def find_silent_batch_runs(
    instance: dg.DagsterInstance, job_name: str, holds_leases: Callable[[str], bool], silence_s: float
) -> list[DeadRun]:
    """Batch runs launched elsewhere (no process tags: a daemon's run worker) that stopped heartbeating.

    Dagster's run monitoring fails such runs for launchers that report worker health (Docker, Kubernetes);
    the default launcher of `dagster dev` does not. A batch run renews its leases while any step works, so
    a STARTED run whose batch holds no lease and whose event log has been silent for longer than a lease
    lives is dead: its repos have already gone back to the queue, only its slot is left to free.
    """
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.STARTED]), limit=1000
    )
    now = time.time()
    silent = []
    for record in records:
        run = record.dagster_run
        batch_id = run.tags.get(PARTITION_TAG)
        if PID_TAG in run.tags or not batch_id or holds_leases(batch_id):
            continue
        if _last_event_age(instance, run.run_id, now) > silence_s:
            silent.append(DeadRun(run.run_id, run.job_name, batch_id, pid=0))
    return silent


def reap_dead_runs(
    instance: dg.DagsterInstance,
    settle_batch: Callable[[str, str], object] | None = None,
    silent: Sequence[DeadRun] = (),
) -> list[DeadRun]:
    """Settle each dead run's batch with ``settle_batch(batch_id, reason)``, then mark the run failed."""
    reaped = [*find_dead_runs(instance), *silent]
    for dead in reaped:
        if dead.pid:
            reason = f"run {dead.run_id} died with its process (pid {dead.pid})"
        else:
            reason = f"run {dead.run_id} stopped renewing its leases: its run worker is gone"
        if dead.batch_id and settle_batch is not None:
            settle_batch(dead.batch_id, reason)
        run = instance.get_run_by_id(dead.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message=reason)
    return reaped


def active_runs(instance: dg.DagsterInstance, job_name: str) -> int:
    """Queued and running runs of the job: what counts against BATCH_MAX_ACTIVE_RUNS."""
    return instance.get_runs_count(dg.RunsFilter(job_name=job_name, statuses=ACTIVE))


def renew_waiting_batches(instance: dg.DagsterInstance, queue: RepoQueue, job_name: str) -> int:
    """Keep the leases of batch runs that wait in the run queue: nobody else heartbeats for them until
    their first step starts, and a long queue must not hand their repos to a second batch."""
    waiting = instance.get_run_records(filters=dg.RunsFilter(job_name=job_name, statuses=WAITING), limit=1000)
    renewed = 0
    for record in waiting:
        batch_id = record.dagster_run.tags.get(PARTITION_TAG)
        if batch_id:
            with contextlib.suppress(BatchNotFound):
                renewed += queue.renew_leases(batch_id)
    return renewed


def reap_dead_batch_runs(instance: dg.DagsterInstance, queue: RepoQueue, job_name: str) -> list[str]:
    """Mark runs whose process died failed, their repos returned as crashes; the run ids reaped.

    Shared by the batch sensor and `codelupe run`, which both find the runs an earlier process left."""

    def settle(batch_id: str, reason: str) -> None:
        # Without a batch record there is nothing to return: only the run record needs closing.
        settle_run(queue, batch_id, RunEnd.DIED, reason)

    def holds_leases(batch_id: str) -> bool:
        try:
            return queue.holds_leases(batch_id)
        except BatchNotFound:
            return False

    silent = find_silent_batch_runs(instance, job_name, holds_leases, queue.policy.lease_ttl_s)
    return [dead.run_id for dead in reap_dead_runs(instance, settle, silent)]
