"""`codelupe run --source DIR|FILE`: the whole graph, headless, through the same code as the daemon.

Crawl and queue are materialized, then the *batch sensor itself* is evaluated in a loop; each run it
requests is executed in this process for its partition, recorded as a run of the `codelupe` code location
(`cli.launch`) so the UI lists it under `batch_job` like a run the daemon launched, and the batch is settled
exactly as the run-status sensor would settle it. So this command and `dagster dev` differ only in who
calls the functions. Every per-batch stage in `batch_job` joins automatically; training runs at the end
when available.

This module is the command; the batch loop is `cli.batch_loop`, the training part `cli.run_training`,
the summary `cli.run_summary`.
"""

import os
import time
from pathlib import Path

import click
import dagster as dg
from rich.console import Console

from codelupe_dagster import settings
from codelupe_dagster.backends.sources import forge_kinds
from codelupe_dagster.cli.batch_loop import run_pipeline
from codelupe_dagster.cli.errors import CommandError, WorkFailed
from codelupe_dagster.cli.run_summary import render_summary
from codelupe_dagster.resources import default_resources
from codelupe_dagster.resources.pipeline import PipelineResource


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
