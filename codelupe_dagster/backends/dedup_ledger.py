"""The dedup ledger: which repository holds each unique content, exactly and nearly (DESIGN §6).

`DedupLedger` is what scoring, indexing, repository updates and migration need of the dedup state, and
nothing more; `RedisDedupLedger` is its implementation on Redis or Valkey. Swapping the dedup store means
writing another class with these methods and passing it where a ledger is taken (`BatchScorer`,
`stages.repo_updates`, `stages.index_spool`, `stages.migrate_v2`); `tests/backends` runs the same contract
suite on every implementation.

The rules every implementation keeps:
- **Exact claims**: a content digest belongs to the first *claimant* that claims it — a repository (or
  the migration). Claiming it again as the same claimant is "own", never a duplicate, so a retried batch
  never loses its files (a dedup ledger must never turn a retry into data loss).
- **Near claims**: each LSH bucket belongs to the first document that lands in it; a document is a near
  duplicate when a bucket's owner is held by *another* repository. A repository is never a near duplicate
  of itself, and an owner whose exact claim was released is stale: its buckets are taken over.
- **Generations**: while batch B scores repository R, every digest R claims is recorded in R's *next*
  generation for B. Once B is indexed, the current generation minus the next one is R's stale content
  (edited or deleted upstream); `stages.repo_updates` deletes it from the index, releases it here, and
  then makes the next generation current.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis

from codelupe_dagster.backends.forget_registry import ForgetRules, RedisForgetRegistry
from codelupe_dagster.backends.redis_dedup import (
    FOREIGN_CLAIM,
    NEW_CLAIM,
    OWN_CLAIM,
    CarrierLedger,
    ExactDeduplicator,
    NearDeduplicator,
)
from codelupe_dagster.core.keys import RedisKeys

__all__ = [
    "DIGEST_BYTES",
    "NEXT_GENERATION_TTL_S",
    "ClaimStatus",
    "DedupLedger",
    "ExactDeduplicator",
    "ForgetRules",
    "NearCandidate",
    "NearDeduplicator",
    "RedisDedupLedger",
    "generation_marker",
]

DIGEST_BYTES = 16  # a content digest; generation members of any other length are markers
# A next generation whose batch never reaches the index (its repos were re-queued into another batch)
# expires instead of piling up; swapping after expiry is skipped, which leaves old documents in place
# until the repository's next update, never loses one.
NEXT_GENERATION_TTL_S = 14 * 24 * 3600


class ClaimStatus(enum.IntEnum):
    """The outcome of claiming one digest."""

    FOREIGN = FOREIGN_CLAIM  # another claimant holds it: a duplicate
    NEW = NEW_CLAIM  # claimed now
    OWN = OWN_CLAIM  # this claimant already held it (an earlier try, or an unchanged file)

    @property
    def is_duplicate(self) -> bool:
        return self is ClaimStatus.FOREIGN


@dataclass(frozen=True, slots=True)
class NearCandidate:
    """A document offered for near-duplicate claims: its repository, digest and LSH band keys."""

    repo: str
    digest: bytes
    band_keys: Sequence[bytes]


class DedupLedger(Protocol):
    """Exact and near-duplicate claims with their claimants, and each repository's claim generations."""

    def claim_exact(self, groups: Sequence[tuple[str, Sequence[bytes]]]) -> list[list[ClaimStatus]]:
        """Claim each group's digests for its claimant, `(claimant, digests)`; one status per digest, in
        order. A digest claimed by an earlier group of the same call is FOREIGN to a later claimant."""
        ...

    def claimants(self, digests: Sequence[bytes]) -> dict[bytes, str | None]:
        """Who holds each digest (None: nobody). Reads only."""
        ...

    def not_held(self, docs: Sequence[tuple[bytes, str]]) -> list[bytes]:
        """The digests of `(digest, repository)` pairs that the repository does not hold: claimed by
        another claimant or by none. An indexed document listed here is a duplicate that got through."""
        ...

    def release(self, claimant: str, digests: Sequence[bytes]) -> int:
        """Release the claims `claimant` still holds on `digests` (others' claims stay); how many went."""
        ...

    def claim_near(
        self, candidates: Sequence[NearCandidate], *, batch_id: str, current: Container[bytes]
    ) -> list[str | None]:
        """Claim the candidates' LSH buckets and record each candidate's digest in its repository's next
        generation for `batch_id`. Per candidate: the hex digest of the document it nearly duplicates
        (held by another repository), or None. `current` holds the digests the caller's repositories
        claimed in this run: an owner among them keeps its buckets; any other owner held by the
        candidate's own repository, or by nobody, is stale and hands its buckets over."""
        ...

    def claim_near_documents(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[str | None]:
        """Document-level near claims, `(digest, band keys)`, with no repositories: a collision with any
        other document is a duplicate (the hex digest of the owner). Earlier documents win ties."""
        ...

    def begin_generation(self, batch_id: str, repos: Iterable[str]) -> None:
        """Start (or restart: a re-run of scoring starts over) each repository's next generation."""
        ...

    def discard_generation(self, batch_id: str, repos: Iterable[str]) -> None:
        """Forget the next generations of repositories that failed in this batch: never swapped in."""
        ...

    def stale_claims(self, repo: str, batch_id: str) -> list[bytes] | None:
        """The current generation's digests missing from the batch's next generation, sorted; None when
        there is no next generation to swap in (already swapped by an earlier try, or expired)."""
        ...

    def commit_generation(self, repo: str, batch_id: str) -> None:
        """Make the batch's next generation the repository's current one."""
        ...

    def exact_size(self) -> int:
        """How many digests are claimed: the unique contents seen (what `codelupe status` reports)."""
        ...

    # Forgetting (DESIGN §11, `stages.forget`): who else carried a digest, and what must stay out.

    def record_carriers(self, pairs: Sequence[tuple[bytes, str]]) -> None:
        """Note that each `(digest, repository)` copy was dropped as a duplicate of the digest's holder."""
        ...

    def carriers(self, digests: Sequence[bytes]) -> dict[bytes, list[str]]:
        """The repositories recorded as carrying each digest (only digests with any)."""
        ...

    def forget_rules(self) -> ForgetRules:
        """The forgotten names and path globs: a file they match is never claimed or kept."""
        ...

    def repo_digests(self, repo: str) -> list[bytes]:
        """Every digest in the repository's current and next generations, sorted."""
        ...

    def forget_digests(self, repo: str, digests: Sequence[bytes]) -> None:
        """Take digests out of the repository's generations (current and next); with `digests` empty,
        drop its generations altogether."""
        ...

    def claimant_repos(self) -> set[str]:
        """Every repository with a claim generation (current or next): all that ever had files indexed."""
        ...

    def release_near(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> int:
        """Free the LSH buckets each `(digest, band keys)` document still owns; how many went."""
        ...

    def forget_carrier(self, is_gone: Callable[[str], bool]) -> int:
        """Take forgotten repositories out of every carrier list; how many entries changed."""
        ...

    def near_bucket_counts(self, bands: int) -> list[int]:
        """How many LSH buckets each of the first `bands` bands holds: the near-duplicate state's size."""
        ...


def generation_marker(batch_id: str) -> bytes:
    """A member of every next generation, not 16 bytes long so never a digest: the set exists as soon as
    scoring starts, even for a repository that claims nothing, so "the next generation is gone" can only
    mean "already swapped", and a re-run after the swap is a no-op, never a release of everything."""
    return b"generation:" + batch_id.encode()


class RedisDedupLedger:
    """`DedupLedger` on Redis or Valkey: the exact ledger `keys.processed_files`, the LSH buckets
    `keys.lsh(band)`, and generations as sets `keys.repo_claims(repo)` / `keys.repo_claims_next(repo,
    batch)`. Claims are pipelined Lua calls, one round trip per chunk of `chunk_size` files."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000):
        self._client = client
        self._keys = keys
        self._exact = ExactDeduplicator(client, keys, chunk_size)
        self._near = NearDeduplicator(client, keys, chunk_size)
        self._carriers = CarrierLedger(client, keys, chunk_size=chunk_size)

    @property
    def keys(self) -> RedisKeys:
        return self._keys

    # ------------------------------------------------------------------ exact

    def claim_exact(self, groups: Sequence[tuple[str, Sequence[bytes]]]) -> list[list[ClaimStatus]]:
        replies = self._exact.claim_groups(groups)
        return [[ClaimStatus(status) for status in group] for group in replies]

    def claimants(self, digests: Sequence[bytes]) -> dict[bytes, str | None]:
        return {
            digest: owner.decode() if owner is not None else None
            for digest, owner in self._exact.claimants(digests).items()
        }

    def not_held(self, docs: Sequence[tuple[bytes, str]]) -> list[bytes]:
        owners = self._exact.claimants([digest for digest, _ in docs])
        return [digest for digest, repo in docs if owners[digest] != repo.encode()]

    def release(self, claimant: str, digests: Sequence[bytes]) -> int:
        return self._exact.release(digests, claimant) if digests else 0

    # ------------------------------------------------------------------ near

    def claim_near(
        self, candidates: Sequence[NearCandidate], *, batch_id: str, current: Container[bytes]
    ) -> list[str | None]:
        # The generation is recorded in the same round trip as the first chunk's bucket claims.
        generation: dict[str, list[bytes]] = defaultdict(list)
        for candidate in candidates:
            generation[self._keys.repo_claims_next(candidate.repo, batch_id)].append(candidate.digest)
        return self._near.claim_for_repos(
            [(c.digest, c.band_keys) for c in candidates],
            [c.repo for c in candidates],
            current=current,
            record=generation,
        )

    def claim_near_documents(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[str | None]:
        return self._near.claim_many(docs)

    # ------------------------------------------------------------------ generations

    def begin_generation(self, batch_id: str, repos: Iterable[str]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for repo in repos:
            key = self._keys.repo_claims_next(repo, batch_id)
            pipe.delete(key)
            pipe.sadd(key, generation_marker(batch_id))
            pipe.expire(key, NEXT_GENERATION_TTL_S)
        pipe.execute()

    def discard_generation(self, batch_id: str, repos: Iterable[str]) -> None:
        names = [self._keys.repo_claims_next(repo, batch_id) for repo in repos]
        if names:
            self._client.delete(*names)

    def stale_claims(self, repo: str, batch_id: str) -> list[bytes] | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.smembers(self._keys.repo_claims(repo))
        pipe.smembers(self._keys.repo_claims_next(repo, batch_id))
        current, upcoming = pipe.execute()
        if not upcoming:
            return None
        return sorted(d for d in current - upcoming if len(d) == DIGEST_BYTES)

    # ------------------------------------------------------------------ sizes

    def exact_size(self) -> int:
        return int(self._client.hlen(self._keys.processed_files))

    def near_bucket_counts(self, bands: int) -> list[int]:
        pipe = self._client.pipeline(transaction=False)
        for band in range(bands):
            pipe.hlen(self._keys.lsh(band))
        return [int(count) for count in pipe.execute()] if bands > 0 else []

    def commit_generation(self, repo: str, batch_id: str) -> None:
        current_key = self._keys.repo_claims(repo)
        swap = self._client.pipeline(transaction=True)
        swap.rename(self._keys.repo_claims_next(repo, batch_id), current_key)
        swap.persist(current_key)
        swap.execute()

    # ------------------------------------------------------------------ forgetting

    def record_carriers(self, pairs: Sequence[tuple[bytes, str]]) -> None:
        if pairs:
            self._carriers.add(pairs)

    def carriers(self, digests: Sequence[bytes]) -> dict[bytes, list[str]]:
        return self._carriers.get(digests)

    def forget_rules(self) -> ForgetRules:
        return RedisForgetRegistry(self._client, self._keys).rules()

    def _generation_keys(self, repo: str) -> list[str]:
        current = self._keys.repo_claims(repo)
        pattern = self._keys.repo_claims_next(repo, "*")
        # SCAN MATCH treats [ ? * \ as special; repository names cannot hold them (core.repo_names).
        return [current, *(k.decode() for k in self._client.scan_iter(match=pattern, count=1000))]

    def repo_digests(self, repo: str) -> list[bytes]:
        found: set[bytes] = set()
        for key in self._generation_keys(repo):
            found.update(d for d in self._client.sscan_iter(key, count=10_000) if len(d) == DIGEST_BYTES)
        return sorted(found)

    def forget_digests(self, repo: str, digests: Sequence[bytes]) -> None:
        keys = self._generation_keys(repo)
        if not digests:
            self._client.delete(*keys)
            return
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            for start in range(0, len(digests), 10_000):
                pipe.srem(key, *digests[start : start + 10_000])
        pipe.execute()

    def release_near(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> int:
        signed = [(digest, keys) for digest, keys in docs if keys]
        return self._near.release(signed) if signed else 0

    def forget_carrier(self, is_gone: Callable[[str], bool]) -> int:
        return self._carriers.remove_carrier(is_gone)

    def claimant_repos(self) -> set[str]:
        prefix = self._keys.repo_claims("")
        found: set[str] = set()
        for key in self._client.scan_iter(match=prefix + "*", count=10_000):
            name = key.decode()[len(prefix) :]
            found.add(name.split(":next:", 1)[0])
        return found
