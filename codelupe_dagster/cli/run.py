"""`codelupe run --source DIR|FILE`: the whole graph, headless, through the same code as the daemon.

Crawl and queue are materialized, then the *batch sensor itself* is evaluated in a loop; each run it
requests is executed in this process for its partition, recorded as a run of the `codelupe` code location
(`cli.launch`) so the UI lists it under `batch_job` like a run the daemon launched, and the batch is settled
exactly as the run-status sensor would settle it. So this command and `dagster dev` differ only in who
calls the functions. Every per-batch stage in `batch_job` joins automatically; training runs at the end
when available.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codelupe_dagster import settings
from codelupe_dagster.assets.corpus import CORPUS_STATS_JOB
from codelupe_dagster.backends.repo_queue import QueueState, RepoQueue, Settled
from codelupe_dagster.backends.sources import forge_kinds
from codelupe_dagster.cli.errors import CommandError, WorkFailed
from codelupe_dagster.cli.launch import execute_as_location_run
from codelupe_dagster.cli.training_progress import training_progress
from codelupe_dagster.core.filters import LOW_QUALITY
from codelupe_dagster.core.masking import mask_secrets_in_text
from codelupe_dagster.partitions import apply_partition_requests
from codelupe_dagster.resources import default_resources
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.run_liveness import active_runs, process_tags, reap_dead_batch_runs
from codelupe_dagster.stages.settle import RunEnd, requeue_unstarted, settle_run
from codelupe_dagster.stages.training_samples import count_new_samples
from codelupe_dagster.training.checkpoints import latest_checkpoint

BATCH_JOB = "batch_job"
CRAWL_JOB = "crawl_and_queue_job"
BATCH_SENSOR = "batch_sensor"
TRAIN_JOB = "qwen_training_job"
BELOW_THRESHOLD = "below_threshold"
# The progress bar and the summary report progress; Dagster's per-step events (and a failed step's
# traceback) would drown them: a failure is reported here in one line. Runs keep their full event logs
# in the instance, visible in the UI; `--verbose` shows warnings and errors on the console too.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunSummary:
    enqueued: int = 0
    batches_succeeded: int = 0
    batches_failed: int = 0
    repos_done: int = 0
    # asset key -> metadata name -> value over the succeeded batches, added up as `SUMMARY_KEYS` says
    totals: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # integer metadata that `SUMMARY_KEYS` does not classify: left out of the summary (a test keeps it empty)
    unclassified: set[str] = field(default_factory=set)
    training: str = "not run"
    training_error: str | None = None  # why training failed or was interrupted
    stopped: str | None = None
    parked: list[str] = field(default_factory=list)


def resolve_source(source: str | None, samples: int, pipeline: PipelineResource) -> str:
    """The source to crawl: explicit, CODELUPE_SOURCE, or sample repositories built on first use."""
    source = source or pipeline.source
    if source in forge_kinds():  # github, gitlab: a forge, not a path
        return source
    if source:
        path = Path(source).expanduser().resolve()
        if not path.exists():
            raise click.BadParameter(f"{path} does not exist", param_hint="--source")
        return str(path)
    from codelupe_dagster.backends.sources.samples import build_sample_sources

    dest = pipeline.data_path() / "sources"
    built = build_sample_sources(dest, max_repos=samples)
    files = sum(sample.files for sample in built)
    click.echo(f"Built {len(built)} sample repositories ({files} files) in {dest}", err=True)
    return str(dest)


def dagster_instance() -> dg.DagsterInstance:
    """DAGSTER_HOME when set, else DATA_DIR/dagster (created with a quiet dagster.yaml): persistent, so
    runs show up in `codelupe ui` later."""
    settings.prepare_dagster_home()
    return dg.DagsterInstance.get()


SUM = "sum"  # a count of this batch's work: the run's total is the sum over its batches
LATEST = "latest"  # a gauge of the whole index (a size): the run ends at the last batch's value
SKIP = "skip"  # a rate, a duration or a setting: not added up at all
# Decided per asset and metadata key, not guessed from the name when printing.
SUMMARY_KEYS: dict[str, dict[str, str]] = {
    "cloned_repos": {
        "repos": SUM,
        "cloned": SUM,
        "updated": SUM,
        "unchanged": SUM,
        "failed": SUM,
        "bytes": SUM,
        "seconds": SKIP,
        "repos_per_s": SKIP,
    },
    "scored_files": {
        "seen": SUM,
        "kept": SUM,
        "exact_duplicates": SUM,
        "near_duplicates": SUM,
        "unaccounted": SUM,
        "pool_rebuilds": SUM,
        "files_per_s": SKIP,
        "elapsed_s": SKIP,
        "min_quality": SKIP,
        "dagster/row_count": SKIP,  # the same number as `kept`
        "dagster/partition_row_count": SKIP,
    },
    "es_code_index": {
        "spooled": SUM,
        "indexed": SUM,
        BELOW_THRESHOLD: SUM,
        "stale_removed": SUM,
        "claims_released": SUM,
        "index_size_bytes": LATEST,
        "docs_per_s": SKIP,
        "min_quality": SKIP,
        "dagster/row_count": LATEST,  # documents in the whole index after the batch
        "dagster/partition_row_count": SKIP,  # the same number as `indexed`
    },
}


def _batch_numbers(metadata: dict[str, Any]) -> dict[str, int]:
    """A materialization's integer metadata, with the spooled documents the index left out for being
    below its threshold (the `dropped` JSON of es_code_index) as a number of their own."""
    numbers = {}
    for name, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int) and not isinstance(raw, bool):
            numbers[name] = raw
        elif name == "dropped" and isinstance(raw, dict) and LOW_QUALITY in raw:
            numbers[BELOW_THRESHOLD] = int(raw[LOW_QUALITY])
    return numbers


def _add_metadata(summary: RunSummary, result: dg.ExecuteInProcessResult) -> None:
    """Add a succeeded batch's numbers to the run's: a failed batch is not counted, since its repos are
    retried and what it did is done (and counted) again by the batch that succeeds."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.to_user_string()
        rules = SUMMARY_KEYS.get(key, {})
        for name, value in _batch_numbers(dict(materialization.metadata)).items():
            rule = rules.get(name)
            if rule == SUM:
                summary.totals[key][name] += value
            elif rule == LATEST:
                summary.totals[key][name] = value
            elif rule is None:
                summary.unclassified.add(f"{key}: {name}")


