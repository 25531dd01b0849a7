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

import numpy as np
import redis

from codelupe_dagster.core.keys import RedisKeys

# Arguments travel packed (fixed-width fields concatenated into one string) and replies come back packed
# too: with 32 bands, a chunk of 1,000 files is 64,000 values, and encoding/decoding them one by one in
# redis-py cost more CPU than the rest of the parent process.

# ARGV: claimant, digest width, concatenated digests. Returns one character per digest:
# "1" newly claimed, "2" already ours, "0" claimed by another claimant.
_EXACT_CLAIM = """
local key, me, width, packed = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 1, #packed, width do
  local digest = string.sub(packed, i, i + width - 1)
  if redis.call('HSETNX', key, digest, me) == 1 then
    out[#out + 1] = '1'
  elseif redis.call('HGET', key, digest) == me then
    out[#out + 1] = '2'
  else
    out[#out + 1] = '0'
  end
end
return table.concat(out)
"""

# ARGV: bucket width, doc id width, concatenated buckets, concatenated doc ids (pair i = bucket i, doc i).
# Returns a flat list of (1-based position, owner) for buckets another document claimed first; a bucket
# that is free or already the document's own (a retry) is claimed silently.
_BAND_CLAIM = """
local key = KEYS[1]
local bw, dw, buckets, docs = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local out = {}
local n = #buckets / bw
for i = 0, n - 1 do
  local bucket = string.sub(buckets, i * bw + 1, (i + 1) * bw)
  local doc = string.sub(docs, i * dw + 1, (i + 1) * dw)
  if redis.call('HSETNX', key, bucket, doc) == 0 then
    local owner = redis.call('HGET', key, bucket)
    if owner ~= doc then
      out[#out + 1] = i + 1
      out[#out + 1] = owner
    end
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
        width = _uniform_width(chunk, "digests")
        args = (claimant, width, b"".join(chunk))
        try:
            reply = self._client.evalsha(self._script.sha, 1, self._key, *args)
        except redis.exceptions.NoScriptError:
            self._script.reload()
            reply = self._client.evalsha(self._script.sha, 1, self._key, *args)
        return [int(c) for c in bytes(reply).decode()]


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
        members, calls = _band_calls_uniform(docs, self._keys)
        if calls is None:
            members, calls = _band_calls_general(docs, self._keys)
        if not calls:
            return [None] * len(docs)
        try:
            replies = self._run(calls)
        except redis.exceptions.NoScriptError:
            self._script.reload()
            replies = self._run(calls)
        owners: list[str | None] = [None] * len(docs)
        for band_members, reply in zip(members, replies, strict=True):
            for i in range(0, len(reply), 2):
                position = band_members[int(reply[i]) - 1]
                # The first foreign owner found is the cluster id; any one is enough to call it a duplicate.
                if owners[position] is None:
                    owners[position] = bytes(reply[i + 1]).hex()
        return owners

    def _run(self, calls: list[tuple[str, int, int, bytes, bytes]]) -> list[list[int | bytes]]:
        pipe = self._client.pipeline(transaction=False)
        for key, *args in calls:
            pipe.evalsha(self._script.sha, 1, key, *args)
        return pipe.execute()


_BandCalls = tuple[list[list[int]], list[tuple[str, int, int, bytes, bytes]]]


def _band_calls_uniform(
    docs: Sequence[tuple[bytes, Sequence[bytes]]], keys: RedisKeys
) -> tuple[list[list[int]], list[tuple[str, int, int, bytes, bytes]] | None]:
    """The script calls of a chunk in the usual case, built without a per-key Python loop: every
    signed document has the same number of bands and the same key and id widths, so all band keys
    form one (documents, bands, width) byte array whose columns are the per-band arguments.
    Returns (members, None) when the chunk is not uniform (the general builder handles it)."""
    signed = [(position, doc_id, band_keys) for position, (doc_id, band_keys) in enumerate(docs) if band_keys]
    if not signed:
        return [], []
    bands = len(signed[0][2])
    key_width = len(signed[0][2][0])
    id_width = len(signed[0][1])
    if key_width == 0 or id_width == 0:
        return [], None
    if any(len(band_keys) != bands or len(doc_id) != id_width for _, doc_id, band_keys in signed):
        return [], None
    packed = b"".join(b"".join(band_keys) for _, _, band_keys in signed)
    if len(packed) != len(signed) * bands * key_width:
        return [], None  # some key has another width
    matrix = np.frombuffer(packed, dtype=np.uint8).reshape(len(signed), bands, key_width)
    doc_ids = b"".join(doc_id for _, doc_id, _ in signed)
    positions = [position for position, _, _ in signed]
    calls = [
        (keys.lsh(band), key_width, id_width, matrix[:, band, :].tobytes(), doc_ids) for band in range(bands)
    ]
    return [positions] * bands, calls


def _band_calls_general(docs: Sequence[tuple[bytes, Sequence[bytes]]], keys: RedisKeys) -> _BandCalls:
    buckets: dict[int, list[bytes]] = {}
    doc_ids: dict[int, list[bytes]] = {}
    members: dict[int, list[int]] = {}
    for position, (doc_id, band_keys) in enumerate(docs):
        for band, bucket in enumerate(band_keys):
            buckets.setdefault(band, []).append(bucket)
            doc_ids.setdefault(band, []).append(doc_id)
            members.setdefault(band, []).append(position)
    calls = [
        (
            keys.lsh(band),
            _uniform_width(buckets[band], "band keys"),
            _uniform_width(doc_ids[band], "document ids"),
            b"".join(buckets[band]),
            b"".join(doc_ids[band]),
        )
        for band in buckets
    ]
    return [members[band] for band in buckets], calls


def _uniform_width(values: Sequence[bytes], what: str) -> int:
    """Packed arguments need fixed-width fields; digests and band keys are fixed-size hashes."""
    width = len(values[0])
    if width == 0 or any(len(v) != width for v in values):
        raise ValueError(f"{what} must all have the same non-zero length to be claimed")
    return width
