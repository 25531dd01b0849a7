"""The batch sensor: turns the Redis queue into `repo_batches` partitions and `batch_job` runs.

Each tick first recovers what dead runs held — runs whose process is gone are settled and marked failed
(`run_liveness`), repos whose lease lapsed go back on the queue, repos whose back-off is over are queued —
then pops at most as many batches as there is room for under the cap on queued and running `batch_job`
runs, so a long queue never floods the run queue. The batch id is both the partition key and the run key,
so a tick that is retried can never start two runs for one batch.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from codelupe_dagster.backends.repo_queue import BatchInfo, RepoQueue
from codelupe_dagster.jobs import batch_job
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.run_liveness import active_runs, reap_dead_batch_runs, renew_waiting_batches


@dataclass(frozen=True)
class BatchingSettings:
    """BATCH_SIZE and BATCH_MAX_ACTIVE_RUNS, from the pipeline resource."""

    batch_size: int
    max_active_runs: int

    @classmethod
    def from_pipeline(cls, pipeline: PipelineResource) -> "BatchingSettings":
        return cls(batch_size=pipeline.batch_size, max_active_runs=pipeline.batch_max_active_runs)


@dataclass(frozen=True)
class BatchTick:
    batches: list[BatchInfo]
    expired: dict[str, str] = field(default_factory=dict)  # repo -> 'queued' | 'dead'
    promoted: list[str] = field(default_factory=list)


def form_batches(queue: RepoQueue, config: BatchingSettings, active_runs: int, now: float) -> BatchTick:
    """Return lapsed leases and finished back-offs to the queue, then pop one batch per free run slot."""
    expired = queue.expire_leases(now)
    promoted = queue.promote_due(now)
    batches: list[BatchInfo] = []
    for _ in range(max(0, config.max_active_runs - active_runs)):
        batch = queue.pop_batch(config.batch_size, now)
        if batch is None:
            break
        batches.append(batch)
    return BatchTick(batches=batches, expired=expired, promoted=promoted)


def _next_cursor(raw: str | None, tick: BatchTick, reaped: list[str]) -> dict[str, Any]:
    """Running totals kept in the cursor, so the UI shows what the sensor has done over time."""
    cursor = json.loads(raw) if raw else {}
    cursor["batches_created"] = cursor.get("batches_created", 0) + len(tick.batches)
    cursor["leases_expired"] = cursor.get("leases_expired", 0) + len(tick.expired)
    cursor["dead_runs_reaped"] = cursor.get("dead_runs_reaped", 0) + len(reaped)
    if tick.batches:
        cursor["last_batch"] = tick.batches[-1].batch_id
    return cursor


def _requests(tick: BatchTick) -> list[dg.RunRequest]:
    return [
        dg.RunRequest(
            partition_key=b.batch_id, run_key=b.batch_id, tags={"codelupe/repos": str(len(b.repos))}
        )
        for b in tick.batches
    ]


@dg.sensor(
    job=batch_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Pops repo batches off the Redis queue and requests one batch_job run per batch.",
)
def batch_sensor(
    context: dg.SensorEvaluationContext, redis: RedisResource, pipeline: PipelineResource
) -> dg.SensorResult:
    config = BatchingSettings.from_pipeline(pipeline)
    queue = redis.queue()
    reaped = reap_dead_batch_runs(context.instance, queue, batch_job.name)
    renew_waiting_batches(context.instance, queue, batch_job.name)
    active = active_runs(context.instance, batch_job.name)
    tick = form_batches(queue, config, active, time.time())
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
        run_requests=_requests(tick),
        dynamic_partitions_requests=[repo_batches.build_add_request(ids)] if ids else [],
        cursor=json.dumps(_next_cursor(context.cursor, tick, reaped)),
        skip_reason=skip,
    )


defs = dg.Definitions(sensors=[batch_sensor])
