"""The batch loop of `codelupe run`: crawl and queue, then the batch sensor ticked and each run it
requests executed in this process and settled as the run-status sensor would, until nothing is pending;
then the corpus stats and training. Runs a killed `codelupe run` left behind are closed first.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codelupe_dagster.assets.corpus import CORPUS_STATS_JOB
from codelupe_dagster.backends.repo_queue import QueueState, RepoQueue, Settled
from codelupe_dagster.cli.launch import execute_as_location_run
from codelupe_dagster.cli.run_outcome import console_config, failure_message, interrupted
from codelupe_dagster.cli.run_summary import RunSummary, add_metadata
from codelupe_dagster.cli.run_training import maybe_train
from codelupe_dagster.partitions import apply_partition_requests
from codelupe_dagster.run_liveness import active_runs, process_tags, reap_dead_batch_runs
from codelupe_dagster.stages.settle import RunEnd, requeue_unstarted, settle_run

BATCH_JOB = "batch_job"
CRAWL_JOB = "crawl_and_queue_job"
BATCH_SENSOR = "batch_sensor"


@dataclass
class PipelineRun:
    """What one `codelupe run` works with: the definitions, the instance, the queue, and the tags that
    identify this process on every run it executes (so a later run can tell if it died)."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    queue: RepoQueue
    console: Console
    tags: dict[str, str]
    summary: RunSummary = field(default_factory=RunSummary)


def run_pipeline(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    source: str,
    *,
    train: bool = True,
    max_failed_batches: int = 3,
    console: Console | None = None,
) -> RunSummary:
    """Crawl + queue, then batches until no repo of the queue is left pending (queued, leased or backing
    off). Runs that an earlier, killed `codelupe run` left behind are settled and closed first."""
    # Resolved like a run would (EnvVar fields read now), so this process talks to the same Redis.
    redis_resource = defs.resources["redis"].process_config_and_initialize()
    run = PipelineRun(defs, instance, redis_resource.queue(), console or Console(stderr=True), process_tags())
    _close_leftover_runs(run)
    run.summary.enqueued = _crawl_and_queue(run, source)
    _drain_queue(run, max_failed_batches)
    return _finish(run, train)


def _close_leftover_runs(run: PipelineRun) -> None:
    reaped = reap_dead_batch_runs(run.instance, run.queue, BATCH_JOB)
    if reaped:
        run.console.print(
            f"closed {len(reaped)} runs left unfinished by a killed process; their repos are re-queued"
        )


def _crawl_and_queue(run: PipelineRun, source: str) -> int:
    """Materialize crawl + queue; how many repos were enqueued."""
    crawl = execute_as_location_run(
        run.defs.resolve_job_def(CRAWL_JOB),
        run.instance,
        tags=run.tags,
        raise_on_error=True,
        run_config={**console_config(), "ops": {"crawled_repos": {"config": {"source": source}}}},
    )
    queued = crawl.asset_materializations_for_node("queued_repos")
    return int(queued[0].metadata["enqueued"].value) if queued else 0


def _drain_queue(run: PipelineRun, max_failed_batches: int) -> None:
    """Tick the batch sensor and execute what it requests until nothing is pending, or too many failed."""
    summary = run.summary
    sensor = run.defs.resolve_sensor_def(BATCH_SENSOR)
    cursor: str | None = None
    waiting = WaitReporter(run.console)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=run.console, transient=False) as progress:
        task = progress.add_task("repos", total=run.queue.state().pending)
        while summary.batches_failed < max_failed_batches:
            context = dg.build_sensor_context(
                instance=run.instance, cursor=cursor, resources=run.defs.resources
            )
            tick = sensor(context)
            cursor = tick.cursor
            # Adds for the batches it popped and the retirements of old settled partitions, as the
            # sensor daemon applies them (also on ticks that request no run).
            apply_partition_requests(run.instance, list(tick.dynamic_partitions_requests or []))
            if not tick.run_requests:
                state = run.queue.state()
                if state.pending == 0:
                    break
                time.sleep(waiting.report(state, run.instance))
                continue
            waiting.reset()
            _run_tick(run, tick, progress, task)
        else:
            # Failed runs go back on the queue; without a bound an outage (Redis, the index) would loop.
            summary.stopped = f"{summary.batches_failed} batch runs failed; the rest stays queued"


