"""`codelupe run --source DIR|FILE`: the whole graph, headless, through the same code as the daemon.

Crawl and queue are materialized, then the *batch sensor itself* is evaluated in a loop; each run it
requests is executed in process for its partition, and the batch is settled exactly as the run-status
sensor would settle it. So this command and `dagster dev` differ only in who calls the functions. Every
per-batch stage in `batch_job` joins automatically; training runs at the end when available.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import click
import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codelupe_dagster import settings

BATCH_JOB = "batch_job"
CRAWL_JOB = "crawl_and_queue_job"
BATCH_SENSOR = "batch_sensor"
TRAIN_ASSET = "qwen_checkpoint"
# The progress bar and the summary report progress; Dagster's per-step DEBUG events would drown them.
# Runs keep their full event logs in the instance, visible in `dagster dev`.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunSummary:
    enqueued: int = 0
    batches_succeeded: int = 0
    batches_failed: int = 0
    repos_done: int = 0
    # asset key -> metadata name -> summed integer value over every batch
    totals: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    training: str = "not run"
    stopped: str | None = None


def resolve_source(source: str | None, samples: int) -> str:
    """The source to crawl: explicit, CODELUPE_SOURCE, or sample repositories built on first use."""
    source = source or settings.env_str("CODELUPE_SOURCE")
    if source == "github":
        return source
    if source:
        path = Path(source).expanduser().resolve()
        if not path.exists():
            raise click.BadParameter(f"{path} does not exist", param_hint="--source")
        return str(path)
    from codelupe_dagster.core.sample_sources import build_sample_sources

    dest = settings.data_dir() / "sources"
    built = build_sample_sources(dest, max_repos=samples)
    files = sum(sample.files for sample in built)
    click.echo(f"Built {len(built)} sample repositories ({files} files) in {dest}", err=True)
    return str(dest)


def dagster_instance() -> dg.DagsterInstance:
    """DAGSTER_HOME when set, else DATA_DIR/dagster: persistent, so runs show up in `dagster dev` later."""
    if not settings.env_str("DAGSTER_HOME"):
        home = settings.data_dir() / "dagster"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _add_metadata(summary: RunSummary, result: dg.ExecuteInProcessResult) -> None:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.to_user_string()
        for name, value in materialization.metadata.items():
            raw = getattr(value, "value", value)
            if isinstance(raw, int) and not isinstance(raw, bool):
                summary.totals[key][name] += raw


def new_training_samples(defs: dg.Definitions) -> tuple[int, str | None]:
    """High-quality documents indexed after the latest checkpoint's watermark, and that checkpoint's version.

    The same count the training sensor makes, minus its MIN_NEW_FILES threshold: a headless run trains on
    whatever is new, but never retrains a checkpoint on exactly the data it already saw.
    """
    from codelupe_dagster.sensors.training import count_new_samples

    search = defs.resources["search"].process_config_and_initialize()
    training = defs.resources["training"].process_config_and_initialize()
    new, checkpoint = count_new_samples(search, training)
    return new, checkpoint.version if checkpoint else None


def maybe_train(defs: dg.Definitions, instance: dg.DagsterInstance, enabled: bool) -> str:
    """Materialize `qwen_checkpoint` when the code location defines it and there is new data to learn."""
    if not enabled:
        return "skipped (--no-train)"
    try:
        defs.resolve_assets_def(TRAIN_ASSET)
    except Exception:
        return "not available"
    new, version = new_training_samples(defs)
    if new == 0 and version:
        return f"up to date ({version}: no new samples)"
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(TRAIN_ASSET)],
        raise_on_error=False,
        run_config=QUIET_CONSOLE,
    )
    return "succeeded" if result.success else "failed"


def run_pipeline(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    source: str,
    *,
    train: bool = True,
    max_failed_batches: int = 3,
    console: Console | None = None,
) -> RunSummary:
    """Crawl + queue, then batches until the queue is drained and every batch run has finished."""
    from codelupe_dagster.core.batch_queue import BatchNotFound
    from codelupe_dagster.sensors.run_status import settle_batch

    console = console or Console(stderr=True)
    summary = RunSummary()
    # Resolved like a run would (EnvVar fields read now), so this process talks to the same Redis.
    redis_resource = defs.resources["redis"].process_config_and_initialize()
    client, keys = redis_resource.get_client(), redis_resource.redis_keys

    crawl = defs.resolve_job_def(CRAWL_JOB).execute_in_process(
        instance=instance,
        run_config={**QUIET_CONSOLE, "ops": {"crawled_repos": {"config": {"source": source}}}},
    )
    queued = crawl.asset_materializations_for_node("queued_repos")
    summary.enqueued = int(queued[0].metadata["enqueued"].value) if queued else 0

    sensor = defs.resolve_sensor_def(BATCH_SENSOR)
    batch_job = defs.resolve_job_def(BATCH_JOB)
    cursor: str | None = None
    total = client.zcard(keys.repos) + client.hlen(keys.inflight)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("repos", total=total)
        while True:
            tick = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources))
            cursor = tick.cursor
            if not tick.run_requests:
                if client.zcard(keys.repos) == 0:
                    break
                time.sleep(2)  # the run cap is held by runs launched elsewhere (a daemon): wait for room
                continue
            for request in tick.dynamic_partitions_requests:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            for request in tick.run_requests:
                batch_id = request.partition_key
                progress.update(task, description=f"batch {batch_id}")
                result = batch_job.execute_in_process(
                    instance=instance,
                    partition_key=batch_id,
                    tags=dict(request.tags),
                    raise_on_error=False,
                    run_config=QUIET_CONSOLE,
                )
                _add_metadata(summary, result)
                try:
                    repos = settle_batch(
                        client, keys, batch_id, result.success, f"run {result.run_id} failed"
                    )
                except BatchNotFound:
                    repos = []
                if result.success:
                    summary.batches_succeeded += 1
                    summary.repos_done += len(repos)
                    progress.advance(task, len(repos))
                else:
                    summary.batches_failed += 1
                    console.print(
                        f"[red]batch {batch_id} failed[/red] (run {result.run_id}); repos re-queued"
                    )
            if summary.batches_failed >= max_failed_batches:
                # Failed batches go back on the queue; without a bound a persistent fault would loop forever.
                summary.stopped = f"{summary.batches_failed} batches failed; the rest stays queued"
                break
    summary.training = maybe_train(defs, instance, train) if summary.stopped is None else "skipped (failures)"
    return summary


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
            table.add_row(f"{asset}: {name}", str(value))
    table.add_row("training", summary.training)
    console.print(table)
    if summary.stopped:
        console.print(f"[red]stopped early:[/red] {summary.stopped}")


@click.command("run")
@click.option(
    "--source",
    default=None,
    help="Directory of git repos, a file of clone URLs/paths, or 'github' (the search API). "
    "Default: CODELUPE_SOURCE, else sample repositories built from code installed on this machine.",
)
@click.option("--samples", default=20, show_default=True, help="How many sample repositories to build.")
@click.option("--no-train", is_flag=True, help="Leave training out.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Repos per batch (default BATCH_SIZE).")
@click.option("--max-failed-batches", default=3, show_default=True, type=click.IntRange(min=1))
def run(
    source: str | None, samples: int, no_train: bool, batch_size: int | None, max_failed_batches: int
) -> None:
    """Crawl a source and run every batch through the pipeline, headless, until the queue is drained."""
    source = resolve_source(source, samples)
    # This process is the run: the environment it exports is what the code location below is built from.
    os.environ["CODELUPE_SOURCE"] = source
    if batch_size:
        os.environ["BATCH_SIZE"] = str(batch_size)
    console = Console(stderr=True)
    instance = dagster_instance()
    from codelupe_dagster.definitions import defs

    started = time.monotonic()
    summary = run_pipeline(
        defs, instance, source, train=not no_train, max_failed_batches=max_failed_batches, console=console
    )
    render_summary(summary, console, time.monotonic() - started)
    if summary.stopped:
        raise SystemExit(1)
