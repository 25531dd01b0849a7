from __future__ import annotations

import json
import subprocess
import sys
import time

import dagster as dg
import pytest

from codelupe_dagster.assets.clone import cloned_repos
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.run_liveness import PID_START_TAG, PID_TAG, process_tags
from codelupe_dagster.schedules import build_crawl_schedule, cron_for_interval
from codelupe_dagster.sensors.batch import batch_sensor
from codelupe_dagster.sensors.run_status import (
    batch_canceled_sensor,
    batch_failed_sensor,
    batch_succeeded_sensor,
)
from tests.support.ingest_helpers import KEYS, enqueue, ingest_resources

# The per-batch job restricted to this stage's asset, so these tests do not depend on later stages.
clone_only_job = dg.define_asset_job("batch_job", selection=["cloned_repos"])


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def batching_resources(data_dir, redis_url, *, batch_size: int, max_active_runs: int) -> dict:
    """The ingest resources with BATCH_SIZE and BATCH_MAX_ACTIVE_RUNS set on the pipeline resource."""
    resources = ingest_resources(data_dir, redis_url)
    resources["pipeline"] = PipelineResource(
        data_dir=str(data_dir), batch_size=batch_size, batch_max_active_runs=max_active_runs
    )
    return resources


def tick(instance, resources, cursor=None):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"redis": resources["redis"], "pipeline": resources["pipeline"]},
    )
    return batch_sensor(context)


def records(n: int, url: str = "https://github.com/o/{}.git") -> list[tuple[RepoRecord, float]]:
    return [(RepoRecord(f"o/r{i}", clone_url=url.format(f"r{i}")), float(i)) for i in range(n)]


def test_batches_are_formed_in_priority_order_with_run_keys(
    instance, data_dir, redis_url, redis_client, monkeypatch
):
    enqueue(redis_client, records(7))
    result = tick(instance, batching_resources(data_dir, redis_url, batch_size=3, max_active_runs=2))

    assert len(result.run_requests) == 2
    batch_ids = [request.partition_key for request in result.run_requests]
    assert [request.run_key for request in result.run_requests] == batch_ids
    first, second = (json.loads(redis_client.get(KEYS.batch(b)))["repos"] for b in batch_ids)
    assert first == ["o/r6", "o/r5", "o/r4"] and second == ["o/r3", "o/r2", "o/r1"]
    assert result.dynamic_partitions_requests[0].partition_keys == batch_ids
    assert redis_client.zrange(KEYS.repos, 0, -1) == [b"o/r0"]
    assert json.loads(result.cursor)["batches_created"] == 2


def test_run_cap_counts_queued_runs_and_no_duplicate_batches(
    instance, data_dir, redis_url, redis_client, monkeypatch
):
    enqueue(redis_client, records(4))
    resources = batching_resources(data_dir, redis_url, batch_size=2, max_active_runs=1)
    first = tick(instance, resources)
    assert len(first.run_requests) == 1
    # Create the requested run as the daemon would, before a run worker starts it.
    job = dg.Definitions(assets=[cloned_repos], jobs=[clone_only_job], resources=resources).resolve_job_def(
        "batch_job"
    )
    instance.add_dynamic_partitions("repo_batches", [first.run_requests[0].partition_key])
    instance.create_run_for_job(
        job_def=job,
        tags={"dagster/partition": first.run_requests[0].partition_key},
        status=dg.DagsterRunStatus.NOT_STARTED,
    )
    capped = tick(instance, resources, cursor=first.cursor)
    assert capped.run_requests == []
    assert capped.skip_reason.skip_message == "run cap reached"
    assert redis_client.zcard(KEYS.repos) == 2  # nothing popped while capped


def test_empty_queue_skips(instance, data_dir, redis_url):
    result = tick(instance, ingest_resources(data_dir, redis_url))
    assert result.run_requests == [] and result.skip_reason.skip_message == "queue empty"


