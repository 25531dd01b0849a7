"""The training part of `codelupe run`: `qwen_checkpoint` materialized at the end when the code location
defines it and there is new data to learn."""

from __future__ import annotations

import dagster as dg
from rich.console import Console

from codelupe_dagster.cli.launch import execute_as_location_run
from codelupe_dagster.cli.run_outcome import console_config, failure_message, interrupted
from codelupe_dagster.cli.run_summary import RunSummary
from codelupe_dagster.cli.training_progress import training_progress
from codelupe_dagster.stages.training_samples import count_new_samples
from codelupe_dagster.training.checkpoints import latest_checkpoint

TRAIN_JOB = "qwen_training_job"


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
        summary.training_error = failure_message(result)
    return "interrupted" if interrupted(result) else "failed"
