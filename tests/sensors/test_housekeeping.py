"""Partition housekeeping in the batch sensor: a real Dagster instance and a real Valkey/Redis, many
batches, KEEP_BATCH_PARTITIONS small enough that the sensor must retire most of them."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from codelupe_dagster.assets.clone import cloned_repos
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.partitions import REPO_BATCHES, apply_partition_requests
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.sensors import batch as batch_sensors
from codelupe_dagster.sensors.batch import batch_sensor
from codelupe_dagster.stages import retention
from tests.support.ingest_helpers import KEYS, enqueue, ingest_resources
from tests.support.training_docs import stdlib_docs

KEEP = 20


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def resources_for(data_dir, redis_url, keep: int = KEEP) -> dict:
    resources = ingest_resources(data_dir, redis_url)
    resources["pipeline"] = PipelineResource(
        data_dir=str(data_dir), batch_size=1, batch_max_active_runs=100, keep_batch_partitions=keep
    )
    return resources


def tick(instance, resources, cursor=None) -> dg.SensorResult:
    """One tick, its partition requests applied to the instance as the sensor daemon applies them."""
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"redis": resources["redis"], "pipeline": resources["pipeline"]},
    )
    result = batch_sensor(context)
    apply_partition_requests(instance, list(result.dynamic_partitions_requests or []))
    return result


def materialize_index(instance, batch_id: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization("es_code_index", partition=batch_id))


def test_old_settled_partitions_are_retired_and_the_rest_survive(
    instance, data_dir, redis_url, redis_client, monkeypatch
):
    """66 batches, KEEP=20, 15 retired per tick: the oldest settled and indexed go, a few ticks later
    the partitions are the newest 20 plus the old ones still needed; the index is untouched."""
    monkeypatch.setattr(batch_sensors, "RETIRE_PER_TICK", 15)
    resources = resources_for(data_dir, redis_url)
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    docs = stdlib_docs(["json", "email"], per_package=4)
    index.bulk_upsert(docs)
    before = index.get([d["id"] for d in docs])

    enqueue(redis_client, [(RepoRecord(f"o/r{i:02d}", clone_url=""), float(100 - i)) for i in range(66)])
    first = tick(instance, resources)
    batches = [request.partition_key for request in first.run_requests]
    assert len(batches) == 66
    assert list(instance.get_dynamic_partitions(REPO_BATCHES)) == batches  # oldest first
    queue = resources["redis"].queue()

    unsettled, not_indexed, rerunning, in_flight = batches[0], batches[1], batches[2], batches[3:5]
    failed = batches[5:10]
    for batch_id in failed:  # failed or canceled: repos re-queued, nothing to index
        queue.settle(batch_id, succeeded=False, reason="run failed")
    queue.settle(not_indexed, succeeded=True, reason="")
    for batch_id in [rerunning, *batches[10:]]:
        queue.settle(batch_id, succeeded=True, reason="")
        materialize_index(instance, batch_id)
    # An operator re-executes an old, settled partition: its run is created, not yet started.
    job = dg.Definitions(
        assets=[cloned_repos],
        jobs=[dg.define_asset_job("batch_job", selection=["cloned_repos"])],
        resources=resources,
    ).resolve_job_def("batch_job")
    instance.create_run_for_job(
        job_def=job, tags={"dagster/partition": rerunning}, status=dg.DagsterRunStatus.NOT_STARTED
    )

    cursor = first.cursor
    retired_per_tick = []
    for _ in range(5):
        result = tick(instance, resources, cursor)
        cursor = result.cursor
        deletes = [
            r for r in result.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        ]
        retired_per_tick.append(sum(len(r.partition_keys) for r in deletes))

    # Candidates are the 46 oldest; 5 of them are still needed, so 41 go, 15 a tick at most.
    assert retired_per_tick == [15, 15, 11, 0, 0]
    kept_old = [unsettled, not_indexed, rerunning, *in_flight]
    assert list(instance.get_dynamic_partitions(REPO_BATCHES)) == [*kept_old, *batches[-KEEP:]]
    totals = json.loads(cursor)
    assert totals["partitions_retired"] == 41

    # The records of retired batches left Redis a tick after their partitions; the rest are there.
    retired = set(batches[5:46])
    assert totals["batch_records_dropped"] == 41
    assert {m.decode() for m in redis_client.zrange(KEYS.batches, 0, -1)} == set(batches) - retired
    assert all(redis_client.get(KEYS.batch(b)) is None for b in retired)
    assert all(redis_client.get(KEYS.batch(b)) is not None for b in set(batches) - retired)
    assert index.get([d["id"] for d in docs]) == before and index.count() == len(docs)


def test_retirement_waits_for_settling_and_indexing(instance, data_dir, redis_url, redis_client):
    """A batch beyond KEEP is retired at the first tick after it is both settled and indexed."""
    resources = resources_for(data_dir, redis_url, keep=1)
    enqueue(redis_client, [(RepoRecord(f"o/r{i}", clone_url=""), float(10 - i)) for i in range(2)])
    first = tick(instance, resources)
    old, new = (request.partition_key for request in first.run_requests)
    queue = resources["redis"].queue()

    assert json.loads(tick(instance, resources, first.cursor).cursor)["partitions_retired"] == 0
    queue.settle(old, succeeded=True, reason="")
    assert json.loads(tick(instance, resources, first.cursor).cursor)["partitions_retired"] == 0
    materialize_index(instance, old)
    done = tick(instance, resources, first.cursor)
    assert json.loads(done.cursor)["partitions_retired"] == 1
    assert list(instance.get_dynamic_partitions(REPO_BATCHES)) == [new]
    assert done.skip_reason.skip_message == "queue empty"  # retiring requests no run


def test_an_abandoned_batch_is_settled_then_retired(instance, data_dir, redis_url, redis_client):
    """Popped, its run never created, its leases lapsed a day ago: settled as a crash, then retired."""
    resources = resources_for(data_dir, redis_url, keep=1)
    enqueue(redis_client, [(RepoRecord(f"o/r{i}", clone_url=""), float(10 - i)) for i in range(2)])
    first = tick(instance, resources)
    old, _ = (request.partition_key for request in first.run_requests)
    record = json.loads(redis_client.get(KEYS.batch(old)))
    record["created"] -= retention.ABANDONED_AFTER_S + 60
    redis_client.set(KEYS.batch(old), json.dumps(record))
    assert json.loads(tick(instance, resources, first.cursor).cursor)["partitions_retired"] == 0  # leased

    redis_client.zadd(KEYS.leases, {"o/r0": 1.0})  # its lease lapsed long ago
    result = tick(instance, resources, first.cursor)
    assert json.loads(result.cursor)["partitions_retired"] == 1
    assert old not in instance.get_dynamic_partitions(REPO_BATCHES)
    # Its repo went back to the queue (a crash) and the same tick popped it into a new batch.
    assert (
        json.loads(redis_client.hget(KEYS.inflight, "o/r0"))["batch"] == result.run_requests[0].partition_key
    )
    assert json.loads(redis_client.get(KEYS.batch(old)))["status"] == "requeued"
    assert json.loads(redis_client.hget(KEYS.attempts, "o/r0"))["crashes"] == 1


def test_a_retired_partition_cannot_be_run_again(instance, data_dir, redis_url, redis_client):
    """Re-executing a retired partition fails before any step, naming the partition."""
    resources = resources_for(data_dir, redis_url, keep=1)
    enqueue(redis_client, [(RepoRecord(f"o/r{i}", clone_url=""), float(10 - i)) for i in range(2)])
    first = tick(instance, resources)
    old = first.run_requests[0].partition_key
    resources["redis"].queue().settle(old, succeeded=False, reason="failed")
    tick(instance, resources, first.cursor)
    assert old not in instance.get_dynamic_partitions(REPO_BATCHES)
    job = dg.Definitions(
        assets=[cloned_repos],
        jobs=[dg.define_asset_job("batch_job", selection=["cloned_repos"])],
        resources=resources,
    ).resolve_job_def("batch_job")
    with pytest.raises(Exception, match=old):
        job.execute_in_process(instance=instance, partition_key=old)


@pytest.mark.slow
def test_codelupe_run_retires_partitions_through_the_same_sensor(
    data_dir, redis_url, redis_client, source_dir
):
    """`run_pipeline` (the code behind `codelupe run`) ticks the batch sensor itself: with one batch at a
    time and KEEP=1, the three batches of the local source end as one partition, all three indexed."""
    from rich.console import Console

    from codelupe_dagster.cli.batch_loop import run_pipeline
    from tests.cli.test_run import pipeline_defs

    defs = pipeline_defs(data_dir, redis_url, batch_size=1)
    resources = dict(defs.resources)
    resources["pipeline"] = PipelineResource(
        data_dir=str(data_dir), batch_size=1, batch_max_active_runs=1, keep_batch_partitions=1
    )
    defs = dg.Definitions(
        assets=list(defs.assets or []),
        asset_checks=list(defs.asset_checks or []),
        jobs=list(defs.jobs or []),
        sensors=list(defs.sensors or []),
        schedules=list(defs.schedules or []),
        resources=resources,
    )
    with dg.instance_for_test() as instance, open("/dev/null", "w") as sink:
        summary = run_pipeline(defs, instance, str(source_dir), train=False, console=Console(file=sink))
        assert summary.batches_succeeded == 3
        assert len(instance.get_dynamic_partitions(REPO_BATCHES)) == 1
    assert SearchIndexResource(data_dir=str(data_dir)).code_index().count() > 0
