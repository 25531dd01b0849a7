"""Exact and near-duplicate claims in Redis: first writer wins, and a claimant recognises its own claims.

Both ledgers are plain hashes written with HSETNX, so they are correct under any number of concurrent
batches. Each check-and-claim of a chunk of files is ONE round trip: a server-side Lua script per hash
does the HSETNX and, for a lost race, the HGET that tells "claimed by me on an earlier try" from
"claimed by someone else". Every script touches a single key, so the design holds on Redis Cluster.

Why the claimant matters (DESIGN §6): a batch that crashed after scoring and before indexing has
already claimed its digests; when it is re-run, those claims must read as "mine", or the retry would
drop every file as a duplicate of itself and lose it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from codelupe_dagster.core.keys import RedisKeys

# Returns one integer per digest: 1 = newly claimed, 2 = already ours, 0 = claimed by another claimant.
_EXACT_CLAIM = """
local key, me = KEYS[1], ARGV[1]
local out = {}
for i = 2, #ARGV do
  if redis.call('HSETNX', key, ARGV[i], me) == 1 then
    out[i - 1] = 1
  elseif redis.call('HGET', key, ARGV[i]) == me then
    out[i - 1] = 2
  else
    out[i - 1] = 0
  end
end
return out
"""

# ARGV = bucket1, doc1, bucket2, doc2, ...; returns per pair 0 when the bucket is (now) the document's
# own, or the owning document's id when another document claimed it first.
_BAND_CLAIM = """
local key = KEYS[1]
local out = {}
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', key, ARGV[i], ARGV[i + 1]) == 1 then
    out[(i + 1) / 2] = 0
  else
    local owner = redis.call('HGET', key, ARGV[i])
    if owner == ARGV[i + 1] then out[(i + 1) / 2] = 0 else out[(i + 1) / 2] = owner end
  end
end
return out
"""

NEW_CLAIM, OWN_CLAIM, FOREIGN_CLAIM = 1, 2, 0


class _Script:
    """A Lua script called by SHA, reloaded once if the server lost it (restart, SCRIPT FLUSH)."""

    def __init__(self, client: redis.Redis, source: str):
        self._client = client
        self._source = source
        self.sha = client.script_load(source)

    def reload(self) -> None:
        self.sha = self._client.script_load(self._source)


@dataclass(frozen=True)
class ExactClaim:
    digest: bytes
    status: int  # NEW_CLAIM, OWN_CLAIM or FOREIGN_CLAIM

    @property
    def is_duplicate(self) -> bool:
        return self.status == FOREIGN_CLAIM


class ExactDeduplicator:
    """The exact-dedup ledger `keys.processed_files`: 16-byte digest -> claimant (a batch id)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000):
        self._client = client
        self._key = keys.processed_files
        self._chunk_size = chunk_size
        self._script = _Script(client, _EXACT_CLAIM)

    def claim_status(self, digests: Sequence[bytes], claimant: str) -> list[int]:
        """Claim every digest for `claimant`; one status per digest (see NEW_CLAIM etc.)."""
        statuses: list[int] = []
        for start in range(0, len(digests), self._chunk_size):
            chunk = digests[start : start + self._chunk_size]
            statuses.extend(self._call(chunk, claimant))
        return statuses

    def claim(self, digests: Sequence[bytes], claimant: str) -> list[bool]:
        """True where the digest belongs to `claimant` (new or from an earlier try), False for a duplicate."""
        return [status != FOREIGN_CLAIM for status in self.claim_status(digests, claimant)]

    def _call(self, chunk: Sequence[bytes], claimant: str) -> list[int]:
        if not chunk:
            return []
        try:
            return self._client.evalsha(self._script.sha, 1, self._key, claimant, *chunk)
        except redis.exceptions.NoScriptError:
            self._script.reload()
            return self._client.evalsha(self._script.sha, 1, self._key, claimant, *chunk)


class NearDeduplicator:
    """LSH buckets `keys.lsh(band)`: bucket -> the 16-byte digest of the document that claimed it first.

    Ownership is per document, not per batch: document ids are content digests, so "the same claimant"
    means "the same content", which is exactly the re-run case; a different document of the same batch
    that shares a bucket is a real near duplicate. A document claims every free bucket of its bands even
    when it turns out to be a near duplicate, so clusters grow transitively (as union-find LSH dedup does).
    Owners are stored as raw 16 bytes (not hex) to halve the ledger's biggest values.
    """

    def __init__(self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000):
        self._client = client
        self._keys = keys
        self._chunk_size = chunk_size
        self._script = _Script(client, _BAND_CLAIM)

    def claim(self, doc_id: bytes, band_keys: Sequence[bytes]) -> str | None:
        """The owning document's hex id when `doc_id` is a near duplicate, else None."""
        return self.claim_many([(doc_id, band_keys)])[0]

    def claim_many(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[str | None]:
        """`claim` for many documents, in one round trip per chunk (one script call per band, pipelined).

        Within a chunk, earlier documents win ties, so the caller's order decides which copy survives.
        """
        result: list[str | None] = []
        for start in range(0, len(docs), self._chunk_size):
            result.extend(self._claim_chunk(docs[start : start + self._chunk_size]))
        return result

    def _claim_chunk(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[str | None]:
        per_band: dict[int, list[bytes]] = {}
        members: dict[int, list[int]] = {}
        for position, (doc_id, band_keys) in enumerate(docs):
            for band, bucket in enumerate(band_keys):
                per_band.setdefault(band, []).extend((bucket, doc_id))
                members.setdefault(band, []).append(position)
        if not per_band:
            return [None] * len(docs)
        try:
            replies = self._run(per_band)
        except redis.exceptions.NoScriptError:
            self._script.reload()
            replies = self._run(per_band)
        owners: list[str | None] = [None] * len(docs)
        for band, reply in zip(per_band, replies, strict=True):
            for position, owner in zip(members[band], reply, strict=True):
                # The first foreign owner found is the cluster id; any one is enough to call it a duplicate.
                if owner != 0 and owners[position] is None:
                    owners[position] = bytes(owner).hex()
        return owners

    def _run(self, per_band: dict[int, list[bytes]]) -> list[list[int | bytes]]:
        pipe = self._client.pipeline(transaction=False)
        for band, args in per_band.items():
            pipe.evalsha(self._script.sha, 1, self._keys.lsh(band), *args)
        return pipe.execute()
