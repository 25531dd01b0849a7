"""Start training when enough new high-quality code has been indexed since the last checkpoint.

The sensor ticks every 30 s but only queries the index every CHECK_INTERVAL seconds (read at run
time, so changing the variable needs no redeploy). The run key is the last checkpoint's watermark
plus how many MIN_NEW_FILES-sized blocks have accumulated past it: one request per block per
watermark, and if a run fails the next block of new files earns a retry.
"""

import json
import time

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.assets.train import training_job
from codelupe_dagster.backends.search import Filters
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource
from codelupe_dagster.training.checkpoints import Checkpoint, latest_checkpoint

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def count_new_samples(
    search: SearchIndexResource, training: TrainingResource
) -> tuple[int, Checkpoint | None]:
    """High-quality documents indexed after the latest checkpoint's watermark, and that checkpoint.

    Shared with `codelupe run`, so the headless run and the daemon agree on what counts as new data.
    """
    checkpoint = latest_checkpoint(training.resolved_data_dir())
    watermark = checkpoint.watermark if checkpoint else None
    filters = Filters(min_quality=training.resolved_min_quality(), indexed_after=watermark)
    return search.code_index().count(filters), checkpoint


@dg.sensor(job=training_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def training_sensor(
    context: dg.SensorEvaluationContext, search: SearchIndexResource, training: TrainingResource
) -> dg.SensorResult | dg.SkipReason:
    """Request a qwen_checkpoint run once MIN_NEW_FILES high-quality files follow the watermark."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    interval = settings.env_int("CHECK_INTERVAL")
    last_check = cursor.get("last_check")
    if last_check is not None and now - last_check < interval:
        return dg.SkipReason(f"next check in {int(interval - (now - last_check))} s")

    running = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=training_job.name, statuses=IN_PROGRESS), limit=1
    )
    if running:
        return dg.SkipReason(f"training run {running[0].dagster_run.run_id} is still in progress")

    new_files, checkpoint = count_new_samples(search, training)
    watermark = checkpoint.watermark if checkpoint else None
    needed = max(1, training.resolved_min_new_files())
    cursor["last_check"] = now
    since = f"since {checkpoint.version} ({watermark.isoformat()})" if checkpoint and watermark else "so far"
    if new_files < needed:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"{new_files}/{needed} new high-quality files {since}")

    run_key = f"qwen_checkpoint:{watermark.isoformat() if watermark else 'initial'}:{new_files // needed}"
    if cursor.get("last_run_key") == run_key:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"already requested a training run for {new_files}/{needed} new files {since}")
    cursor["last_run_key"] = run_key
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                tags={"codelupe/new_files": str(new_files), "codelupe/watermark": str(watermark or "")},
            )
        ],
        cursor=json.dumps(cursor),
    )


defs = dg.Definitions(sensors=[training_sensor])