def new_training_samples(defs: dg.Definitions) -> tuple[int, str | None]:
    """High-quality documents indexed after the latest checkpoint's watermark, and that checkpoint's version.

    The same count the training sensor makes, minus its MIN_NEW_FILES threshold: a headless run trains on
    whatever is new, but never retrains a checkpoint on exactly the data it already saw.
    """
    search = defs.resources["search"].process_config_and_initialize()
    training = defs.resources["training"].process_config_and_initialize()
    checkpoint = latest_checkpoint(training.data_path())
    watermark = checkpoint.watermark if checkpoint else None
    new = count_new_samples(search.code_index(), training.min_quality, watermark)
    return new, checkpoint.version if checkpoint else None


def maybe_train(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    enabled: bool,
    tags: dict[str, str] | None = None,
    summary: RunSummary | None = None,
    console: Console | None = None,
) -> str:
    """Materialize `qwen_checkpoint` when the code location defines it and there is new data to learn,
    with a progress bar of its steps on `console`; why it failed (or that it was interrupted) goes to
    `summary.training_error`."""
    if not enabled:
        return "skipped (--no-train)"
    try:
        job = defs.resolve_job_def(TRAIN_JOB)
    except Exception:
        return "not available"
    new, version = new_training_samples(defs)
    if new == 0 and version:
        return f"up to date ({version}: no new samples)"
    # The training sensor's job, so the run is listed under qwen_training_job in the UI.
    with training_progress(console):
        result = execute_as_location_run(job, instance, tags=tags or {}, run_config=console_config())
    if result.success:
        return "succeeded"
    if summary is not None:
        summary.training_error = _failure_message(result)
    return "interrupted" if interrupted(result) else "failed"


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
        run.console.print(f"corpus_stats not refreshed: {_failure_message(result)}")


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
        _add_metadata(summary, result)
    end = RunEnd.SUCCEEDED if result.success else RunEnd.FAILED
    settled = settle_run(run.queue, batch_id, end, f"run {result.run_id} failed") or Settled((), {})
    if result.success:
        summary.batches_succeeded += 1
    else:
        summary.batches_failed += 1
        run.console.print(
            f"[red]batch {batch_id} failed[/red] (run {result.run_id}): {_failure_message(result)}"
        )
    for repo, outcome in sorted(settled.failed.items()):
        run.console.print(
            f"[yellow]{repo}[/yellow]: failed, {'parked (dead letter)' if outcome == 'dead' else outcome}"
        )
    summary.repos_done += len(settled.acked)
    return len(settled.acked) + len(settled.parked)