def test_lapsed_leases_are_requeued_by_the_next_tick(
    instance, data_dir, redis_url, redis_client, monkeypatch
):
    enqueue(redis_client, records(2))
    resources = batching_resources(data_dir, redis_url, batch_size=5, max_active_runs=1)
    first = tick(instance, resources)
    # The run died without a status event: its heartbeat stopped, so its leases lapse.
    redis_client.zadd(
        KEYS.leases, {repo: time.time() - 1 for repo in redis_client.zrange(KEYS.leases, 0, -1)}
    )
    second = tick(instance, resources, cursor=first.cursor)
    assert json.loads(second.cursor)["leases_expired"] == 2
    assert len(second.run_requests) == 1
    assert second.run_requests[0].partition_key != first.run_requests[0].partition_key
    repos = json.loads(redis_client.get(KEYS.batch(second.run_requests[0].partition_key)))["repos"]
    assert repos == ["o/r1", "o/r0"]  # back in their original priority order


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_a_run_whose_process_died_is_failed_and_frees_its_slot(
    instance, data_dir, redis_url, redis_client, monkeypatch
):
    """`codelupe run` killed mid-batch leaves its run STARTED: the next tick closes it and re-queues."""
    enqueue(redis_client, records(2))
    resources = batching_resources(data_dir, redis_url, batch_size=2, max_active_runs=1)
    first = tick(instance, resources)
    batch_id = first.run_requests[0].partition_key
    job = dg.Definitions(assets=[cloned_repos], jobs=[clone_only_job], resources=resources).resolve_job_def(
        "batch_job"
    )
    instance.add_dynamic_partitions("repo_batches", [batch_id])
    tags = {**process_tags(), "dagster/partition": batch_id, PID_TAG: str(_dead_pid()), PID_START_TAG: ""}
    run = instance.create_run_for_job(job_def=job, tags=tags, status=dg.DagsterRunStatus.STARTED)

    second = tick(instance, resources, cursor=first.cursor)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert json.loads(second.cursor)["dead_runs_reaped"] == 1
    # Its slot is free again and its repos were returned (a crash, not an attempt): a new batch holds them.
    assert len(second.run_requests) == 1
    assert json.loads(redis_client.get(KEYS.batch(second.run_requests[0].partition_key)))["repos"] == [
        "o/r1",
        "o/r0",
    ]
    assert json.loads(redis_client.hget(KEYS.attempts, "o/r1"))["crashes"] == 1


def test_a_live_runs_process_is_left_alone(instance, data_dir, redis_url, redis_client):
    resources = ingest_resources(data_dir, redis_url)
    job = dg.Definitions(assets=[cloned_repos], jobs=[clone_only_job], resources=resources).resolve_job_def(
        "batch_job"
    )
    run = instance.create_run_for_job(job_def=job, tags=process_tags(), status=dg.DagsterRunStatus.STARTED)
    tick(instance, resources)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED


def _run_batch(instance, resources, batch_id):
    instance.add_dynamic_partitions("repo_batches", [batch_id])
    job = dg.Definitions(assets=[cloned_repos], jobs=[clone_only_job], resources=resources).resolve_job_def(
        "batch_job"
    )
    return job.execute_in_process(instance=instance, partition_key=batch_id, raise_on_error=False)


def _status_context(instance, resources, result, event):
    return dg.build_run_status_sensor_context(
        sensor_name="status",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"redis": resources["redis"]},
    )


def test_failed_run_requeues_and_successful_run_acks(
    instance, data_dir, redis_url, redis_client, served_repos
):
    resources = ingest_resources(data_dir, redis_url)
    # A batch whose only repo cannot be reached: the run succeeds, the repo fails alone and backs off.
    enqueue(redis_client, [(RepoRecord("o/gone", clone_url=served_repos.server.repo_url("o/gone.git")), 5.0)])
    alone = tick(instance, resources).run_requests[0].partition_key
    result = _run_batch(instance, resources, alone)
    assert result.success
    batch_succeeded_sensor(_status_context(instance, resources, result, result.get_run_success_event()))
    history = json.loads(redis_client.hget(KEYS.attempts, "o/gone"))
    assert history["attempts"] == 1 and "not_found" in history["reason"]
    assert redis_client.zscore(KEYS.delayed, "o/gone") is not None
    assert redis_client.hlen(KEYS.inflight) == 0
    redis_client.delete(KEYS.delayed, KEYS.attempts)

    # A run that fails as a whole (its hand-off directory cannot be written): every repo counts an attempt.
    url, _ = served_repos.add("o/csv", "email")
    enqueue(redis_client, [(RepoRecord("o/csv", clone_url=url), 4.0)])
    failing = tick(instance, resources).run_requests[0].partition_key
    blocker = data_dir / "batches" / failing
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")
    result = _run_batch(instance, resources, failing)
    blocker.unlink()
    assert not result.success
    batch_failed_sensor(_status_context(instance, resources, result, result.get_run_failure_event()))
    assert json.loads(redis_client.hget(KEYS.attempts, "o/csv"))["attempts"] == 1
    assert redis_client.zscore(KEYS.delayed, "o/csv") is not None and redis_client.hlen(KEYS.inflight) == 0
    redis_client.delete(KEYS.delayed, KEYS.attempts)

    url, _ = served_repos.add("o/json", "json")
    enqueue(redis_client, [(RepoRecord("o/json", clone_url=url), 3.0)])
    passing = tick(instance, resources).run_requests[0].partition_key
    result = _run_batch(instance, resources, passing)
    assert result.success
    batch_succeeded_sensor(_status_context(instance, resources, result, result.get_run_success_event()))
    assert redis_client.hlen(KEYS.inflight) == 0 and redis_client.zcard(KEYS.repos) == 0
    assert json.loads(redis_client.get(KEYS.batch(passing)))["status"] == "succeeded"


