from __future__ import annotations

import json

import pytest

from codelupe_dagster.backends.repo_queue import (
    ATTEMPT,
    CRASH,
    BatchNotFound,
    RetryPolicy,
    ack_batch,
    batch_repos,
    dead_letters,
    enqueue_repos,
    expire_leases,
    new_batch_id,
    pop_batch,
    promote_due,
    queue_state,
    record_repo_failures,
    renew_leases,
    requeue_batch,
    retry_dead,
    settle_batch,
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


def test_lapsed_leases_return_repos_and_a_late_ack_touches_nothing(redis_client):
    policy = RetryPolicy(lease_ttl_s=60)
    enqueue(redis_client, {"a/old": 4.0})
    old = pop_batch(redis_client, KEYS, size=1, now=NOW, lease_ttl_s=60)
    enqueue(redis_client, {"a/new": 2.0})
    pop_batch(redis_client, KEYS, size=1, now=NOW + 50, lease_ttl_s=60)
    assert expire_leases(redis_client, KEYS, policy, now=NOW + 59) == {}
    assert expire_leases(redis_client, KEYS, policy, now=NOW + 61) == {"a/old": "queued"}
    assert queued(redis_client) == {"a/old": 4.0}
    assert list(redis_client.hkeys(KEYS.inflight)) == [b"a/new"]
    # A crash is counted, but with no back-off: a kill from outside says nothing about the repo.
    history = json.loads(redis_client.hget(KEYS.attempts, "a/old"))
    assert (history["attempts"], history["crashes"]) == (0, 1)
    # The dead batch's late success must not ack the repo once it is in a newer batch.
    newer = pop_batch(redis_client, KEYS, size=1, now=NOW + 70)
    assert ack_batch(redis_client, KEYS, old.batch_id) == []
    assert json.loads(redis_client.hget(KEYS.inflight, "a/old"))["batch"] == newer.batch_id


def test_a_heartbeat_keeps_a_live_batch_leased(redis_client):
    policy = RetryPolicy(lease_ttl_s=60)
    enqueue(redis_client, {"a/x": 1.0, "a/y": 2.0})
    batch = pop_batch(redis_client, KEYS, size=2, now=NOW, lease_ttl_s=60)
    assert renew_leases(redis_client, KEYS, batch.batch_id, 60, now=NOW + 50) == 2
    assert expire_leases(redis_client, KEYS, policy, now=NOW + 100) == {}
    assert expire_leases(redis_client, KEYS, policy, now=NOW + 111) == {"a/x": "queued", "a/y": "queued"}
    # Nothing is held any more, so nothing is renewed: a heartbeat cannot resurrect a returned repo.
    assert renew_leases(redis_client, KEYS, batch.batch_id, 60, now=NOW + 120) == 0


def test_inflight_entries_without_a_lease_expire_too(redis_client):
    """State written before leases existed must not strand a repo."""
    redis_client.hset(
        KEYS.inflight, "a/legacy", json.dumps({"batch": "b-old", "since": NOW, "priority": "3"})
    )
    assert expire_leases(redis_client, KEYS, RetryPolicy(lease_ttl_s=60), now=NOW + 30) == {}
    assert expire_leases(redis_client, KEYS, RetryPolicy(lease_ttl_s=60), now=NOW + 61) == {
        "a/legacy": "queued"
    }
    assert queued(redis_client) == {"a/legacy": 3.0}


def test_a_repo_failing_alone_is_retried_with_backoff_then_parked(redis_client):
    policy = RetryPolicy(max_attempts=3, backoff_s=10)
    enqueue(redis_client, {"a/good": 2.0, "a/poison": 5.0})
    now = NOW
    outcomes = []
    for attempt in range(3):
        batch = pop_batch(redis_client, KEYS, size=2, now=now)
        assert "a/poison" in batch.repos
        record_repo_failures(redis_client, KEYS, batch.batch_id, {"a/poison": "clone not_found: gone"})
        settled = settle_batch(redis_client, KEYS, batch.batch_id, policy, succeeded=True, reason="", now=now)
        outcomes.append(settled.failed["a/poison"])
        if attempt == 0:
            assert settled.acked == ("a/good",)  # the batch succeeded for everything else
        if attempt < 2:
            # Back-off doubles: 10 s after the first failure, 20 s after the second.
            assert promote_due(redis_client, KEYS, now=now + 10 * 2**attempt - 1) == []
            assert promote_due(redis_client, KEYS, now=now + 10 * 2**attempt) == ["a/poison"]
            assert queued(redis_client) == {"a/poison": 5.0}
            now += 10 * 2**attempt
    assert outcomes == ["delayed", "delayed", "dead"]
    parked = dead_letters(redis_client, KEYS)
    assert parked["a/poison"]["attempts"] == 3 and "not_found" in parked["a/poison"]["reason"]
    assert queue_state(redis_client, KEYS).pending == 0 and queue_state(redis_client, KEYS).dead == 1


def test_a_failed_run_counts_an_attempt_for_each_repo_and_success_clears_it(redis_client):
    policy = RetryPolicy(max_attempts=3, backoff_s=0)
    enqueue(redis_client, {"a/x": 1.0})
    batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
    settled = settle_batch(redis_client, KEYS, batch.batch_id, policy, succeeded=False, reason="run failed")
    assert settled.failed == {"a/x": "queued"}  # no back-off configured: straight back
    assert json.loads(redis_client.hget(KEYS.attempts, "a/x"))["attempts"] == 1
    batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
    settle_batch(redis_client, KEYS, batch.batch_id, policy, succeeded=True, reason="")
    assert redis_client.hget(KEYS.attempts, "a/x") is None


def test_crashes_park_only_after_their_own_bound(redis_client):
    policy = RetryPolicy(max_attempts=2, max_crashes=4)
    enqueue(redis_client, {"a/x": 1.0})
    outcomes = []
    for _ in range(4):
        batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
        settled = settle_batch(
            redis_client, KEYS, batch.batch_id, policy, succeeded=False, reason="died", kind=CRASH
        )
        outcomes.append(settled.failed["a/x"])
    assert outcomes == ["queued", "queued", "queued", "dead"]


def test_parked_repos_are_not_enqueued_until_retried(redis_client):
    policy = RetryPolicy(max_attempts=1)
    enqueue(redis_client, {"a/x": 6.0})
    batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
    settle_batch(redis_client, KEYS, batch.batch_id, policy, succeeded=False, reason="boom", kind=ATTEMPT)
    record = RepoRecord("a/x", clone_url="https://github.com/a/x.git")
    report = enqueue_repos(redis_client, KEYS, [(record, 6.0)])
    assert report.enqueued == [] and report.skipped == {"dead_letter": 1}
    assert retry_dead(redis_client, KEYS, ["a/nope"]) == []
    assert retry_dead(redis_client, KEYS) == ["a/x"]
    assert queued(redis_client) == {"a/x": 6.0}
    assert redis_client.hlen(KEYS.dead) == 0 and redis_client.hget(KEYS.attempts, "a/x") is None


def test_backing_off_repos_are_not_enqueued_early(redis_client):
    enqueue(redis_client, {"a/x": 6.0})
    batch = pop_batch(redis_client, KEYS, size=1, now=NOW)
    settle_batch(
        redis_client, KEYS, batch.batch_id, RetryPolicy(backoff_s=30), succeeded=False, reason="x", now=NOW
    )
    record = RepoRecord("a/x", clone_url="https://github.com/a/x.git")
    assert enqueue_repos(redis_client, KEYS, [(record, 6.0)]).skipped == {"backing_off": 1}


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
