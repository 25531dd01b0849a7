"""The `DedupLedger` contract, run on every real implementation: `RedisDedupLedger` against a separately
started Debian redis-server and against the embedded Valkey the product starts (the `redis_url` fixture
gives both, flushed), each with its default chunking and with chunks of two files (several round trips
per call).

These tests speak only through the interface (no raw keys), so a new implementation joins by adding a
factory to `LEDGERS`. The Redis mechanics (Lua scripts, packed arguments, script reloads) are tested in
`tests/backends/test_redis_dedup.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import ClaimStatus, DedupLedger, NearCandidate, RedisDedupLedger
from codelupe_dagster.core.keys import RedisKeys

NEW, OWN, FOREIGN = ClaimStatus.NEW, ClaimStatus.OWN, ClaimStatus.FOREIGN

LEDGERS: dict[str, Callable[[redis.Redis], DedupLedger]] = {
    "redis": lambda client: RedisDedupLedger(client, RedisKeys("contract:")),
    "redis-chunked": lambda client: RedisDedupLedger(client, RedisKeys("contract:"), chunk_size=2),
}


@pytest.fixture(params=sorted(LEDGERS))
def ledger(request: pytest.FixtureRequest, redis_url: str) -> Iterator[DedupLedger]:
    client = redis.Redis.from_url(redis_url)
    yield LEDGERS[request.param](client)
    client.close()


def digest(n: int) -> bytes:
    return n.to_bytes(16, "big")


def bands(*names: str) -> list[bytes]:
    """Band keys of equal width, one per band: documents sharing a name in one band collide there."""
    return [name.encode().ljust(8, b".") for name in names]


# ------------------------------------------------------------------ exact claims


def test_first_claimant_wins_and_a_retry_reads_its_own_claims(ledger: DedupLedger) -> None:
    digests = [digest(i) for i in range(5)]
    assert ledger.claim_exact([("acme/a", digests)]) == [[NEW] * 5]
    # The same repository again (a retried batch, in any batch): its own claims, never duplicates.
    assert ledger.claim_exact([("acme/a", digests)]) == [[OWN] * 5]
    assert ledger.claim_exact([("acme/b", [digest(0), digest(9)])]) == [[FOREIGN, NEW]]
    assert FOREIGN.is_duplicate and not OWN.is_duplicate and not NEW.is_duplicate


def test_groups_of_one_call_claim_in_order(ledger: DedupLedger) -> None:
    groups = [("acme/a", [digest(1), digest(2), digest(3)]), ("acme/b", [digest(3), digest(4)])]
    assert ledger.claim_exact(groups) == [[NEW, NEW, NEW], [FOREIGN, NEW]]
    assert ledger.claim_exact([]) == []
    assert ledger.claim_exact([("acme/c", [])]) == [[]]


def test_claimants_and_not_held(ledger: DedupLedger) -> None:
    ledger.claim_exact([("acme/a", [digest(1)]), ("acme/b", [digest(2)])])
    assert ledger.claimants([digest(1), digest(2), digest(3)]) == {
        digest(1): "acme/a",
        digest(2): "acme/b",
        digest(3): None,
    }
    assert ledger.claimants([]) == {}
    # What an indexed document's repository does not hold: another's claim, or no claim at all.
    pairs = [(digest(1), "acme/a"), (digest(2), "acme/a"), (digest(3), "acme/a")]
    assert ledger.not_held(pairs) == [digest(2), digest(3)]
    assert ledger.not_held([(digest(1), "acme/a")]) == []
    assert ledger.not_held([]) == []


def test_release_deletes_only_claims_the_claimant_still_holds(ledger: DedupLedger) -> None:
    ledger.claim_exact([("acme/a", [digest(1), digest(2)]), ("acme/b", [digest(3)])])
    assert ledger.release("acme/a", [digest(1), digest(3), digest(9)]) == 1
    assert ledger.release("acme/a", [digest(1)]) == 0  # already gone: idempotent
    assert ledger.release("acme/a", []) == 0
    assert ledger.claimants([digest(1), digest(2), digest(3)]) == {
        digest(1): None,
        digest(2): "acme/a",
        digest(3): "acme/b",
    }
    # A released digest is free again: a copy elsewhere can take it.
    assert ledger.claim_exact([("acme/c", [digest(1)])]) == [[NEW]]


# ------------------------------------------------------------------ near claims


def test_near_duplicate_of_another_repository(ledger: DedupLedger) -> None:
    first, copy, other = digest(1), digest(2), digest(3)
    ledger.claim_exact([("acme/a", [first]), ("acme/b", [copy, other])])
    owners = ledger.claim_near(
        [
            NearCandidate("acme/a", first, bands("x0", "x1", "x2")),
            NearCandidate("acme/b", copy, bands("y0", "x1", "y2")),  # shares band 1 with `first`
            NearCandidate("acme/b", other, bands("z0", "z1", "z2")),
        ],
        batch_id="b1",
        current={first, copy, other},
    )
    assert owners == [None, first.hex(), None]
    # Claiming `first` again (a retry) is not a duplicate of itself.
    again = ledger.claim_near(
        [NearCandidate("acme/a", first, bands("x0", "x1", "x2"))], batch_id="b2", current={first}
    )
    assert again == [None]
    assert ledger.claim_near([], batch_id="b3", current=set()) == []


def test_a_repository_is_never_a_near_duplicate_of_itself(ledger: DedupLedger) -> None:
    one, two = digest(1), digest(2)
    ledger.claim_exact([("acme/a", [one, two])])
    owners = ledger.claim_near(
        [NearCandidate("acme/a", one, bands("k0", "k1")), NearCandidate("acme/a", two, bands("k0", "q1"))],
        batch_id="b1",
        current={one, two},
    )
    assert owners == [None, None]  # two near-identical current files of one repository are both kept
    # The shared bucket stayed with the first: another repository's copy names it.
    third = digest(3)
    ledger.claim_exact([("acme/c", [third])])
    assert ledger.claim_near(
        [NearCandidate("acme/c", third, bands("k0", "w1"))], batch_id="b2", current={third}
    ) == [one.hex()]


def test_an_old_version_hands_its_buckets_to_the_new_one(ledger: DedupLedger) -> None:
    old, new = digest(1), digest(2)
    ledger.claim_exact([("acme/a", [old])])
    ledger.claim_near([NearCandidate("acme/a", old, bands("v0", "v1"))], batch_id="b1", current={old})
    # The next commit edits the file: `old` is not current in this run, so `new` takes its buckets over.
    ledger.claim_exact([("acme/a", [new])])
    assert ledger.claim_near(
        [NearCandidate("acme/a", new, bands("v0", "n1"))], batch_id="b2", current={new}
    ) == [None]
    fork = digest(3)
    ledger.claim_exact([("acme/fork", [fork])])
    assert ledger.claim_near(
        [NearCandidate("acme/fork", fork, bands("v0", "f1"))], batch_id="b3", current={fork}
    ) == [new.hex()]


def test_a_released_owner_is_stale_and_taken_over(ledger: DedupLedger) -> None:
    original, copy = digest(1), digest(2)
    ledger.claim_exact([("acme/a", [original]), ("acme/c", [copy])])
    ledger.claim_near(
        [NearCandidate("acme/a", original, bands("s0", "s1"))], batch_id="b1", current={original}
    )
    candidate = [NearCandidate("acme/c", copy, bands("c0", "s1"))]
    assert ledger.claim_near(candidate, batch_id="b2", current={copy}) == [original.hex()]
    ledger.release("acme/a", [original])  # acme/a deleted the file upstream
    assert ledger.claim_near(candidate, batch_id="b3", current={copy}) == [None]
    later = digest(3)
    ledger.claim_exact([("acme/d", [later])])
    assert ledger.claim_near(
        [NearCandidate("acme/d", later, bands("d0", "s1"))], batch_id="b4", current={later}
    ) == [copy.hex()]


def test_document_level_near_claims(ledger: DedupLedger) -> None:
    a, b, c = digest(1), digest(2), digest(3)
    owners = ledger.claim_near_documents(
        [(a, bands("a0", "a1")), (b, bands("b0", "a1")), (c, bands("c0", "c1")), (digest(4), [])]
    )
    assert owners == [None, a.hex(), None, None]  # earlier documents win; no bands is never a duplicate
    assert ledger.claim_near_documents([(a, bands("a0", "a1"))]) == [None]  # its own buckets
    assert ledger.claim_near_documents([]) == []


def test_sizes_count_claimed_digests_and_buckets_per_band(ledger: DedupLedger) -> None:
    assert ledger.exact_size() == 0 and ledger.near_bucket_counts(3) == [0, 0, 0]
    ledger.claim_exact([("acme/a", [digest(1), digest(2)]), ("acme/b", [digest(2), digest(3)])])
    assert ledger.exact_size() == 3  # digest(2) is claimed once
    ledger.release("acme/a", [digest(1)])
    assert ledger.exact_size() == 2
    ledger.claim_near_documents([(digest(1), bands("a0", "a1")), (digest(2), bands("b0", "a1"))])
    # Band 1's shared bucket is held once; asking past the bands used reads empty bands.
    assert ledger.near_bucket_counts(3) == [2, 1, 0]
    assert ledger.near_bucket_counts(0) == []


# ------------------------------------------------------------------ generations


def _score(ledger: DedupLedger, repo: str, batch_id: str, digests: list[bytes]) -> None:
    """What scoring does for one repository: begin its generation, claim, record."""
    ledger.begin_generation(batch_id, [repo])
    ledger.claim_exact([(repo, digests)])
    ledger.claim_near(
        [NearCandidate(repo, d, bands(f"g{d[-1]}")) for d in digests], batch_id=batch_id, current=set(digests)
    )


def test_generations_swap_and_name_what_went_stale(ledger: DedupLedger) -> None:
    v1 = [digest(i) for i in range(1, 6)]
    _score(ledger, "acme/a", "b1", v1)
    assert ledger.stale_claims("acme/a", "b1") == []  # the first generation replaces nothing
    ledger.commit_generation("acme/a", "b1")
    assert ledger.stale_claims("acme/a", "b1") is None  # swapped: a re-run is a no-op

    v2 = [digest(2), digest(4), digest(7)]
    _score(ledger, "acme/a", "b2", v2)
    assert ledger.stale_claims("acme/a", "b2") == [digest(1), digest(3), digest(5)]
    assert ledger.stale_claims("acme/a", "b2") == [digest(1), digest(3), digest(5)]  # until committed
    ledger.commit_generation("acme/a", "b2")
    assert ledger.stale_claims("acme/a", "b2") is None

    _score(ledger, "acme/a", "b3", v2)
    assert ledger.stale_claims("acme/a", "b3") == []  # unchanged: nothing stale


def test_a_repository_that_claims_nothing_still_has_a_generation(ledger: DedupLedger) -> None:
    _score(ledger, "acme/a", "b1", [digest(1), digest(2)])
    ledger.commit_generation("acme/a", "b1")
    ledger.begin_generation("b2", ["acme/a"])  # every file deleted upstream
    assert ledger.stale_claims("acme/a", "b2") == [digest(1), digest(2)]


def test_restarting_and_discarding_a_generation(ledger: DedupLedger) -> None:
    _score(ledger, "acme/a", "b1", [digest(1)])
    ledger.commit_generation("acme/a", "b1")
    _score(ledger, "acme/a", "b2", [digest(1), digest(2)])
    ledger.begin_generation("b2", ["acme/a"])  # scoring re-run from the start: the generation starts over
    assert ledger.stale_claims("acme/a", "b2") == [digest(1)]
    ledger.discard_generation("b2", ["acme/a"])  # the repository failed in b2: never swapped in
    assert ledger.stale_claims("acme/a", "b2") is None
    ledger.discard_generation("b2", [])
    assert ledger.claimants([digest(1)]) == {digest(1): "acme/a"}  # discarding releases nothing


def test_generations_are_per_repository_and_batch(ledger: DedupLedger) -> None:
    _score(ledger, "acme/a", "b1", [digest(1)])
    _score(ledger, "acme/b", "b1", [digest(2)])
    assert ledger.stale_claims("acme/a", "b0") is None  # another batch's generation does not exist
    ledger.commit_generation("acme/a", "b1")
    assert ledger.stale_claims("acme/b", "b1") == []
