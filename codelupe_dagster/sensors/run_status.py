"""Settle a batch when its run ends: acknowledge its repos on success (retrying those that failed alone),
count an attempt for every repo on failure, and put them back without counting one on cancel."""

import dagster as dg

from codelupe_dagster.assets.jobs import batch_job
from codelupe_dagster.backends.repo_queue import ATTEMPT, REQUEUE, BatchNotFound, settle_batch
from codelupe_dagster.resources.redis import RedisResource

PARTITION_TAG = "dagster/partition"


def _settle_from_context(context: dg.RunStatusSensorContext, redis: RedisResource, succeeded: bool) -> None:
    run = context.dagster_run
    batch_id = run.tags.get(PARTITION_TAG)
    if not batch_id:
        context.log.warning(f"run {run.run_id} of {run.job_name} has no partition; nothing to settle")
        return
    status = run.status.value.lower()
    kind = REQUEUE if run.status == dg.DagsterRunStatus.CANCELED else ATTEMPT
    try:
        settled = settle_batch(
            redis.get_client(),
            redis.redis_keys,
            batch_id,
            redis.retry_policy(),
            succeeded=succeeded,
            reason=f"run {run.run_id} {status}",
            kind=kind,
        )
    except BatchNotFound:
        context.log.warning(f"batch {batch_id} has no record in Redis; nothing to settle")
        return
    context.log.info(
        f"batch {batch_id} ({status}): acknowledged {len(settled.acked)} repos, "
        f"retrying {len(settled.failed) - len(settled.parked)}, parked {settled.parked}"
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def batch_succeeded_sensor(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    _settle_from_context(context, redis, succeeded=True)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.FAILURE,
    monitored_jobs=[batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def batch_failed_sensor(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    _settle_from_context(context, redis, succeeded=False)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=[batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def batch_canceled_sensor(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    _settle_from_context(context, redis, succeeded=False)


defs = dg.Definitions(sensors=[batch_succeeded_sensor, batch_failed_sensor, batch_canceled_sensor])
