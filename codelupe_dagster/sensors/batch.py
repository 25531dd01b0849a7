"""The batch sensor: turns the Redis queue into `repo_batches` partitions and `batch_job` runs.

Each tick first recovers what dead runs held — runs whose process is gone are settled and marked failed
(`run_liveness`), repos whose lease lapsed go back on the queue, repos whose back-off is over are queued —
then pops at most as many batches as there is room for under the cap on queued and running `batch_job`
runs, so a long queue never floods the run queue. The batch id is both the partition key and the run key,
so a tick that is retried can never start two runs for one batch.

Each tick also keeps `repo_batches` bounded for continuous mode (`stages.retention`, docs/housekeeping.md):
partitions older than the newest KEEP_BATCH_PARTITIONS whose batch is settled (and indexed, when it
succeeded) and that no run is using are deleted through the SensorResult, at most `RETIRE_PER_TICK` a
tick; at a later tick, once such a partition is gone, its Redis batch record is dropped as well.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from codelupe_dagster.assets.index import es_code_index
from codelupe_dagster.backends.repo_queue import BatchInfo, BatchNotFound, RepoQueue
from codelupe_dagster.jobs import batch_job
from codelupe_dagster.partitions import REPO_BATCHES, repo_batches
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.run_liveness import (
    PARTITION_TAG,
    active_runs,
    reap_dead_batch_runs,
    renew_waiting_batches,
)
from codelupe_dagster.stages.retention import RETIRE_PER_TICK, Verdict, abandoned, candidates, select
from codelupe_dagster.stages.settle import RunEnd, settle_run

# Runs that may still read or write their partition: a partition any of them names is never retired.
IN_USE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
_CHUNK = 500  # candidate partitions whose records and materializations are read per round trip


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
        # A millisecond apart, so batch records sort by creation as their partitions do (housekeeping).
        batch = queue.pop_batch(config.batch_size, now + len(batches) / 1000)
        if batch is None:
            break
        batches.append(batch)
    return BatchTick(batches=batches, expired=expired, promoted=promoted)


@dataclass(frozen=True)
class Housekeeping:
    """What one tick retired: partitions to delete, batch records dropped, old partitions kept and why."""

    retired: list[str] = field(default_factory=list)
    records_dropped: list[str] = field(default_factory=list)
    kept: list[Verdict] = field(default_factory=list)


def partitions_in_use(instance: dg.DagsterInstance) -> set[str]:
    """The partitions of every run (of any job: a UI materialization too) not yet finished."""
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=IN_USE))
    return {key for r in records if (key := r.dagster_run.tags.get(PARTITION_TAG))}


def indexed_partitions(instance: dg.DagsterInstance, batch_ids: list[str]) -> set[str]:
    """Those of ``batch_ids`` for which es_code_index was materialized."""
    found: set[str] = set()
    cursor = None
    while batch_ids:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=es_code_index.key, asset_partitions=batch_ids),
            limit=1000,
            cursor=cursor,
        )
        found.update(record.partition_key for record in page.records if record.partition_key)
        if not page.has_more:
            break
        cursor = page.cursor
    return found


def housekeep(
    instance: dg.DagsterInstance,
    queue: RepoQueue,
    keep: int,
    limit: int = RETIRE_PER_TICK,
    now: float | None = None,
) -> Housekeeping:
    """Choose the partitions to retire this tick (`stages.retention`) and drop the batch records of
    partitions retired earlier (older than the newest ``keep`` records, settled, no longer a partition)."""
    now = time.time() if now is None else now
    partitions = instance.get_dynamic_partitions(REPO_BATCHES)
    old = candidates(partitions, keep)
    in_use = partitions_in_use(instance) if old else set()
    retired: list[str] = []
    kept: list[Verdict] = []
    for start in range(0, len(old), _CHUNK):
        chunk = old[start : start + _CHUNK]
        records = queue.batch_records(chunk)
        for batch_id, record in records.items():
            if batch_id not in in_use and abandoned(record, now) and not _holds_leases(queue, batch_id):
                # Popped but never run, its leases long lapsed: settle it as a crash so nothing is left.
                settled = settle_run(queue, batch_id, RunEnd.DIED, "its run never started")
                if settled is not None:
                    records[batch_id] = {**record, "status": "requeued"}
        succeeded = [b for b in chunk if records.get(b, {}).get("status") == "succeeded"]
        indexed = indexed_partitions(instance, succeeded)
        chosen, held = select(chunk, records, indexed, in_use, limit - len(retired))
        retired += chosen
        kept += held
        if len(retired) >= limit:
            break
    present = set(partitions)
    stale = [b for b in queue.old_batches(keep, 2 * limit) if b not in present]
    return Housekeeping(retired=retired, records_dropped=queue.drop_batch_records(stale), kept=kept)


def _holds_leases(queue: RepoQueue, batch_id: str) -> bool:
    try:
        return queue.holds_leases(batch_id)
    except BatchNotFound:
        return False


def _next_cursor(
    raw: str | None, tick: BatchTick, reaped: list[str], housekeeping: Housekeeping | None = None
) -> dict[str, Any]:
    """Running totals kept in the cursor, so the UI shows what the sensor has done over time."""
    cursor = json.loads(raw) if raw else {}
    cursor["batches_created"] = cursor.get("batches_created", 0) + len(tick.batches)
    cursor["leases_expired"] = cursor.get("leases_expired", 0) + len(tick.expired)
    cursor["dead_runs_reaped"] = cursor.get("dead_runs_reaped", 0) + len(reaped)
    if housekeeping is not None:
        retired, dropped = len(housekeeping.retired), len(housekeeping.records_dropped)
        cursor["partitions_retired"] = cursor.get("partitions_retired", 0) + retired
        cursor["batch_records_dropped"] = cursor.get("batch_records_dropped", 0) + dropped
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
    housekeeping = housekeep(context.instance, queue, pipeline.keep_batch_partitions, limit=RETIRE_PER_TICK)
    if housekeeping.retired or housekeeping.records_dropped:
        context.log.info(
            f"retired {len(housekeeping.retired)} repo_batches partitions older than the newest "
            f"{pipeline.keep_batch_partitions} (settled and indexed), dropped "
            f"{len(housekeeping.records_dropped)} batch records of partitions retired earlier"
        )
    ids = [batch.batch_id for batch in tick.batches]
    skip = None
    if not ids:
        skip = "run cap reached" if active >= config.max_active_runs else "queue empty"
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if ids:
        requests.append(repo_batches.build_add_request(ids))
    if housekeeping.retired:
        requests.append(repo_batches.build_delete_request(housekeeping.retired))
    return dg.SensorResult(
        run_requests=_requests(tick),
        dynamic_partitions_requests=requests,
        cursor=json.dumps(_next_cursor(context.cursor, tick, reaped, housekeeping)),
        skip_reason=skip,
    )


defs = dg.Definitions(sensors=[batch_sensor])
