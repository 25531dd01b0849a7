"""The batch sensor: turns the Redis queue into `repo_batches` partitions and `batch_job` runs.

Each tick first recovers what dead runs held — runs whose process is gone are settled and marked failed
(`run_liveness`), repos whose lease lapsed go back on the queue, repos whose back-off is over are queued —
then pops at most as many batches as there is room for under the cap on queued and running `batch_job`
runs, so a long queue never floods the run queue. The batch id is both the partition key and the run key,
so a tick that is retried can never start two runs for one batch.
"""

import contextlib
import json
import time
from dataclasses import dataclass, field

import dagster as dg
import redis

from codelupe_dagster import settings
from codelupe_dagster.assets.jobs import batch_job
from codelupe_dagster.backends.repo_queue import (
    CRASH,
    BatchInfo,
    BatchNotFound,
    RetryPolicy,
    batch_holds_leases,
    expire_leases,
    pop_batch,
    promote_due,
    renew_leases,
    settle_batch,
)
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.run_liveness import find_silent_batch_runs, reap_dead_runs

ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


WAITING_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


@dataclass(frozen=True)
class BatchingSettings:
    """Read from the environment at tick time: BATCH_SIZE, BATCH_MAX_ACTIVE_RUNS."""

    batch_size: int
    max_active_runs: int

    @classmethod
    def from_env(cls) -> "BatchingSettings":
        return cls(
            batch_size=settings.env_int("BATCH_SIZE", 16),
            max_active_runs=settings.env_int("BATCH_MAX_ACTIVE_RUNS", 4),
        )


@dataclass(frozen=True)
class BatchTick:
    batches: list[BatchInfo]
    expired: dict[str, str] = field(default_factory=dict)  # repo -> 'queued' | 'dead'
    promoted: list[str] = field(default_factory=list)


def form_batches(
    client: redis.Redis,
    keys: RedisKeys,
    config: BatchingSettings,
    policy: RetryPolicy,
    active_runs: int,
    now: float,
) -> BatchTick:
    """Return lapsed leases and finished back-offs to the queue, then pop one batch per free run slot."""
    expired = expire_leases(client, keys, policy, now)
    promoted = promote_due(client, keys, now)
    batches: list[BatchInfo] = []
    for _ in range(max(0, config.max_active_runs - active_runs)):
        batch = pop_batch(client, keys, config.batch_size, now, lease_ttl_s=policy.lease_ttl_s)
        if batch is None:
            break
        batches.append(batch)
    return BatchTick(batches=batches, expired=expired, promoted=promoted)


def active_batch_runs(instance: dg.DagsterInstance) -> int:
    return instance.get_runs_count(dg.RunsFilter(job_name=batch_job.name, statuses=ACTIVE_STATUSES))


def renew_waiting_batches(instance: dg.DagsterInstance, redis: RedisResource) -> int:
    """Keep the leases of batch runs that wait in the run queue: nobody else heartbeats for them until
    their first step starts, and a long queue must not hand their repos to a second batch."""
    waiting = instance.get_run_records(
        filters=dg.RunsFilter(job_name=batch_job.name, statuses=WAITING_STATUSES), limit=1000
    )
    client, keys, ttl = redis.get_client(), redis.redis_keys, redis.retry_policy().lease_ttl_s
    renewed = 0
    for record in waiting:
        batch_id = record.dagster_run.tags.get("dagster/partition")
        if batch_id:
            with contextlib.suppress(BatchNotFound):
                renewed += renew_leases(client, keys, batch_id, ttl)
    return renewed


def reap_dead_batch_runs(instance: dg.DagsterInstance, redis: RedisResource) -> list[str]:
    """Mark runs whose process died failed, their repos returned as crashes; the run ids reaped."""
    client, keys, policy = redis.get_client(), redis.redis_keys, redis.retry_policy()

    def settle(batch_id: str, reason: str) -> None:
        # Without a batch record there is nothing to return: only the run record needs closing.
        with contextlib.suppress(BatchNotFound):
            settle_batch(client, keys, batch_id, policy, succeeded=False, reason=reason, kind=CRASH)

    def holds_leases(batch_id: str) -> bool:
        try:
            return batch_holds_leases(client, keys, batch_id)
        except BatchNotFound:
            return False

    silent = find_silent_batch_runs(instance, batch_job.name, holds_leases, policy.lease_ttl_s)
    return [dead.run_id for dead in reap_dead_runs(instance, settle, silent)]


@dg.sensor(
    job=batch_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Pops repo batches off the Redis queue and requests one batch_job run per batch.",
)
def batch_sensor(context: dg.SensorEvaluationContext, redis: RedisResource) -> dg.SensorResult:
    config = BatchingSettings.from_env()
    reaped = reap_dead_batch_runs(context.instance, redis)
    renew_waiting_batches(context.instance, redis)
    active = active_batch_runs(context.instance)
    tick = form_batches(
        redis.get_client(), redis.redis_keys, config, redis.retry_policy(), active, time.time()
    )
    cursor = json.loads(context.cursor) if context.cursor else {}
    cursor["batches_created"] = cursor.get("batches_created", 0) + len(tick.batches)
    cursor["leases_expired"] = cursor.get("leases_expired", 0) + len(tick.expired)
    cursor["dead_runs_reaped"] = cursor.get("dead_runs_reaped", 0) + len(reaped)
    if tick.batches:
        cursor["last_batch"] = tick.batches[-1].batch_id
    if reaped:
        context.log.warning(f"marked {len(reaped)} runs whose process died as failed: {reaped}")
    if tick.expired:
        context.log.warning(
            f"{len(tick.expired)} leases lapsed (their run died); repos returned: {tick.expired}"
        )
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
