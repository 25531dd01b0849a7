"""`DroppedSamples` on real servers (the embedded Valkey and a Debian redis-server, flushed): samples are
listed newest first, bounded per reason, a re-run of a batch lists each file once, and forgetting a
repository removes its samples."""

from __future__ import annotations

import redis

from codelupe_dagster.backends.dropped_samples import (
    KNOWN_REASONS,
    DroppedSample,
    DroppedSamples,
    reasons_key,
    samples_key,
)
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.file_processing import MISSING_OBJECT
from codelupe_dagster.stages.score_batch import FORGOTTEN, PROCESSING_ERROR
from codelupe_dagster.stages.scoring_pool import WORKER_CRASH

KEYS = RedisKeys("t:")


def sample(n: int, reason: str = "minified", batch: str = "b1", repo: str = "acme/alpha") -> DroppedSample:
    return DroppedSample(
        reason=reason, batch=batch, repo=repo, path=f"web/f{n}.js", commit="c" * 40, blob=f"{n:040x}", size=n
    )


def test_samples_are_newest_first_and_bounded_per_reason(redis_client: redis.Redis) -> None:
    store = DroppedSamples(redis_client, KEYS, per_reason=5)
    store.record([sample(n) for n in range(3)] + [sample(9, reason="binary")])
    store.record([sample(n, batch="b2") for n in range(10, 18)])

    minified = store.samples("minified")
    assert [s.path for s in minified] == [f"web/f{n}.js" for n in (17, 16, 15, 14, 13)]
    assert minified[0] == sample(17, batch="b2")  # every field comes back
    assert store.reasons() == {"binary": 1, "minified": 5}
    assert [s.size for s in store.samples("minified", limit=2)] == [17, 16]
    assert store.samples("no_such_reason") == []
    # Kept beside the other `<prefix>` keys.
    assert redis_client.llen(samples_key(KEYS, "minified")) == 5
    assert redis_client.smembers(reasons_key(KEYS)) == {b"binary", b"minified"}


def test_a_rerun_of_a_batch_lists_each_file_once(redis_client: redis.Redis) -> None:
    store = DroppedSamples(redis_client, KEYS, per_reason=50)
    batch = [sample(n) for n in range(4)]
    store.record(batch)
    store.record([sample(n, batch="b2") for n in range(10, 12)])
    store.record(batch)  # the partition re-ran

    listed = store.samples("minified")
    assert len(listed) == 6 and len(set(listed)) == 6
    assert [s.size for s in listed[:4]] == [3, 2, 1, 0]  # the re-run's files are the newest again


def test_a_batch_larger_than_the_bound_keeps_its_last_files(redis_client: redis.Redis) -> None:
    store = DroppedSamples(redis_client, KEYS, per_reason=3)
    for _ in range(2):
        store.record([sample(n) for n in range(100)])
    assert [s.size for s in store.samples("minified")] == [99, 98, 97]


def test_forgetting_a_repository_removes_its_samples(redis_client: redis.Redis) -> None:
    store = DroppedSamples(redis_client, KEYS)
    store.record([sample(1), sample(2, repo="acme/beta"), sample(3, reason="binary", repo="acme/beta")])
    assert store.forget(lambda repo, _path: repo == "acme/beta") == 2
    assert store.reasons() == {"minified": 1}
    assert [s.repo for s in store.samples("minified")] == ["acme/alpha"]
    assert store.forget(lambda _repo, path: path.endswith("f1.js")) == 1  # a path glob
    assert store.reasons() == {}


def test_known_reasons_name_the_scorers_own_codes() -> None:
    for reason in (PROCESSING_ERROR, MISSING_OBJECT, WORKER_CRASH, FORGOTTEN, "minified", "symlink"):
        assert reason in KNOWN_REASONS
