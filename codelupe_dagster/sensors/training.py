"""Start training when enough new high-quality code has been indexed since the last checkpoint.

The sensor ticks every 30 s but only queries the index every CHECK_INTERVAL seconds (the pipeline
resource's `check_interval`, shown in the launchpad). The run key is the last checkpoint's watermark
plus how many MIN_NEW_FILES-sized blocks have accumulated past it: one request per block per
watermark, and if a run fails the next block of new files earns a retry.
"""

import json
import time

import dagster as dg

from codelupe_dagster.assets.train import training_job
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource
from codelupe_dagster.stages.training_samples import count_new_samples, training_run_key
from codelupe_dagster.training.checkpoints import latest_checkpoint

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every CHECK_INTERVAL seconds, counts documents indexed since the last checkpoint's "
    "watermark with quality_score >= TRAIN_MIN_QUALITY, and requests one qwen_training_job run when at "
    "least MIN_NEW_FILES are new and no training run is in progress; otherwise says why it skips.",
)
def training_sensor(
    context: dg.SensorEvaluationContext,
    search: SearchIndexResource,
    training: TrainingResource,
    pipeline: PipelineResource,
) -> dg.SensorResult | dg.SkipReason:
    """Request a qwen_checkpoint run once MIN_NEW_FILES high-quality files follow the watermark."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    interval = pipeline.check_interval
    last_check = cursor.get("last_check")
    if last_check is not None and now - last_check < interval:
        return dg.SkipReason(f"next check in {int(interval - (now - last_check))} s")

    running = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=training_job.name, statuses=IN_PROGRESS), limit=1
    )
    if running:
        return dg.SkipReason(f"training run {running[0].dagster_run.run_id} is still in progress")

    checkpoint = latest_checkpoint(training.data_path())
    watermark = checkpoint.watermark if checkpoint else None
    new_files = count_new_samples(search.code_index(), training.min_quality, watermark)
    needed = max(1, training.min_new_files)
    cursor["last_check"] = now
    since = f"since {checkpoint.version} ({watermark.isoformat()})" if checkpoint and watermark else "so far"
    if new_files < needed:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"{new_files}/{needed} new high-quality files {since}")

    run_key = training_run_key(watermark, new_files, needed)
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
