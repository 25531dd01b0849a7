"""The batch sensor: turns the Redis queue into `repo_batches` partitions and `batch_job` runs.

Each tick pops at most as many batches as there is room for under the cap on queued and running
`batch_job` runs, so a long queue never floods the run queue. The batch id is both the partition key and
the run key, so a tick that is retried can never start two runs for one batch. Repos in flight for longer
than ``INFLIGHT_TIMEOUT`` (their run died without a status event) go back on the queue first.
"""

import json
import time
from dataclasses import dataclass

import dagster as dg
import redis

from codelupe_dagster import settings
from codelupe_dagster.assets.jobs import batch_job
from codelupe_dagster.core.batch_queue import BatchInfo, pop_batch, requeue_stale
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.redis import RedisResource

ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class BatchingSettings:
    """Read from the environment at tick time: BATCH_SIZE, BATCH_MAX_ACTIVE_RUNS, INFLIGHT_TIMEOUT (s)."""

    batch_size: int
    max_active_runs: int
    inflight_timeout_s: float

    @classmethod
    def from_env(cls) -> "BatchingSettings":
        return cls(
            batch_size=settings.env_int("BATCH_SIZE", 16),
            max_active_runs=settings.env_int("BATCH_MAX_ACTIVE_RUNS", 4),
            inflight_timeout_s=settings.env_float("INFLIGHT_TIMEOUT", 6 * 3600),
        )


@dataclass(frozen=True)
class BatchTick:
    batches: list[BatchInfo]
    requeued_stale: list[str]


def form_batches(
    client: redis.Redis, keys: RedisKeys, config: BatchingSettings, active_runs: int, now: float
) -> BatchTick:
    """Re-queue stale repos, then pop one batch per free run slot until the queue is empty."""
    stale = requeue_stale(client, keys, config.inflight_timeout_s, now)
    batches: list[BatchInfo] = []
    for _ in range(max(0, config.max_active_runs - active_runs)):
        batch = pop_batch(client, keys, config.batch_size, now)
        if batch is None:
            break
        batches.append(batch)
    return BatchTick(batches=batches, requeued_stale=stale)


def active_batch_runs(instance: dg.DagsterInstance) -> int:
    return instance.get_runs_count(dg.RunsFilter(job_name=batch_job.name, statuses=ACTIVE_STATUSES))


@dg.sensor(
    job=batch_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Pops repo batches off the Redis queue and requests one batch_job run per batch.",
)
def batch_sensor(context: dg.SensorEvaluationContext, redis: RedisResource) -> dg.SensorResult:
    config = BatchingSettings.from_env()
    active = active_batch_runs(context.instance)
    tick = form_batches(redis.get_client(), redis.redis_keys, config, active, time.time())
    cursor = json.loads(context.cursor) if context.cursor else {}
    cursor["batches_created"] = cursor.get("batches_created", 0) + len(tick.batches)
    cursor["stale_requeued"] = cursor.get("stale_requeued", 0) + len(tick.requeued_stale)
    if tick.batches:
        cursor["last_batch"] = tick.batches[-1].batch_id
    if tick.requeued_stale:
        context.log.warning(f"re-queued {len(tick.requeued_stale)} stale in-flight repos")
    ids = [batch.batch_id for batch in tick.batches]
    skip = None
    if not ids:
        skip = "run cap reached" if active >= config.max_active_runs else "queue empty"
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=b.batch_id, run_key=b.batch_id, tags={"codelupe/repos": str(len(b.repos))}
            )
            for b in tick.batches
        ],
        dynamic_partitions_requests=[repo_batches.build_add_request(ids)] if ids else [],
        cursor=json.dumps(cursor),
        skip_reason=skip,
    )


defs = dg.Definitions(sensors=[batch_sensor])
