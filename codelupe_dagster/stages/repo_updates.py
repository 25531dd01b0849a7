"""A repository's new commit replaces its old documents: claim generations (DESIGN §6, Updates).

Each repository R holds a *generation* of claims in the dedup ledger: the content digests it claims in the
exact ledger. While batch B scores R, every digest R claims (new or its own, kept or dropped as a near
duplicate) goes into R's next generation for B. Once B's documents are all in the index,
`replace_generation` swaps the generations:

1. stale = current generation minus next generation: R's files that were edited or deleted upstream;
2. the stale documents are deleted from the index (only those the index says came from R);
3. the stale claims are released from the exact ledger, compare-and-delete (only where R still holds them);
4. the next generation becomes the current one.

The order makes every crash recoverable by running the same step again: until step 4 the stale set is the
same on a re-run, steps 2 and 3 are idempotent, and a document is never unclaimed while still indexed.
A next generation exists as soon as scoring starts, even for a repository that claims nothing, so "there
is no next generation" can only mean "already swapped" (or expired), and a re-run after step 4 is a no-op
rather than a release of everything R holds.

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

from codelupe_dagster.backends.dedup_ledger import DedupLedger
from codelupe_dagster.backends.search.base import SearchIndex

log = logging.getLogger(__name__)

GET_CHUNK = 500


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
        found = index.get(ids[start : start + GET_CHUNK], fields=("repo",))
        mine = [doc_id for doc_id, doc in found.items() if doc.get("repo") == repo]
        if mine:
            deleted += index.delete_ids(mine)
    return deleted


def replace_generation(ledger: DedupLedger, index: SearchIndex, repo: str, batch_id: str) -> GenerationSwap:
    """Make batch `batch_id`'s claims repository `repo`'s current generation (see the module docstring).

    Call only after every document of the batch is upserted, and only for a repository the batch scored
    completely; the index is refreshed when documents were deleted."""
    stale = ledger.stale_claims(repo, batch_id)
    if stale is None:
        return GenerationSwap(repo, swapped=False)
    deleted = _delete_documents(index, repo, [d.hex() for d in stale]) if stale else 0
    if deleted:
        index.refresh()
    released = ledger.release(repo, stale) if stale else 0
    ledger.commit_generation(repo, batch_id)
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
    ledger: DedupLedger, index: SearchIndex, repos: Iterable[str], batch_id: str
) -> list[GenerationSwap]:
    """`replace_generation` for each repository the batch scored successfully, in order."""
    return [replace_generation(ledger, index, repo, batch_id) for repo in repos]
