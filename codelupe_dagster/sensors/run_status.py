"""Settle a batch when its run ends: acknowledge its repos on success (retrying those that failed alone),
count an attempt for every repo on failure, and put them back without counting one on cancel."""

import dagster as dg

from codelupe_dagster.jobs import batch_job
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.stages.settle import RunEnd, describe, settle_run

PARTITION_TAG = "dagster/partition"


def _settle_from_context(context: dg.RunStatusSensorContext, redis: RedisResource, end: RunEnd) -> None:
    run = context.dagster_run
    batch_id = run.tags.get(PARTITION_TAG)
    if not batch_id:
        context.log.warning(f"run {run.run_id} of {run.job_name} has no partition; nothing to settle")
        return
    status = run.status.value.lower()
    settled = settle_run(redis.queue(), batch_id, end, reason=f"run {run.run_id} {status}")
    if settled is None:
        context.log.warning(f"batch {batch_id} has no record in Redis; nothing to settle")
        return
    context.log.info(describe(batch_id, status, settled))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fires when a batch_job run succeeds: acknowledges its batch's repositories in the Redis "
    "queue (those that failed alone are retried or parked). Requests no runs.",
)
def batch_succeeded_sensor(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    _settle_from_context(context, redis, RunEnd.SUCCEEDED)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.FAILURE,
    monitored_jobs=[batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fires when a batch_job run fails: counts an attempt for each repository of its batch and "
    "puts it back on the Redis queue with a back-off, or parks it after MAX_REPO_ATTEMPTS. Requests no runs.",
)
def batch_failed_sensor(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    _settle_from_context(context, redis, RunEnd.FAILED)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=[batch_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fires when a batch_job run is canceled: puts its batch's repositories back on the Redis "
    "queue without counting an attempt. Requests no runs.",
)
def batch_canceled_sensor(context: dg.RunStatusSensorContext, redis: RedisResource) -> None:
    _settle_from_context(context, redis, RunEnd.CANCELED)


defs = dg.Definitions(sensors=[batch_succeeded_sensor, batch_failed_sensor, batch_canceled_sensor])