def _run_tick(run: PipelineRun, tick: dg.SensorResult, progress: Progress, task: Any) -> None:
    """Execute the runs one sensor tick requested, in order, holding the leases of those still waiting."""
    batch_job = run.defs.resolve_job_def(BATCH_JOB)
    with contextlib.ExitStack() as held:
        # Batches wait here for their turn: this process keeps their leases alive until then, and
        # a Ctrl-C puts back the ones it never started.
        pending = {request.partition_key for request in tick.run_requests}
        for batch_id in pending:
            held.enter_context(run.queue.keep_leased(batch_id))
        held.callback(requeue_unstarted, run.queue, pending)
        for request in tick.run_requests:
            pending.discard(request.partition_key)
            progress.update(task, description=f"batch {request.partition_key}")
            done = _run_batch(run, batch_job, request)
            total = done + run.queue.state().pending + progress.tasks[0].completed
            progress.update(task, total=total)
            progress.advance(task, done)


def _finish(run: PipelineRun, train: bool) -> RunSummary:
    """What is left: parked repos, whether anything is still pending, and training when all went well."""
    summary = run.summary
    final = run.queue.state()
    summary.parked = sorted(run.queue.dead_letters())
    if summary.stopped is None and final.pending:
        summary.stopped = f"{final.pending} repos still pending"
    if summary.batches_succeeded:
        _refresh_corpus_stats(run)
    summary.training = (
        maybe_train(run.defs, run.instance, train, run.tags, summary, run.console)
        if summary.stopped is None
        else "skipped (failures)"
    )
    return summary


def _refresh_corpus_stats(run: PipelineRun) -> None:
    """Materialize `corpus_stats` once after the batches, as its sensor does under the daemon; a failure
    is reported and leaves the batches' work as it is."""
    result = execute_as_location_run(
        run.defs.resolve_job_def(CORPUS_STATS_JOB),
        run.instance,
        tags=run.tags,
        run_config=console_config(),
    )
    if not result.success:
        run.console.print(f"corpus_stats not refreshed: {failure_message(result)}")


def _run_batch(run: PipelineRun, batch_job: dg.JobDefinition, request: dg.RunRequest) -> int:
    """Execute one batch run in process and settle it as the run-status sensors would; repos acked."""
    batch_id = request.partition_key
    try:
        result = execute_as_location_run(
            batch_job,
            run.instance,
            partition_key=batch_id,
            tags={**request.tags, **run.tags},
            run_config=console_config(),
        )
    except KeyboardInterrupt:
        settle_run(run.queue, batch_id, RunEnd.INTERRUPTED, "interrupted")
        raise
    if interrupted(result):  # Dagster caught the Ctrl-C and failed the run: stop, as the user asked
        settle_run(run.queue, batch_id, RunEnd.INTERRUPTED, "interrupted")
        raise KeyboardInterrupt
    summary = run.summary
    if result.success:
        add_metadata(summary, result)
    end = RunEnd.SUCCEEDED if result.success else RunEnd.FAILED
    settled = settle_run(run.queue, batch_id, end, f"run {result.run_id} failed") or Settled((), {})
    if result.success:
        summary.batches_succeeded += 1
    else:
        summary.batches_failed += 1
        run.console.print(
            f"[red]batch {batch_id} failed[/red] (run {result.run_id}): {failure_message(result)}"
        )
    for repo, outcome in sorted(settled.failed.items()):
        run.console.print(
            f"[yellow]{repo}[/yellow]: failed, {'parked (dead letter)' if outcome == 'dead' else outcome}"
        )
    summary.repos_done += len(settled.acked)
    return len(settled.acked) + len(settled.parked)


class WaitReporter:
    """Says, once per change, why the run is waiting, and how long to sleep before looking again."""

    def __init__(self, console: Console):
        self.console = console
        self.last = ""

    def reset(self) -> None:
        self.last = ""

    def report(self, state: QueueState, instance: dg.DagsterInstance) -> float:
        now = time.time()
        if state.queued:
            active = active_runs(instance, BATCH_JOB)
            message = (
                f"{state.queued} repos queued, waiting for one of {active} batch runs elsewhere to finish"
            )
            pause = 2.0
        elif state.in_flight:
            expiry = state.next_lease_expiry or now
            message = (
                f"{state.in_flight} repos are held by other runs; waiting for them or for their leases "
                f"to lapse (next in {max(0.0, expiry - now):.0f}s)"
            )
            pause = min(5.0, max(0.5, expiry - now + 0.1))
        else:
            retry_at = state.next_retry_at or now
            message = f"{state.delayed} failed repos back off; next retry in {max(0.0, retry_at - now):.0f}s"
            pause = min(5.0, max(0.2, retry_at - now + 0.05))
        if message.split(";")[0] != self.last.split(";")[0]:
            self.console.print(f"[cyan]waiting:[/cyan] {message}")
        self.last = message
        return pause
