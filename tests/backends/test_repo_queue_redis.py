"""`RedisRepoQueue`'s layout in Redis: what operators and the old monitoring see under each key, and the
edge cases only raw state can produce (entries written before leases existed, metadata lost, a priority
changed while a repo was in flight, a cluster hash tag). The behaviour every `RepoQueue` must have is the
contract suite in `tests/backends/test_repo_queue_contract.py`."""

from __future__ import annotations

import json

import pytest

from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.backends.repo_queue import REQUEUE, RetryPolicy, new_batch_id
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord

KEYS = RedisKeys("pipeline:")
NOW = 1_800_000_000.0


def enqueue(client, priorities: dict[str, float]) -> None:
    client.zadd(KEYS.repos, priorities)
    for name in priorities:
        record = RepoRecord(name, clone_url=f"https://github.com/{name}.git", stars=int(priorities[name]))
        client.hset(KEYS.repo_meta, name, json.dumps(record.to_doc()))


def queued(client) -> dict[str, float]:
    return {k.decode(): v for k, v in client.zrange(KEYS.repos, 0, -1, withscores=True)}


def test_batch_ids_sort_by_time_and_are_unique():
    ids = [new_batch_id(NOW + i) for i in range(3)]
    assert ids == sorted(ids)
    assert new_batch_id(NOW) != new_batch_id(NOW)
    assert ids[0].startswith("b20270115T")


def test_pop_writes_inflight_entries_leases_and_the_batch_record(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS, RetryPolicy(lease_ttl_s=60))
    enqueue(redis_client, {"a/low": 1.0, "a/high": 9.5, "a/mid": 5.25})
    batch = queue.pop_batch(2, now=NOW)
    inflight = {k.decode(): json.loads(v) for k, v in redis_client.hgetall(KEYS.inflight).items()}
    assert set(inflight) == {"a/high", "a/mid"}
    assert inflight["a/high"]["batch"] == batch.batch_id
    assert inflight["a/high"]["since"] == pytest.approx(NOW)
    assert redis_client.zscore(KEYS.leases, "a/high") == pytest.approx(NOW + 60)
    record = json.loads(redis_client.get(KEYS.batch(batch.batch_id)))
    assert record["repos"] == ["a/high", "a/mid"]
    assert redis_client.zscore(KEYS.batches, batch.batch_id) == pytest.approx(NOW)


def test_requeue_keeps_a_newer_priority_of_a_reenqueued_repo(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS)
    enqueue(redis_client, {"a/x": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    redis_client.zadd(KEYS.repos, {"a/x": 7.0})  # queued_repos saw a new commit meanwhile
    queue.settle(batch.batch_id, succeeded=False, reason="failed", kind=REQUEUE)
    assert queued(redis_client) == {"a/x": 7.0}


def test_a_crash_is_recorded_without_back_off(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS, RetryPolicy(lease_ttl_s=60, backoff_s=30))
    enqueue(redis_client, {"a/old": 4.0})
    queue.pop_batch(1, now=NOW)
    assert queue.expire_leases(now=NOW + 61) == {"a/old": "queued"}
    # Counted as a crash, with no back-off: a kill from outside says nothing about the repo.
    history = json.loads(redis_client.hget(KEYS.attempts, "a/old"))
    assert (history["attempts"], history["crashes"]) == (0, 1)
    assert redis_client.zcard(KEYS.delayed) == 0 and redis_client.zcard(KEYS.leases) == 0


def test_success_clears_the_failure_history(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS, RetryPolicy(max_attempts=3, backoff_s=0))
    enqueue(redis_client, {"a/x": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=False, reason="run failed")
    assert json.loads(redis_client.hget(KEYS.attempts, "a/x"))["attempts"] == 1
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=True, reason="")
    assert redis_client.hget(KEYS.attempts, "a/x") is None


def test_retry_forgets_the_history_of_a_parked_repo(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS, RetryPolicy(max_attempts=1))
    enqueue(redis_client, {"a/x": 6.0})
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=False, reason="boom", kind="attempt")
    assert redis_client.hlen(KEYS.dead) == 1
    assert queue.retry_dead() == ["a/x"]
    assert redis_client.hlen(KEYS.dead) == 0 and redis_client.hget(KEYS.attempts, "a/x") is None


def test_inflight_entries_without_a_lease_expire_too(redis_client):
    """State written before leases existed must not strand a repo."""
    queue = RedisRepoQueue(redis_client, KEYS, RetryPolicy(lease_ttl_s=60))
    redis_client.hset(
        KEYS.inflight, "a/legacy", json.dumps({"batch": "b-old", "since": NOW, "priority": "3"})
    )
    assert queue.expire_leases(now=NOW + 30) == {}
    assert queue.expire_leases(now=NOW + 61) == {"a/legacy": "queued"}
    assert queued(redis_client) == {"a/legacy": 3.0}


def test_missing_metadata_yields_record_without_url(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS)
    redis_client.zadd(KEYS.repos, {"a/orphan": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    assert queue.batch_repos(batch.batch_id) == [RepoRecord("a/orphan", clone_url="")]


def test_enqueue_writes_metadata_and_skips_repos_processed_at_their_head(redis_client):
    queue = RedisRepoQueue(redis_client, KEYS)
    redis_client.hset(KEYS.processed_repos, "a/done", "abc")
    report = queue.enqueue(
        [
            (RepoRecord("a/done", clone_url="u", head="abc"), 1.0),
            (RepoRecord("a/moved", clone_url="u", head="def"), 2.0),
        ]
    )
    assert report.enqueued == ["a/moved"] and report.skipped == {"unchanged": 1}
    assert json.loads(redis_client.hget(KEYS.repo_meta, "a/moved"))["head"] == "def"


def test_hash_tagged_prefix_works(redis_client):
    keys = RedisKeys("{pipeline}:")
    queue = RedisRepoQueue(redis_client, keys)
    redis_client.zadd(keys.repos, {"a/x": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    assert batch.repos == ("a/x",)
    assert redis_client.exists(keys.batch(batch.batch_id))


def test_old_batches_and_dropping_only_settled_records(redis_client):
    """Housekeeping's view of batch records: the oldest beyond the newest `keep`; only settled ones go."""
    queue = RedisRepoQueue(redis_client, KEYS)
    enqueue(redis_client, {f"a/r{i}": float(10 - i) for i in range(4)})
    ids = [queue.pop_batch(1, now=NOW + i).batch_id for i in range(4)]
    assert queue.old_batches(keep=1, limit=10) == ids[:3]
    assert queue.old_batches(keep=1, limit=2) == ids[:2] and queue.old_batches(keep=4, limit=10) == []
    assert set(queue.batch_records([*ids[:2], "b-missing"])) == set(ids[:2])

    queue.record_repo_failures(ids[0], {"a/r0": "clone failed"})
    queue.settle(ids[0], succeeded=True, reason="")
    queue.settle(ids[2], succeeded=False, reason="run failed")
    # ids[1] is still in flight: its record stays, whatever the caller asks.
    assert queue.drop_batch_records(ids[:3]) == [ids[0], ids[2]]
    assert redis_client.get(KEYS.batch(ids[0])) is None
    assert not redis_client.exists(KEYS.batch_failures(ids[0]))
    assert [b.decode() for b in redis_client.zrange(KEYS.batches, 0, -1)] == [ids[1], ids[3]]
    assert queue.batch_records([ids[1]])[ids[1]]["repos"] == ["a/r1"]
    assert queue.state().batches == 2
