"""Settle a batch when its run ends: acknowledge its repos on success, re-queue them on failure or cancel."""

import dagster as dg
import redis

from codelupe_dagster.assets.jobs import batch_job
from codelupe_dagster.core.batch_queue import BatchNotFound, ack_batch, requeue_batch
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.resources.redis import RedisResource

PARTITION_TAG = "dagster/partition"


def settle_batch(
    client: redis.Redis, keys: RedisKeys, batch_id: str, succeeded: bool, reason: str
) -> list[str]:
    """Ack or re-queue; shared by the sensors and `codelupe run`, so both settle batches the same way."""
    if succeeded:
        return ack_batch(client, keys, batch_id)
    return requeue_batch(client, keys, batch_id, reason)


def _settle_from_context(context: dg.RunStatusSensorContext, redis: RedisResource, succeeded: bool) -> None:
    run = context.dagster_run
    batch_id = run.tags.get(PARTITION_TAG)
    if not batch_id:
        context.log.warning(f"run {run.run_id} of {run.job_name} has no partition; nothing to settle")
        return
    reason = f"run {run.run_id} {run.status.value.lower()}"
    try:
        repos = settle_batch(redis.get_client(), redis.redis_keys, batch_id, succeeded, reason)
    except BatchNotFound:
        context.log.warning(f"batch {batch_id} has no record in Redis; nothing to settle")
        return
    context.log.info(f"batch {batch_id}: {'acknowledged' if succeeded else 're-queued'} {len(repos)} repos")


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
