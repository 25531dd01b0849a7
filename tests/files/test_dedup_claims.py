from __future__ import annotations

import redis

from codelupe_dagster.core.dedup_claims import (
    FOREIGN_CLAIM,
    NEW_CLAIM,
    OWN_CLAIM,
    ExactDeduplicator,
    NearDeduplicator,
)
from codelupe_dagster.core.keys import RedisKeys

KEYS = RedisKeys("test:")


def digest(n: int) -> bytes:
    return n.to_bytes(16, "big")


def test_exact_first_claimant_wins_and_recognises_itself(redis_client: redis.Redis) -> None:
    dedup = ExactDeduplicator(redis_client, KEYS, chunk_size=3)  # several chunks per call
    digests = [digest(i) for i in range(7)]

    assert dedup.claim_status(digests, "batch-a") == [NEW_CLAIM] * 7
    # The same batch re-run after a crash: its own claims are not duplicates (DESIGN §6).
    assert dedup.claim_status(digests, "batch-a") == [OWN_CLAIM] * 7
    assert dedup.claim([*digests[:2], digest(99)], "batch-b") == [False, False, True]
    assert redis_client.hget(KEYS.processed_files, digest(0)) == b"batch-a"
    assert redis_client.hget(KEYS.processed_files, digest(99)) == b"batch-b"


def test_exact_claims_survive_script_flush(redis_client: redis.Redis) -> None:
    dedup = ExactDeduplicator(redis_client, KEYS)
    assert dedup.claim([digest(1)], "a") == [True]
    redis_client.script_flush()
    assert dedup.claim_status([digest(1), digest(2)], "b") == [FOREIGN_CLAIM, NEW_CLAIM]


def test_near_first_writer_wins_per_bucket(redis_client: redis.Redis) -> None:
    near = NearDeduplicator(redis_client, KEYS, chunk_size=2)
    a, b, c = digest(1), digest(2), digest(3)
    owners = near.claim_many(
        [
            (a, [b"band0-x", b"band1-x", b"band2-x"]),
            (b, [b"band0-y", b"band1-x", b"band2-y"]),  # shares band 1 with a: near duplicate of a
            (c, [b"band0-z", b"band1-z", b"band2-z"]),  # distinct
        ]
    )
    assert owners == [None, a.hex(), None]
    # Re-claiming a's own buckets (a retried batch) is not a duplicate of itself.
    assert near.claim(a, [b"band0-x", b"band1-x", b"band2-x"]) is None
    # A later document colliding with c in band 2 only is c's near duplicate.
    assert near.claim(digest(4), [b"q", b"r", b"band2-z"]) == c.hex()
    assert redis_client.hget(KEYS.lsh(1), b"band1-x") == a


def test_near_without_band_keys_is_never_a_duplicate(redis_client: redis.Redis) -> None:
    near = NearDeduplicator(redis_client, KEYS)
    assert near.claim_many([(digest(1), []), (digest(2), [])]) == [None, None]
    assert near.claim_many([]) == []


def test_near_claims_agree_between_packed_and_general_chunks(redis_client: redis.Redis) -> None:
    """A chunk of uniform documents is packed as one byte matrix; a chunk with an odd document (fewer
    bands) takes the general path. Both must give the same owners as claiming one at a time."""

    def keys(doc: int, bands: int = 4) -> list[bytes]:
        # Documents 0-2 share band 1, 3 and 4 share band 2; the rest are distinct.
        group = {0: 100, 1: 100, 2: 100, 3: 200, 4: 200}.get(doc)
        return [
            (group if band == (1 if group == 100 else 2) and group else doc * 10 + band).to_bytes(8, "big")
            for band in range(bands)
        ]

    docs = [(digest(doc), keys(doc)) for doc in range(6)] + [(digest(6), [])]
    expected = [NearDeduplicator(redis_client, RedisKeys("one:")).claim(d, k) for d, k in docs]
    assert expected == [None, digest(0).hex(), digest(0).hex(), None, digest(3).hex(), None, None]

    assert NearDeduplicator(redis_client, RedisKeys("packed:")).claim_many(docs) == expected
    odd = [*docs, (digest(7), keys(7, bands=2))]
    assert NearDeduplicator(redis_client, RedisKeys("general:")).claim_many(odd) == [*expected, None]
