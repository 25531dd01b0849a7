from __future__ import annotations

import json

import pytest

from codelupe_dagster.core.batch_queue import (
    BatchNotFound,
    ack_batch,
    batch_repos,
    new_batch_id,
    pop_batch,
    requeue_batch,
    requeue_stale,
)
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


def test_pop_takes_highest_priority_and_records_batch(redis_client):
    enqueue(redis_client, {"a/low": 1.0, "a/high": 9.5, "a/mid": 5.25})
    batch = pop_batch(redis_client, KEYS, size=2, now=NOW)
    assert batch is not None
    assert batch.repos == ("a/high", "a/mid")
    assert queued(redis_client) == {"a/low": 1.0}
    inflight = {k.decode(): json.loads(v) for k, v in redis_client.hgetall(KEYS.inflight).items()}
    assert set(inflight) == {"a/high", "a/mid"}
    assert inflight["a/high"]["batch"] == batch.batch_id
    assert inflight["a/high"]["since"] == pytest.approx(NOW)
    record = json.loads(redis_client.get(KEYS.batch(batch.batch_id)))
    assert record["repos"] == ["a/high", "a/mid"]
    assert redis_client.zscore(KEYS.batches, batch.batch_id) == pytest.approx(NOW)
    assert [r.full_name for r in batch_repos(redis_client, KEYS, batch.batch_id)] == ["a/high", "a/mid"]
    assert batch_repos(redis_client, KEYS, batch.batch_id)[0].clone_url == "https://github.com/a/high.git"


def test_pop_on_empty_queue_returns_none_and_records_nothing(redis_client):
    assert pop_batch(redis_client, KEYS, size=4, now=NOW) is None
    assert redis_client.zcard(KEYS.batches) == 0


def test_requeue_restores_original_priority(redis_client):
    enqueue(redis_client, {"a/x": 3.141593, "a/y": 2.0})
    batch = pop_batch(redis_client, KEYS, size=5, now=NOW)
    assert sorted(requeue_batch(redis_client, KEYS, batch.batch_id, "run failed")) == ["a/x", "a/y"]
    assert queued(redis_client) == {"a/x": 3.141593, "a/y": 2.0}
    assert redis_client.hlen(KEYS.inflight) == 0
    record = json.loads(redis_client.get(KEYS.batch(batch.batch_id)))
    assert record["status"] == "requeued" and record["reason"] == "run failed"


def test_requeue_keeps_a_newer_priority_of_a_reenqueued_repo(redis_client):
    enqueue(redis_client, {"a/x": 1.0})
    batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
    redis_client.zadd(KEYS.repos, {"a/x": 7.0})  # queued_repos saw a new commit meanwhile
    requeue_batch(redis_client, KEYS, batch.batch_id, "failed")
    assert queued(redis_client) == {"a/x": 7.0}


def test_ack_clears_inflight_and_does_not_requeue(redis_client):
    enqueue(redis_client, {"a/x": 1.0, "a/y": 2.0})
    batch = pop_batch(redis_client, KEYS, size=2, now=NOW)
    assert sorted(ack_batch(redis_client, KEYS, batch.batch_id)) == ["a/x", "a/y"]
    assert redis_client.hlen(KEYS.inflight) == 0
    assert queued(redis_client) == {}
    assert json.loads(redis_client.get(KEYS.batch(batch.batch_id)))["status"] == "succeeded"


def test_stale_repos_requeue_after_timeout_only(redis_client):
    enqueue(redis_client, {"a/old": 4.0})
    old = pop_batch(redis_client, KEYS, size=1, now=NOW)
    enqueue(redis_client, {"a/new": 2.0})
    pop_batch(redis_client, KEYS, size=1, now=NOW + 500)
    assert requeue_stale(redis_client, KEYS, timeout_s=600, now=NOW + 601) == ["a/old"]
    assert queued(redis_client) == {"a/old": 4.0}
    assert list(redis_client.hkeys(KEYS.inflight)) == [b"a/new"]
    # The timed-out batch's late success must not ack the repo once it is in a newer batch.
    newer = pop_batch(redis_client, KEYS, size=1, now=NOW + 700)
    assert ack_batch(redis_client, KEYS, old.batch_id) == []
    assert json.loads(redis_client.hget(KEYS.inflight, "a/old"))["batch"] == newer.batch_id


def test_missing_metadata_yields_record_without_url(redis_client):
    redis_client.zadd(KEYS.repos, {"a/orphan": 1.0})
    batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
    assert batch_repos(redis_client, KEYS, batch.batch_id) == [RepoRecord("a/orphan", clone_url="")]


def test_unknown_batch_is_a_clear_error(redis_client):
    with pytest.raises(BatchNotFound):
        ack_batch(redis_client, KEYS, "b-nope")
    with pytest.raises(ValueError, match="at least 1"):
        pop_batch(redis_client, KEYS, size=0)


def test_hash_tagged_prefix_works(redis_client):
    keys = RedisKeys("{pipeline}:")
    redis_client.zadd(keys.repos, {"a/x": 1.0})
    batch = pop_batch(redis_client, keys, size=1, now=NOW)
    assert batch.repos == ("a/x",)
    assert redis_client.exists(keys.batch(batch.batch_id))
