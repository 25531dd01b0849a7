from __future__ import annotations

import redis

from codelupe_dagster.backends.redis_dedup import (
    FOREIGN_CLAIM,
    NEW_CLAIM,
    OWN_CLAIM,
    ExactDeduplicator,
    NearDeduplicator,
    open_shape,
    shard_of,
)
from codelupe_dagster.core.keys import RedisKeys

KEYS = RedisKeys("test:")


def digest(n: int) -> bytes:
    return n.to_bytes(16, "big")


def stored_claimant(client: redis.Redis, keys: RedisKeys, value: bytes) -> bytes | None:
    """The claimant name stored for a digest, read from the raw layout 2 keys (id, then registry)."""
    key, field = shard_of(open_shape(client, keys), keys.exact_shard_base, value, 16, tail=True)
    claimant_id = client.hget(key, field)
    registry = f"{keys.exact_shard_base}claimants"
    return None if claimant_id is None else client.hget(registry, b"i" + claimant_id)


def stored_owner(client: redis.Redis, keys: RedisKeys, band: int, bucket: bytes) -> bytes | None:
    """A bucket's owner as stored in the raw layout 2 keys."""
    key, field = shard_of(open_shape(client, keys), keys.lsh_shard_base(band), bucket, 8)
    return client.hget(key, field)


def test_exact_first_claimant_wins_and_recognises_itself(redis_client: redis.Redis) -> None:
    dedup = ExactDeduplicator(redis_client, KEYS, chunk_size=3)  # several chunks per call
    digests = [digest(i) for i in range(7)]

    assert dedup.claim_status(digests, "acme/a") == [NEW_CLAIM] * 7
    # The same repository re-run after a crash, in any batch: its own claims are not duplicates (DESIGN §6).
    assert dedup.claim_status(digests, "acme/a") == [OWN_CLAIM] * 7
    assert dedup.claim([*digests[:2], digest(99)], "acme/b") == [False, False, True]
    assert stored_claimant(redis_client, KEYS, digest(0)) == b"acme/a"
    assert stored_claimant(redis_client, KEYS, digest(99)) == b"acme/b"


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
    assert stored_owner(redis_client, KEYS, 1, b"band1-x") == a  # a document-level owner: the whole digest


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


def test_exact_claim_groups_and_compare_and_delete_release(redis_client: redis.Redis) -> None:
    dedup = ExactDeduplicator(redis_client, KEYS, chunk_size=2)
    groups = [("acme/a", [digest(1), digest(2), digest(3)]), ("acme/b", [digest(3), digest(4)])]
    record = {"test:gen": [digest(1), digest(2)]}
    assert dedup.claim_groups(groups, record) == [[NEW_CLAIM] * 3, [FOREIGN_CLAIM, NEW_CLAIM]]
    assert redis_client.get("test:gen") == digest(1) + digest(2)  # recorded (packed) in the same round trip
    # Only claims the claimant still holds are released: b's claim on 4 stays.
    assert dedup.release([digest(1), digest(4), digest(9)], "acme/a") == 1
    assert dedup.claimants([digest(1), digest(2), digest(4)]) == {
        digest(1): None,
        digest(2): b"acme/a",
        digest(4): b"acme/b",
    }
    assert dedup.claim_status([digest(1)], "acme/b") == [NEW_CLAIM]


def test_near_owner_of_the_same_repo_or_released_is_not_a_duplicate(redis_client: redis.Redis) -> None:
    """A bucket's owner counts through the exact ledger: another repository's claim is a duplicate, the
    repository's own (old) version is not, and a released owner is stale and taken over."""
    exact, near = ExactDeduplicator(redis_client, KEYS), NearDeduplicator(redis_client, KEYS)
    old_a, other_b = digest(1), digest(2)
    exact.claim([old_a], "acme/a")
    exact.claim([other_b], "acme/b")
    assert near.claim_for_repos(
        [(old_a, [b"x0", b"x1"]), (other_b, [b"y0", b"y1"])], ["acme/a", "acme/b"]
    ) == [
        None,
        None,
    ]

    new_a, copy_c = digest(3), digest(4)
    exact.claim([new_a], "acme/a")
    exact.claim([copy_c], "acme/c")
    owners = near.claim_for_repos([(new_a, [b"x0", b"n1"]), (copy_c, [b"c0", b"y1"])], ["acme/a", "acme/c"])
    assert owners == [None, other_b.hex()]  # a's edit is not its own duplicate; c's copy of b's file is
    # a's old version is not current in this run, so a's new version took its bucket over.
    assert stored_owner(redis_client, KEYS, 0, b"x0") == new_a[-8:]  # a repository's claim: a handle

    exact.release([other_b], "acme/b")  # b deleted that file upstream
    assert near.claim_for_repos([(copy_c, [b"c0", b"y1"])], ["acme/c"]) == [None]
    assert stored_owner(redis_client, KEYS, 1, b"y1") == copy_c[-8:]  # the stale bucket now is c's copy's


def test_near_owner_that_is_a_current_file_keeps_its_buckets(redis_client: redis.Redis) -> None:
    exact, near = ExactDeduplicator(redis_client, KEYS), NearDeduplicator(redis_client, KEYS)
    first, second = digest(1), digest(2)
    exact.claim([first, second], "acme/a")
    owners = near.claim_for_repos(
        [(first, [b"k0", b"k1"]), (second, [b"k0", b"z1"])], ["acme/a", "acme/a"], current={first, second}
    )
    assert owners == [None, None]  # two near-identical files of one repository are both kept
    assert stored_owner(redis_client, KEYS, 0, b"k0") == first[-8:]