def console_config() -> dict[str, Any]:
    from codelupe_dagster.cli import is_verbose

    return VERBOSE_CONSOLE if is_verbose() else QUIET_CONSOLE


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether a step of the run failed because the process was interrupted (Ctrl-C, SIGINT)."""
    for event in result.all_events:
        if event.is_step_failure:
            source = getattr(event.event_specific_data, "error_source", None)
            if getattr(source, "name", None) == "INTERRUPT":
                return True
    return False


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    event = result.get_run_failure_event() if not result.success else None
    failure = event.event_specific_data if event is not None else None
    message = getattr(failure, "error", None)
    text = getattr(message, "message", None) or str(
        getattr(failure, "failure_reason", "") or "see the run's logs"
    )
    return mask_secrets_in_text(text.strip().splitlines()[0]) if text.strip() else "see the run's logs"


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


SUMMARY_LABELS = {
    BELOW_THRESHOLD: "below MIN_QUALITY_THRESHOLD, not indexed",
    "index_size_bytes": "index_size_bytes (after the last batch)",
    "dagster/row_count": "documents in the index (after the last batch)",
}


def kept_breakdown(summary: RunSummary) -> str | None:
    """How the files scoring kept reached the index: every kept file is spooled, and the index takes
    the spooled files at or above its threshold. None when no batch was scored."""
    scored, indexed = summary.totals.get("scored_files"), summary.totals.get("es_code_index")
    if not scored or indexed is None:
        return None
    kept, written, below = scored["kept"], indexed["indexed"], indexed[BELOW_THRESHOLD]
    line = f"kept {kept} = indexed {written} + {below} below the index threshold"
    if kept != written + below:
        line += f" [red](off by {kept - written - below}: see the batches' es_code_index checks)[/red]"
    return line


def render_summary(summary: RunSummary, console: Console, seconds: float) -> None:
    table = Table(title=f"codelupe run — {seconds:.1f}s")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("repos enqueued", str(summary.enqueued))
    table.add_row("batches succeeded", str(summary.batches_succeeded))
    table.add_row("batches failed", str(summary.batches_failed))
    table.add_row("repos done", str(summary.repos_done))
    for asset, counts in summary.totals.items():
        for name, value in counts.items():
            table.add_row(f"{asset}: {SUMMARY_LABELS.get(name, name)}", str(value))
    table.add_row("repos parked (dead letter)", str(len(summary.parked)))
    table.add_row("training", summary.training)
    console.print(table)
    kept = kept_breakdown(summary)
    if kept is not None:
        console.print(kept)
    if summary.parked:
        console.print(
            f"[yellow]{len(summary.parked)} repos are parked after repeated failures[/yellow] "
            f"({', '.join(summary.parked[:10])}{' …' if len(summary.parked) > 10 else ''}): "
            "`codelupe status` shows why, `codelupe retry` re-queues them"
        )


@click.command("run")
@click.option(
    "--source",
    default=None,
    help="Directory of git repos, a file of clone URLs/paths, 'github' (the search API) or 'gitlab'. "
    "Default: CODELUPE_SOURCE, else sample repositories built from code installed on this machine.",
)
@click.option("--samples", default=20, show_default=True, help="How many sample repositories to build.")
@click.option("--no-train", is_flag=True, help="Leave training out.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Repos per batch (default BATCH_SIZE).")
@click.option(
    "--max-failed-batches",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Stop after this many batch runs have failed (their repos stay queued for the next run), so an "
    "outage of Redis, the index or a forge does not retry batches for ever.",
)
def run(
    source: str | None, samples: int, no_train: bool, batch_size: int | None, max_failed_batches: int
) -> None:
    """Crawl a source and run every batch through the pipeline, headless, until no repo is pending.

    Exits 0 only when every repository of the queue was processed or parked (see `codelupe status`) and
    training did not fail; 1 when it stopped with repositories still pending, when training failed or was
    interrupted; 2 on a configuration error; 69 when a service (Redis, Elasticsearch, a forge) is down."""
    console = Console(stderr=True)
    started = time.monotonic()
    if batch_size:
        os.environ["BATCH_SIZE"] = str(batch_size)
    # Configuration first (variables, DAGSTER_HOME), so a mistake costs no crawl and no sample build.
    pipeline: PipelineResource = default_resources()["pipeline"]
    instance = dagster_instance()
    source = resolve_source(source, samples, pipeline)
    # This process is the run: the environment it exports is what the code location is built from.
    os.environ["CODELUPE_SOURCE"] = source
    from codelupe_dagster.definitions import defs

    summary = run_pipeline(
        defs, instance, source, train=not no_train, max_failed_batches=max_failed_batches, console=console
    )
    render_summary(summary, console, time.monotonic() - started)
    # An error is one line and an exit code (`cli.errors`): 2 configuration, 69 a service, 1 failed work.
    if summary.training in {"failed", "interrupted"}:
        raise WorkFailed(f"training {summary.training}: {summary.training_error or 'see the run in the UI'}")
    if summary.stopped:
        raise CommandError(f"stopped early: {summary.stopped}")