def test_canceled_run_requeues(instance, data_dir, redis_url, redis_client, served_repos):
    resources = ingest_resources(data_dir, redis_url)
    url, _ = served_repos.add("o/html", "html")
    enqueue(redis_client, [(RepoRecord("o/html", clone_url=url), 2.5)])
    batch_id = tick(instance, resources).run_requests[0].partition_key
    result = _run_batch(instance, resources, batch_id)
    # Reuse the finished run's record but report it as canceled, as the daemon would for a canceled run.
    canceled_run = result.dagster_run.with_status(dg.DagsterRunStatus.CANCELED)
    context = dg.build_run_status_sensor_context(
        sensor_name="status",
        dagster_event=result.get_run_success_event(),
        dagster_instance=instance,
        dagster_run=canceled_run,
        resources={"redis": resources["redis"]},
    )
    batch_canceled_sensor(context)
    assert redis_client.zscore(KEYS.repos, "o/html") == 2.5
    assert "canceled" in json.loads(redis_client.get(KEYS.batch(batch_id)))["reason"]


@pytest.mark.parametrize(
    ("seconds", "cron"),
    [
        (60, "* * * * *"),
        (300, "*/5 * * * *"),
        (3600, "0 * * * *"),
        (7200, "0 */2 * * *"),
        (86400, "0 0 * * *"),
    ],
)
def test_cron_for_interval(seconds, cron):
    assert cron_for_interval(seconds) == cron


@pytest.mark.parametrize(
    ("mode", "status"),
    [("continuous", dg.DefaultScheduleStatus.RUNNING), ("once", dg.DefaultScheduleStatus.STOPPED)],
)
def test_crawl_schedule_runs_only_in_continuous_mode(monkeypatch, mode, status):
    monkeypatch.setenv("CRAWLER_MODE", mode)
    monkeypatch.setenv("SYNC_INTERVAL", "1800")
    schedule = build_crawl_schedule()  # the code location's: from the environment
    assert schedule.default_status == status
    assert schedule.cron_schedule == "*/30 * * * *"
    pipeline = PipelineResource(crawler_mode=mode)
    outcome = schedule(dg.build_schedule_context(resources={"pipeline": pipeline}))
    assert isinstance(outcome, dg.RunRequest if mode == "continuous" else dg.SkipReason)


def test_crawl_schedule_checks_the_mode_again_at_each_tick():
    """A schedule left running after the mode went back to 'once' crawls nothing."""
    schedule = build_crawl_schedule(PipelineResource(crawler_mode="continuous", sync_interval=300))
    assert schedule.cron_schedule == "*/5 * * * *"
    once = PipelineResource(crawler_mode="once")
    assert isinstance(schedule(dg.build_schedule_context(resources={"pipeline": once})), dg.SkipReason)


def test_a_daemon_run_that_stopped_heartbeating_frees_its_slot(
    instance, data_dir, redis_url, redis_client, monkeypatch
):
    """`dagster dev`'s default launcher reports no worker health: a batch run whose leases all lapsed and
    whose event log went silent is failed by the sensor; one whose batch still holds leases is not."""
    enqueue(redis_client, records(2))
    resources = batching_resources(data_dir, redis_url, batch_size=1, max_active_runs=2)
    resources["redis"] = RedisResource(url=redis_url, data_dir=str(data_dir), lease_ttl_s=1.0)
    first = tick(instance, resources)
    dead_batch, live_batch = (request.partition_key for request in first.run_requests)
    job = dg.Definitions(assets=[cloned_repos], jobs=[clone_only_job], resources=resources).resolve_job_def(
        "batch_job"
    )
    instance.add_dynamic_partitions("repo_batches", [dead_batch, live_batch])
    dead, live = (
        instance.create_run_for_job(
            job_def=job, tags={"dagster/partition": batch}, status=dg.DagsterRunStatus.STARTED
        )
        for batch in (dead_batch, live_batch)
    )
    dead_repo = json.loads(redis_client.get(KEYS.batch(dead_batch)))["repos"][0]
    live_repo = json.loads(redis_client.get(KEYS.batch(live_batch)))["repos"][0]
    redis_client.zadd(KEYS.leases, {dead_repo: time.time() - 1})  # its heartbeat stopped
    redis_client.zadd(KEYS.leases, {live_repo: time.time() + 60})  # this one still beats
    time.sleep(1.5)  # both event logs fall silent for longer than a lease lives
    second = tick(instance, resources, cursor=first.cursor)
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
    assert json.loads(second.cursor)["dead_runs_reaped"] == 1
    assert [r.partition_key for r in second.run_requests] != []  # the freed slot takes the returned repo
