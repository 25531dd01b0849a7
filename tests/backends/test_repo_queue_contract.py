"""The `RepoQueue` contract, run on every real implementation: `RedisRepoQueue` against a separately
started Debian redis-server and against the embedded Valkey the product starts (the `redis_url` fixture
gives both, flushed).

These tests speak only through the interface (no raw keys), so a new implementation joins by adding
itself to `repo_queue`. Layout details of the Redis implementation (key contents, Lua edge cases, hash
tags) are tested in `tests/backends/test_repo_queue_redis.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.backends.repo_queue import (
    ATTEMPT,
    CRASH,
    REQUEUE,
    BatchNotFound,
    RepoQueue,
    RetryPolicy,
)
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord

NOW = 1_800_000_000.0
MakeQueue = Callable[..., RepoQueue]


@pytest.fixture
def make_queue(redis_url: str) -> Iterator[MakeQueue]:
    """A factory of queues sharing one store, each with the retry policy a test needs."""
    client = redis.Redis.from_url(redis_url)

    def make(policy: RetryPolicy | None = None) -> RepoQueue:
        return RedisRepoQueue(client, RedisKeys("pipeline:"), policy or RetryPolicy())

    yield make
    client.close()


def repo(name: str, stars: int = 0) -> RepoRecord:
    return RepoRecord(name, clone_url=f"https://github.com/{name}.git", stars=stars)


def offer(queue: RepoQueue, priorities: dict[str, float]) -> None:
    report = queue.enqueue([(repo(name, int(p)), p) for name, p in priorities.items()])
    assert sorted(report.enqueued) == sorted(priorities)


def queued(queue: RepoQueue) -> dict[str, float]:
    return dict(queue.top(1000))


def test_pop_takes_the_highest_priorities_as_one_batch_with_their_metadata(make_queue):
    queue = make_queue()
    offer(queue, {"a/low": 1.0, "a/high": 9.5, "a/mid": 5.25})
    batch = queue.pop_batch(2, now=NOW)
    assert batch is not None and batch.repos == ("a/high", "a/mid") and batch.created == NOW
    assert queued(queue) == {"a/low": 1.0}
    records = queue.batch_repos(batch.batch_id)
    assert [r.full_name for r in records] == ["a/high", "a/mid"]
    assert records[0].clone_url == "https://github.com/a/high.git" and records[0].stars == 9
    assert queue.batch_record(batch.batch_id)["repos"] == ["a/high", "a/mid"]
    state = queue.state()
    assert (state.queued, state.in_flight, state.batches, state.pending) == (1, 2, 1, 3)


def test_an_empty_queue_pops_nothing_and_records_no_batch(make_queue):
    queue = make_queue()
    assert queue.pop_batch(4, now=NOW) is None
    assert queue.state().batches == 0 and queue.state().pending == 0


def test_batch_size_must_be_positive_and_unknown_batches_are_a_clear_error(make_queue):
    queue = make_queue()
    with pytest.raises(ValueError, match="at least 1"):
        queue.pop_batch(0)
    with pytest.raises(BatchNotFound):
        queue.settle("b-nope", succeeded=True, reason="")
    with pytest.raises(BatchNotFound):
        queue.batch_repos("b-nope")


def test_enqueue_skips_what_is_already_pending_or_unsafe(make_queue):
    queue = make_queue()
    offer(queue, {"a/x": 1.0, "a/y": 2.0})
    queue.pop_batch(1, now=NOW)  # a/y in flight
    report = queue.enqueue(
        [
            (repo("a/x"), 1.0),
            (repo("a/y"), 2.0),
            (repo("../etc"), 3.0),
            (repo("a/z"), 0.5),
            (repo("a/z"), 0.5),
        ]
    )
    assert report.enqueued == ["a/z"]
    assert report.skipped == {"already_queued": 2, "in_flight": 1, "invalid_name": 1}


def test_a_requeued_batch_goes_back_at_its_original_priority_counting_nothing(make_queue):
    queue = make_queue(RetryPolicy(max_attempts=1))
    offer(queue, {"a/x": 3.141593, "a/y": 2.0})
    batch = queue.pop_batch(5, now=NOW)
    settled = queue.settle(batch.batch_id, succeeded=False, reason="canceled", kind=REQUEUE)
    assert settled.failed == {"a/x": "queued", "a/y": "queued"} and settled.parked == []
    assert queued(queue) == {"a/x": 3.141593, "a/y": 2.0}
    assert queue.state().in_flight == 0
    record = queue.batch_record(batch.batch_id)
    assert record["status"] == "requeued" and record["reason"] == "canceled"


def test_success_acknowledges_every_repo(make_queue):
    queue = make_queue()
    offer(queue, {"a/x": 1.0, "a/y": 2.0})
    batch = queue.pop_batch(2, now=NOW)
    settled = queue.settle(batch.batch_id, succeeded=True, reason="")
    assert sorted(settled.acked) == ["a/x", "a/y"] and settled.failed == {}
    assert queue.state().pending == 0
    assert queue.batch_record(batch.batch_id)["status"] == "succeeded"


def test_lapsed_leases_return_repos_and_a_late_ack_touches_nothing(make_queue):
    queue = make_queue(RetryPolicy(lease_ttl_s=60))
    offer(queue, {"a/old": 4.0})
    old = queue.pop_batch(1, now=NOW)
    offer(queue, {"a/new": 2.0})
    queue.pop_batch(1, now=NOW + 50)
    assert queue.expire_leases(now=NOW + 59) == {}
    assert queue.holds_leases(old.batch_id, now=NOW + 59)
    assert not queue.holds_leases(old.batch_id, now=NOW + 61)
    assert queue.expire_leases(now=NOW + 61) == {"a/old": "queued"}
    assert queued(queue) == {"a/old": 4.0}
    # The dead batch's late success must not ack the repo once a newer batch holds it.
    newer = queue.pop_batch(1, now=NOW + 70)
    assert queue.settle(old.batch_id, succeeded=True, reason="").acked == ()
    assert queue.batch_repos(newer.batch_id)[0].full_name == "a/old"
    assert queue.settle(newer.batch_id, succeeded=True, reason="").acked == ("a/old",)


def test_renewing_keeps_a_live_batch_leased_but_never_resurrects_a_returned_repo(make_queue):
    queue = make_queue(RetryPolicy(lease_ttl_s=60))
    offer(queue, {"a/x": 1.0, "a/y": 2.0})
    batch = queue.pop_batch(2, now=NOW)
    assert queue.renew_leases(batch.batch_id, now=NOW + 50) == 2
    assert queue.expire_leases(now=NOW + 100) == {}
    assert queue.expire_leases(now=NOW + 111) == {"a/x": "queued", "a/y": "queued"}
    assert queue.renew_leases(batch.batch_id, now=NOW + 120) == 0


def test_keep_leased_renews_from_a_heartbeat_while_the_block_runs(make_queue):
    queue = make_queue(RetryPolicy(lease_ttl_s=0.6))
    offer(queue, {"a/x": 1.0})
    batch = queue.pop_batch(1)
    with queue.keep_leased(batch.batch_id):
        time.sleep(1.2)  # twice the lease lifetime: only renewals keep it alive
        assert queue.expire_leases() == {}
        assert queue.holds_leases(batch.batch_id)
    time.sleep(0.7)
    assert queue.expire_leases() == {"a/x": "queued"}


def test_a_repo_failing_alone_backs_off_doubling_then_is_parked(make_queue):
    queue = make_queue(RetryPolicy(max_attempts=3, backoff_s=10))
    offer(queue, {"a/good": 2.0, "a/poison": 5.0})
    now, outcomes = NOW, []
    for attempt in range(3):
        batch = queue.pop_batch(2, now=now)
        assert "a/poison" in batch.repos
        queue.record_repo_failures(batch.batch_id, {"a/poison": "clone not_found: gone"})
        settled = queue.settle(batch.batch_id, succeeded=True, reason="", now=now)
        outcomes.append(settled.failed["a/poison"])
        if attempt == 0:
            assert settled.acked == ("a/good",)
        if attempt < 2:
            assert queue.promote_due(now=now + 10 * 2**attempt - 1) == []
            assert queue.promote_due(now=now + 10 * 2**attempt) == ["a/poison"]
            assert queued(queue) == {"a/poison": 5.0}
            now += 10 * 2**attempt
    assert outcomes == ["delayed", "delayed", "dead"]
    parked = queue.dead_letters()
    assert parked["a/poison"]["attempts"] == 3 and "not_found" in parked["a/poison"]["reason"]
    assert queue.state().pending == 0 and queue.state().dead == 1


def test_a_failed_run_counts_an_attempt_and_a_success_forgets_it(make_queue):
    queue = make_queue(RetryPolicy(max_attempts=2, backoff_s=0))
    offer(queue, {"a/x": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    assert queue.settle(batch.batch_id, succeeded=False, reason="run failed", kind=ATTEMPT).failed == {
        "a/x": "queued"
    }
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=True, reason="")
    # The history is clean again: one more failure does not reach max_attempts=2.
    offer(queue, {"a/x": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    assert queue.settle(batch.batch_id, succeeded=False, reason="again").failed == {"a/x": "queued"}


def test_crashes_park_only_after_their_own_bound(make_queue):
    queue = make_queue(RetryPolicy(max_attempts=2, max_crashes=4))
    offer(queue, {"a/x": 1.0})
    outcomes = []
    for _ in range(4):
        batch = queue.pop_batch(1, now=NOW)
        outcomes.append(
            queue.settle(batch.batch_id, succeeded=False, reason="died", kind=CRASH).failed["a/x"]
        )
    assert outcomes == ["queued", "queued", "queued", "dead"]
    assert queue.dead_letters()["a/x"]["crashes"] == 4


def test_parked_repos_are_not_enqueued_until_retried(make_queue):
    queue = make_queue(RetryPolicy(max_attempts=1))
    offer(queue, {"a/x": 6.0})
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=False, reason="boom")
    report = queue.enqueue([(repo("a/x"), 6.0)])
    assert report.enqueued == [] and report.skipped == {"dead_letter": 1}
    assert queue.retry_dead(["a/nope"]) == []
    assert queue.retry_dead() == ["a/x"]
    assert queued(queue) == {"a/x": 6.0} and queue.dead_letters() == {}


def test_backing_off_repos_are_not_enqueued_early(make_queue):
    queue = make_queue(RetryPolicy(backoff_s=30))
    offer(queue, {"a/x": 6.0})
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=False, reason="x", now=NOW)
    assert queue.state().delayed == 1 and queue.state().next_retry_at == pytest.approx(NOW + 30)
    assert queue.enqueue([(repo("a/x"), 6.0)]).skipped == {"backing_off": 1}


def test_fail_repos_moves_only_the_entries_the_named_batch_holds(make_queue):
    queue = make_queue(RetryPolicy(backoff_s=0))
    offer(queue, {"a/x": 1.0})
    batch = queue.pop_batch(1, now=NOW)
    assert queue.fail_repos({"a/x": "x"}, batch_id="b-other") == {}
    assert queue.fail_repos({"a/x": "x"}, batch_id=batch.batch_id) == {"a/x": "queued"}


def test_a_repo_marked_processed_at_the_crawled_head_is_skipped_as_unchanged(make_queue):
    queue = make_queue()
    local = RepoRecord("a/x", clone_url="/src/a/x", head="c0ffee")
    assert queue.processed_count() == 0
    queue.mark_processed({})
    assert queue.processed_count() == 0
    queue.mark_processed({"a/x": "c0ffee", "a/y": "beef"})
    assert queue.processed_count() == 2
    assert queue.enqueue([(local, 1.0)]).skipped == {"unchanged": 1}
    # A later commit is new work; marking the same repo again overwrites its commit, never adds a repo.
    moved = RepoRecord("a/x", clone_url="/src/a/x", head="d00d")
    assert queue.enqueue([(moved, 1.0)]).enqueued == ["a/x"]
    batch = queue.pop_batch(1, now=NOW)
    queue.settle(batch.batch_id, succeeded=True, reason="")
    queue.mark_processed({"a/x": "d00d"})
    assert queue.processed_count() == 2
    assert queue.enqueue([(moved, 1.0)]).skipped == {"unchanged": 1}
