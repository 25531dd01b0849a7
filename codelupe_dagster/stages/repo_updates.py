"""A repository's new commit replaces its old documents: claim generations (DESIGN §6, Updates).

Each repository R holds a *generation* of claims, `keys.repo_claims(R)`: the content digests it claims in
the exact-dedup ledger. While batch B scores R, every digest R claims (new or its own, kept or dropped as a
near duplicate) goes into `keys.repo_claims_next(R, B)`. Once B's documents are all in the index,
`replace_generation` swaps the generations:

1. stale = current generation minus next generation: R's files that were edited or deleted upstream;
2. the stale documents are deleted from the index (only those the index says came from R);
3. the stale claims are released from the exact ledger, compare-and-delete (only where R still holds them);
4. the next generation becomes the current one (RENAME).

The order makes every crash recoverable by running the same step again: until step 4 the stale set is the
same on a re-run, steps 2 and 3 are idempotent, and a document is never unclaimed while still indexed.
Each next generation carries a marker member (`generation_marker`, not 16 bytes long, so never a digest):
its set exists as soon as scoring starts, even for a repository that claims nothing, so "the next
generation is gone" can only mean "already swapped" and a re-run after step 4 is a no-op rather than a
release of everything R holds.

What a released claim means for near duplicates: an LSH bucket is owned by a document digest, and its
repository is whoever the exact ledger names for that digest. When R's old version of a file is released,
the buckets it owned have an owner with no claimant: they are stale, the next document to land in them is
not a duplicate and takes them over. So a copy elsewhere of a file R deleted — an exact copy (its digest
is free again) or a near copy (its buckets are stale) — is indexed when its repository is next processed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis

from codelupe_dagster.backends.dedup_ledger import ExactDeduplicator
from codelupe_dagster.backends.search.base import SearchIndex
from codelupe_dagster.core.keys import RedisKeys

log = logging.getLogger(__name__)

DIGEST_BYTES = 16
GET_CHUNK = 500
# A next generation whose batch never reaches the index (its repos were re-queued into another batch)
# expires instead of piling up; swapping after expiry is skipped, which leaves old documents in place
# until the repository's next update, never loses one.
NEXT_GENERATION_TTL_S = 14 * 24 * 3600


def generation_marker(batch_id: str) -> bytes:
    return b"generation:" + batch_id.encode()


def start_generation(client: redis.Redis, keys: RedisKeys, repos: Iterable[str], batch_id: str) -> None:
    """Empty each repository's next generation for this batch (a re-run of scoring starts over)."""
    pipe = client.pipeline(transaction=False)
    for repo in repos:
        key = keys.repo_claims_next(repo, batch_id)
        pipe.delete(key)
        pipe.sadd(key, generation_marker(batch_id))
        pipe.expire(key, NEXT_GENERATION_TTL_S)
    pipe.execute()


def discard_generation(client: redis.Redis, keys: RedisKeys, repos: Iterable[str], batch_id: str) -> None:
    """Drop the next generations of repositories that failed in this batch: they are never swapped."""
    names = [keys.repo_claims_next(repo, batch_id) for repo in repos]
    if names:
        client.delete(*names)


@dataclass(frozen=True)
class GenerationSwap:
    repo: str
    swapped: bool  # False: nothing to swap (already done by an earlier try, or expired)
    stale: int = 0  # claims of the old generation missing from the new one
    deleted: int = 0  # documents removed from the index
    released: int = 0  # ledger entries deleted (claims another repository took meanwhile stay)


def _delete_documents(index: SearchIndex, repo: str, ids: Sequence[str]) -> int:
    """Delete the documents among `ids` that the index says came from `repo`."""
    deleted = 0
    for start in range(0, len(ids), GET_CHUNK):
        found = index.get(ids[start : start + GET_CHUNK])
        mine = [doc_id for doc_id, doc in found.items() if doc.get("repo") == repo]
        if mine:
            deleted += index.delete_ids(mine)
    return deleted


def replace_generation(
    client: redis.Redis, keys: RedisKeys, index: SearchIndex, repo: str, batch_id: str
) -> GenerationSwap:
    """Make batch `batch_id`'s claims repository `repo`'s current generation (see the module docstring).

    Call only after every document of the batch is upserted, and only for a repository the batch scored
    completely; the index is refreshed when documents were deleted."""
    current_key, next_key = keys.repo_claims(repo), keys.repo_claims_next(repo, batch_id)
    pipe = client.pipeline(transaction=False)
    pipe.smembers(current_key)
    pipe.smembers(next_key)
    current, upcoming = pipe.execute()
    if not upcoming:
        return GenerationSwap(repo, swapped=False)
    stale = sorted(d for d in current - upcoming if len(d) == DIGEST_BYTES)
    deleted = _delete_documents(index, repo, [d.hex() for d in stale]) if stale else 0
    if deleted:
        index.refresh()
    released = ExactDeduplicator(client, keys).release(stale, repo) if stale else 0
    swap = client.pipeline(transaction=True)
    swap.rename(next_key, current_key)
    swap.persist(current_key)
    swap.execute()
    if stale:
        log.info(
            "%s: new generation from batch %s; %d stale claims, %d documents deleted, %d claims released",
            repo,
            batch_id,
            len(stale),
            deleted,
            released,
        )
    return GenerationSwap(repo, swapped=True, stale=len(stale), deleted=deleted, released=released)


def replace_generations(
    client: redis.Redis, keys: RedisKeys, index: SearchIndex, repos: Iterable[str], batch_id: str
) -> list[GenerationSwap]:
    """`replace_generation` for each repository the batch scored successfully, in order."""
    return [replace_generation(client, keys, index, repo, batch_id) for repo in repos]
