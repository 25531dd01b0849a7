"""Layout 2 of the dedup ledger against layout 1, on real files (CPython's stdlib found at run time and
near copies of some of them), on both servers of the `redis_url` fixture:

- the same history of claims gives the same answers from today's writer as from the frozen layout 1
  writer (`tests/support/dedup_layout_v1.py`), and the same ledger sizes;
- a layout 1 ledger is refused, never read as empty; `migrate_layout` converts it (also after a crash
  half way), and afterwards today's writer answers as layout 1 would have;
- the recorded shape: sized once, shared by every writer, shards kept as listpacks.
"""

from __future__ import annotations

import random
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import (
    LegacyLayoutError,
    NearCandidate,
    RedisDedupLedger,
    migrate_layout,
)
from codelupe_dagster.backends.redis_dedup import MIGRATE_COMMAND, LedgerShape, read_shape, shard_of
from codelupe_dagster.core.dedup import content_digest
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.minhash import band_keys, signature
from tests.support.corpus import near_copy
from tests.support.dedup_layout_v1 import RedisDedupLedgerV1

Doc = tuple[str, bytes, list[bytes]]  # repository, digest, band keys


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    """~120 real stdlib files spread over 12 repositories, with near copies and exact copies of some of
    them in other repositories (the case near dedup exists for), in a fixed shuffled order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text("utf-8") for p in sorted(stdlib.glob("*.py")) if 3_000 < p.stat().st_size < 30_000]
    rng = random.Random(7)
    chosen = rng.sample(texts, 100)
    found: list[Doc] = []
    for i, text in enumerate(chosen):
        found.append((f"acme/r{i % 10}", content_digest(text), band_keys(signature(text))))
        if i % 5 == 0:  # a near copy in another repository
            copy = near_copy(text)
            found.append((f"fork/r{i % 3}", content_digest(copy), band_keys(signature(copy))))
        if i % 9 == 0:  # an exact copy elsewhere
            found.append((f"fork/r{i % 3}", content_digest(text), band_keys(signature(text))))
    rng.shuffle(found)
    return found


Ledger = Any  # RedisDedupLedger or the frozen RedisDedupLedgerV1: the same methods


def history(ledger: Ledger, docs: list[Doc], batches: int = 3) -> list[Any]:
    """What scoring and updates do, in batches: generations, exact claims, near claims (of the files that
    are not exact duplicates), an update that drops some files and releases them, document-level
    claims; every answer the ledger gives, in order."""
    answers: list[Any] = []
    per_batch = -(-len(docs) // batches)
    for b in range(batches):
        batch = f"b{b}"
        chunk = docs[b * per_batch : (b + 1) * per_batch]
        repos = sorted({repo for repo, _, _ in chunk})
        ledger.begin_generation(batch, repos)
        groups: dict[str, list[bytes]] = {}
        for repo, digest, _ in chunk:
            groups.setdefault(repo, []).append(digest)
        statuses = ledger.claim_exact(list(groups.items()))
        answers.append(statuses)
        held = {
            digest
            for (repo, digests), status in zip(groups.items(), statuses, strict=True)
            for digest, s in zip(digests, status, strict=True)
            if not s.is_duplicate
        }
        candidates = [NearCandidate(r, d, k) for r, d, k in chunk if d in held]
        answers.append(ledger.claim_near(candidates, batch_id=batch, current=held))
        for repo in repos:
            answers.append((repo, ledger.stale_claims(repo, batch)))
            ledger.commit_generation(repo, batch)
    # An update: acme/r1 drops its first two files upstream, then a copy elsewhere takes over.
    gone = ledger.repo_digests("acme/r1")[:2]
    answers.append(ledger.release("acme/r1", gone))
    answers.append(ledger.claimants(gone))
    answers.append(ledger.claim_near_documents([(d, k) for _, d, k in docs[:30]]))
    answers.append((ledger.exact_size(), ledger.near_bucket_counts(18)))
    return answers


def follow_up(ledger: Ledger, docs: list[Doc]) -> list[Any]:
    """A later batch over the same files from new repositories, and reads of everything."""
    answers: list[Any] = []
    ledger.begin_generation("later", ["late/x"])
    digests = [d for _, d, _ in docs]
    answers.append(ledger.claim_exact([("late/x", digests)]))
    answers.append(
        ledger.claim_near(
            [NearCandidate("late/x", d, k) for _, d, k in docs], batch_id="later", current=set()
        )
    )
    answers.append(ledger.claimants(digests))
    answers.append(ledger.not_held([(d, r) for r, d, _ in docs]))
    answers.append({repo: ledger.repo_digests(repo) for repo in sorted({r for r, _, _ in docs})})
    answers.append(ledger.claimant_repos())
    answers.append((ledger.exact_size(), ledger.near_bucket_counts(18)))
    return answers


def test_layout2_answers_as_layout1_did(redis_url: str, docs: list[Doc]) -> None:
    client = redis.Redis.from_url(redis_url)
    old = RedisDedupLedgerV1(client, RedisKeys("old:"))
    new = RedisDedupLedger(client, RedisKeys("new:"), chunk_size=37)  # several chunks per call
    answers = history(old, docs)
    assert history(new, docs) == answers
    owners = [a for a in answers if isinstance(a, list) and a and all(isinstance(o, str | None) for o in a)]
    assert sum(o is not None for batch in owners for o in batch) >= 10  # real near copies were found
    assert answers[-4] == 2  # and the update released both files
    assert follow_up(new, docs) == follow_up(old, docs)


def test_a_layout1_ledger_is_refused_then_migrated(redis_url: str, docs: list[Doc]) -> None:
    client = redis.Redis.from_url(redis_url)
    reference, legacy = RedisKeys("ref:"), RedisKeys("legacy:")
    expected = history(RedisDedupLedgerV1(client, reference), docs)
    history(RedisDedupLedgerV1(client, legacy), docs)
    RedisDedupLedgerV1(client, legacy).begin_generation("pending", ["acme/r2"])  # expires, and must keep it

    with pytest.raises(LegacyLayoutError) as refused:
        RedisDedupLedger(client, legacy)
    assert MIGRATE_COMMAND in str(refused.value) and "\n" not in str(refused.value)

    report = migrate_layout(client, legacy, expected_files=5_000)
    assert report.legacy_found and report.exact_claims == expected[-1][0] and report.skipped == 0
    assert report.buckets == sum(expected[-1][1])
    assert not client.exists(legacy.processed_files, legacy.lsh(0))
    assert client.ttl(legacy.repo_claims_next("acme/r2", "pending")) > 0
    assert client.type(legacy.repo_claims("acme/r2")) == b"string"

    migrated = RedisDedupLedger(client, legacy)
    assert migrated.shape == LedgerShape.for_files(5_000)
    assert (migrated.exact_size(), migrated.near_bucket_counts(18)) == expected[-1]
    assert follow_up(migrated, docs) == follow_up(RedisDedupLedgerV1(client, reference), docs)
    assert migrate_layout(client, legacy).exact_claims == 0  # a re-run finds nothing left to move


def test_a_migration_interrupted_half_way_resumes(redis_url: str, docs: list[Doc]) -> None:
    client = redis.Redis.from_url(redis_url)
    reference, legacy = RedisKeys("ref:"), RedisKeys("crash:")
    history(RedisDedupLedgerV1(client, reference), docs)
    history(RedisDedupLedgerV1(client, legacy), docs)

    class Crash(Exception):
        pass

    def crash_after_exact(line: str) -> None:
        if line.startswith("exact ledger"):
            raise Crash(line)

    with pytest.raises(Crash):
        migrate_layout(client, legacy, expected_files=2_000, progress=crash_after_exact)
    with pytest.raises(LegacyLayoutError, match="being migrated"):
        RedisDedupLedger(client, legacy)  # never opened half way
    migrate_layout(client, legacy, expected_files=10**9)  # the recorded shape wins over a new size
    migrated = RedisDedupLedger(client, legacy)
    assert migrated.shape == LedgerShape.for_files(2_000)
    assert follow_up(migrated, docs) == follow_up(RedisDedupLedgerV1(client, reference), docs)


def test_the_shape_is_recorded_once_and_shared(redis_client: redis.Redis) -> None:
    keys = RedisKeys("shape:")
    first = RedisDedupLedger(redis_client, keys, expected_files=50_000)
    second = RedisDedupLedger(redis_client, keys, expected_files=10**9)  # another writer's setting
    assert second.shape == first.shape == LedgerShape.for_files(50_000) == read_shape(redis_client, keys)
    assert LedgerShape.for_files(50_000).shard_bits == 10  # 50,000 / 64 = 781 -> 1,024 shards
    assert LedgerShape.for_files(10**12).shard_bits == 24  # the most the three-byte shard number holds
    assert LedgerShape.for_files(10).shard_bits == 0
    with pytest.raises(ValueError):
        LedgerShape.for_files(0)


def test_shards_stay_listpacks_at_the_expected_size(redis_client: redis.Redis) -> None:
    """At the recorded size every shard is a listpack (a few bytes per entry), at Redis' defaults too,
    and each script touches keys of a single Redis Cluster slot."""
    keys = RedisKeys("size:")
    ledger = RedisDedupLedger(redis_client, keys, expected_files=4_000)
    rng = random.Random(3)
    digests = [rng.randbytes(16) for _ in range(4_000)]
    ledger.claim_exact([(f"acme/r{i}", digests[i::40]) for i in range(40)])
    ledger.claim_near(
        [NearCandidate("acme/r0", d, [rng.randbytes(8) for _ in range(18)]) for d in digests],
        batch_id="b",
        current=set(digests),
    )
    shards: dict[str, list[bytes]] = {"exact": [], **{f"lsh{b}": [] for b in range(18)}}
    for name in redis_client.scan_iter(match="size:{*", count=10_000):
        if not name.endswith((b"count", b"claimants")):
            tag = name.split(b"{", 1)[1].split(b"}", 1)[0]
            shards["exact" if tag == b"processed:files" else f"lsh{tag.split(b':')[1].decode()}"].append(name)
    assert len(shards["exact"]) == 2**ledger.shape.shard_bits == 64
    encodings = {redis_client.object("encoding", name) for group in shards.values() for name in group}
    assert encodings == {b"listpack"}
    for group in shards.values():
        assert len({redis.crc.key_slot(name) for name in group}) == 1
    # And the raw layout is what `shard_of` says: a claimant's id in the digest's shard.
    key, field = shard_of(ledger.shape, keys.exact_shard_base, digests[0], 16, tail=True)
    assert (
        redis_client.hget(f"{keys.exact_shard_base}claimants", b"i" + redis_client.hget(key, field))
        == b"acme/r0"
    )


def test_owner_handles_with_glob_characters_are_found(redis_client: redis.Redis) -> None:
    """An owner handle is looked up with HSCAN MATCH: bytes that are glob syntax must match literally."""
    keys = RedisKeys("glob:")
    ledger = RedisDedupLedger(redis_client, keys, expected_files=100)
    tricky = [bytes(8) + b"*?[]\\*?" + bytes([n]) for n in range(4)]  # differ in the last byte only
    plain = bytes(range(16))
    ledger.claim_exact([("acme/a", tricky), ("acme/b", [plain])])
    keys_of: Callable[[str], list[bytes]] = lambda name: [name.encode().ljust(8, b".")]  # noqa: E731
    for n, digest in enumerate(tricky):
        assert ledger.claim_near(
            [NearCandidate("acme/a", digest, keys_of(f"t{n}"))], batch_id="b", current=set()
        ) == [None]
    owners = ledger.claim_near(
        [NearCandidate("acme/b", plain, keys_of(f"t{n}")) for n in range(4)], batch_id="b", current=set()
    )
    assert owners == [digest.hex() for digest in tricky]
