"""A frozen copy of the dedup ledger as it wrote Redis in layout 1 (commit 3c62f5f): one big hash per
LSH band (`<prefix>lsh:<band>`, bucket -> 16-byte owner), the exact ledger as one hash
(`<prefix>processed:files`, digest -> repository name) and claim generations as sets. Tests write a ledger
with it, migrate it (`backends.dedup_ledger.migrate_layout`) and check that the new layout reads the same
claims. Never import it from the product: it exists so the migration is tested against the real old
writer, not against a description of it.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from codelupe_dagster.backends.forget_registry import ForgetRules, RedisForgetRegistry
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

# ARGV: claimant, digest width, concatenated digests. Deletes each digest still held by the claimant (a
# digest another repository has claimed since is left alone); returns how many were released.
_EXACT_RELEASE = """
local key, me, width, packed = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local released = 0
for i = 1, #packed, width do
  local digest = string.sub(packed, i, i + width - 1)
  if redis.call('HGET', key, digest) == me then
    redis.call('HDEL', key, digest)
    released = released + 1
  end
end
return released
"""

# ARGV: bucket width, id width, concatenated buckets, expected owners, new owners (triple i = bucket i,
# expected i, new i). A bucket moves to its new owner only if it still holds the expected one.
_BAND_TAKEOVER = """
local key = KEYS[1]
local bw, dw, buckets, old, new = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local moved = 0
for i = 0, #buckets / bw - 1 do
  local bucket = string.sub(buckets, i * bw + 1, (i + 1) * bw)
  if redis.call('HGET', key, bucket) == string.sub(old, i * dw + 1, (i + 1) * dw) then
    redis.call('HSET', key, bucket, string.sub(new, i * dw + 1, (i + 1) * dw))
    moved = moved + 1
  end
end
return moved
"""

# ARGV: the most carriers kept per digest, then (digest, repository) pairs. Appends the repository to the
# digest's newline-separated carriers unless it is there already or the list is full; returns how many
# were added. A carrier is a repository whose copy of the digest was dropped as a duplicate.
_CARRIER_ADD = """
local key, most = KEYS[1], tonumber(ARGV[1])
local added = 0
for i = 2, #ARGV, 2 do
  local digest, repo = ARGV[i], ARGV[i + 1]
  local current = redis.call('HGET', key, digest)
  if not current then
    redis.call('HSET', key, digest, repo)
    added = added + 1
  else
    local count, found = 0, false
    for name in string.gmatch(current, '[^\\n]+') do
      count = count + 1
      if name == repo then found = true end
    end
    if not found and count < most then
      redis.call('HSET', key, digest, current .. '\\n' .. repo)
      added = added + 1
    end
  end
end
return added
"""

# ARGV: bucket width, id width, concatenated buckets, concatenated owners (pair i = bucket i, owner i).
# Deletes each bucket still owned by its given owner (a forgotten document); returns how many went.
_BAND_RELEASE = """
local key = KEYS[1]
local bw, dw, buckets, owners = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local released = 0
for i = 0, #buckets / bw - 1 do
  local bucket = string.sub(buckets, i * bw + 1, (i + 1) * bw)
  if redis.call('HGET', key, bucket) == string.sub(owners, i * dw + 1, (i + 1) * dw) then
    redis.call('HDEL', key, bucket)
    released = released + 1
  end
end
return released
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

    def pipelined(
        self, calls: Sequence[tuple[str, Sequence[Any]]], extra: Mapping[str, Sequence[bytes]]
    ) -> list[Any]:
        """One round trip: the script once per `(key, args)`, then SADD key -> members for `extra`.
        Returns the script replies only."""
        for attempt in (0, 1):
            pipe = self._client.pipeline(transaction=False)
            for key, args in calls:
                pipe.evalsha(self.sha, 1, key, *args)
            for key, members in extra.items():
                if members:
                    pipe.sadd(key, *members)
            try:
                return pipe.execute()[: len(calls)]
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                self.reload()  # the SADDs of the failed pipeline ran; running them again is harmless
        raise AssertionError("unreachable")


class ExactDeduplicator:
    """The exact-dedup ledger `keys.processed_files`: 16-byte digest -> claimant (a repository)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000):
        self._client = client
        self._key = keys.processed_files
        self._chunk_size = chunk_size
        self._script = _Script(client, _EXACT_CLAIM)
        self._release = _Script(client, _EXACT_RELEASE)

    def claim_groups(
        self,
        groups: Sequence[tuple[str, Sequence[bytes]]],
        record: Mapping[str, Sequence[bytes]] | None = None,
    ) -> list[list[int]]:
        """`claim_status` for several claimants in one round trip; `record` is SADDed in the same trip."""
        calls: list[tuple[str, Sequence[Any]]] = []
        owners: list[int] = []
        for group, (claimant, digests) in enumerate(groups):
            for start in range(0, len(digests), self._chunk_size):
                chunk = digests[start : start + self._chunk_size]
                calls.append((self._key, (claimant, _uniform_width(chunk, "digests"), b"".join(chunk))))
                owners.append(group)
        statuses: list[list[int]] = [[] for _ in groups]
        for group, reply in zip(owners, self._script.pipelined(calls, record or {}), strict=True):
            statuses[group].extend(int(c) for c in bytes(reply).decode())
        return statuses

    def release(self, digests: Sequence[bytes], claimant: str) -> int:
        """Delete the claims `claimant` still holds on these digests (compare-and-delete); how many went."""
        released = 0
        for start in range(0, len(digests), self._chunk_size):
            chunk = digests[start : start + self._chunk_size]
            if chunk:
                args = (claimant, _uniform_width(chunk, "digests"), b"".join(chunk))
                released += sum(self._release.pipelined([(self._key, args)], {}))
        return released

    def claimants(self, digests: Sequence[bytes]) -> dict[bytes, bytes | None]:
        """The ledger's claimant of each digest (None when unclaimed), one HMGET."""
        if not digests:
            return {}
        owners = self._client.hmget(self._key, list(digests))
        return {digest: _as_bytes(owner) for digest, owner in zip(digests, owners, strict=True)}

    def claim_status(self, digests: Sequence[bytes], claimant: str) -> list[int]:
        """Claim every digest for `claimant` (a repository); one status per digest (see NEW_CLAIM etc.)."""
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


@dataclass(frozen=True, slots=True)
class _Collision:
    """A bucket a document wanted that another document owns."""

    key: str  # the band's hash
    bucket: bytes
    owner: bytes  # the owning document's 16-byte digest


class NearDeduplicator:
    """LSH buckets `keys.lsh(band)`: bucket -> the 16-byte digest of the document that claimed it first.

    `claim_many` is the document-level primitive: ownership per document, "the same claimant" meaning the
    same content (the re-run case). `claim_for_repos` is what a batch uses: it resolves each owner to its
    repository through the exact ledger (see the module docstring). A document claims every free bucket of
    its bands even when it turns out to be a near duplicate, so clusters grow transitively (as union-find
    LSH dedup does). Owners are stored as raw 16 bytes (not hex) to halve the ledger's biggest values.
    """

    def __init__(self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000):
        self._client = client
        self._keys = keys
        self._chunk_size = chunk_size
        self._script = _Script(client, _BAND_CLAIM)
        self._takeover = _Script(client, _BAND_TAKEOVER)
        self._band_release = _Script(client, _BAND_RELEASE)
        self._ledger = ExactDeduplicator(client, keys)

    def claim(self, doc_id: bytes, band_keys: Sequence[bytes]) -> str | None:
        """The owning document's hex id when `doc_id` is a near duplicate, else None."""
        return self.claim_many([(doc_id, band_keys)])[0]

    def claim_many(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[str | None]:
        """`claim` for many documents, in one round trip per chunk (one script call per band, pipelined).

        Within a chunk, earlier documents win ties, so the caller's order decides which copy survives.
        """
        result: list[str | None] = []
        for start in range(0, len(docs), self._chunk_size):
            collisions = self._collide(docs[start : start + self._chunk_size], {})
            # The first foreign owner found is the cluster id; any one is enough to call it a duplicate.
            result.extend(found[0].owner.hex() if found else None for found in collisions)
        return result

    def claim_for_repos(
        self,
        docs: Sequence[tuple[bytes, Sequence[bytes]]],
        repos: Sequence[str],
        current: Container[bytes] = (),
        record: Mapping[str, Sequence[bytes]] | None = None,
    ) -> list[str | None]:
        """Near-duplicate owners (hex) of documents read from `repos` (one per document), where an owner
        counts only if another repository claims it in the exact ledger.

        Buckets held by a released (stale) owner, or by the same repository's *old* version of a file,
        are taken over. `current` holds the digests the caller's repositories claimed in this run: an
        owner among them is a current file of its repository and keeps its buckets. `record` (set key ->
        members) is SADDed in the same round trip as the bucket claims.
        """
        result: list[str | None] = []
        for start in range(0, len(docs), self._chunk_size):
            chunk = docs[start : start + self._chunk_size]
            collisions = self._collide(chunk, (record or {}) if start == 0 else {})
            owners = {c.owner for found in collisions for c in found}
            claimants = self._ledger.claimants(sorted(owners))
            takeovers: dict[str, list[tuple[bytes, bytes, bytes]]] = defaultdict(list)
            for (doc_id, _), repo, found in zip(
                chunk, repos[start : start + len(chunk)], collisions, strict=True
            ):
                me = repo.encode()
                foreign: str | None = None
                for c in found:
                    claimant = claimants[c.owner]
                    if claimant is None or (claimant == me and c.owner not in current):
                        takeovers[c.key].append((c.bucket, c.owner, doc_id))
                    elif claimant != me and foreign is None:
                        foreign = c.owner.hex()
                result.append(foreign)
            self._take_over(takeovers)
        if not docs and record:
            self._script.pipelined([], record)
        return result

    def release(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> int:
        """Free the buckets each `(digest, band keys)` document still owns (compare-and-delete, one round
        trip per chunk): what forgetting a document leaves of it in the LSH state; how many went."""
        released = 0
        for start in range(0, len(docs), self._chunk_size):
            _, calls = _band_calls_general(docs[start : start + self._chunk_size], self._keys)
            replies = self._band_release.pipelined(
                [(key, (width, id_width, buckets, ids)) for key, width, id_width, buckets, ids in calls], {}
            )
            released += sum(int(n) for n in replies)
        return released

    def _take_over(self, takeovers: Mapping[str, list[tuple[bytes, bytes, bytes]]]) -> None:
        calls: list[tuple[str, Sequence[Any]]] = []
        for key, moves in takeovers.items():
            buckets, old, new = zip(*moves, strict=True)
            calls.append(
                (
                    key,
                    (
                        _uniform_width(buckets, "band keys"),
                        _uniform_width(old + new, "document ids"),
                        b"".join(buckets),
                        b"".join(old),
                        b"".join(new),
                    ),
                )
            )
        if calls:
            self._takeover.pipelined(calls, {})

    def _collide(
        self, docs: Sequence[tuple[bytes, Sequence[bytes]]], record: Mapping[str, Sequence[bytes]]
    ) -> list[list[_Collision]]:
        """Claim the free buckets of a chunk; per document, the buckets another document owns."""
        members, calls = _band_calls_uniform(docs, self._keys)
        if calls is None:
            members, calls = _band_calls_general(docs, self._keys)
        found: list[list[_Collision]] = [[] for _ in docs]
        if not calls:
            if record:
                self._script.pipelined([], record)
            return found
        replies = self._script.pipelined([(key, args) for key, *args in calls], record)
        for (key, width, _id_width, buckets, _ids), band_members, reply in zip(
            calls, members, replies, strict=True
        ):
            for i in range(0, len(reply), 2):
                j = int(reply[i]) - 1
                bucket = buckets[j * width : (j + 1) * width]
                found[band_members[j]].append(_Collision(key, bucket, bytes(reply[i + 1])))
        return found


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


def _as_bytes(value: bytes | str | None) -> bytes | None:
    """A reply value as bytes (clients are built without `decode_responses`, but be safe)."""
    return value.encode() if isinstance(value, str) else value


def _uniform_width(values: Sequence[bytes], what: str) -> int:
    """Packed arguments need fixed-width fields; digests and band keys are fixed-size hashes."""
    width = len(values[0])
    if width == 0 or any(len(v) != width for v in values):
        raise ValueError(f"{what} must all have the same non-zero length to be claimed")
    return width


class CarrierLedger:
    """`keys.carriers`: digest -> the repositories (at most `most`) whose copies of it were dropped as
    exact or near duplicates. When the digest's holder is forgotten they are re-read, so a surviving copy
    takes the removed one's place (DESIGN §11). Bounded: one hash field per duplicated digest."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, most: int = 4, chunk_size: int = 1000):
        self._client = client
        self._key = keys.carriers
        self._most = most
        self._chunk_size = chunk_size
        self._script = _Script(client, _CARRIER_ADD)

    def add(self, pairs: Sequence[tuple[bytes, str]]) -> int:
        """Record each `(digest, repository)`; one round trip per chunk; how many were new."""
        calls: list[tuple[str, Sequence[Any]]] = []
        for start in range(0, len(pairs), self._chunk_size):
            chunk = pairs[start : start + self._chunk_size]
            calls.append((self._key, (self._most, *(v for pair in chunk for v in pair))))
        return sum(int(n) for n in self._script.pipelined(calls, {})) if calls else 0

    def get(self, digests: Sequence[bytes]) -> dict[bytes, list[str]]:
        """The recorded carriers of each digest that has any."""
        found: dict[bytes, list[str]] = {}
        for start in range(0, len(digests), self._chunk_size):
            chunk = list(digests[start : start + self._chunk_size])
            for digest, value in zip(chunk, self._client.hmget(self._key, chunk), strict=True):
                raw = _as_bytes(value)
                if raw:
                    found[digest] = raw.decode().split("\n")
        return found

    def drop(self, digests: Sequence[bytes]) -> int:
        return int(self._client.hdel(self._key, *digests)) if digests else 0

    def remove_carrier(self, is_gone: Callable[[str], bool]) -> int:
        """Take repositories for which `is_gone(name)` holds out of every entry (a full HSCAN: forgetting
        is rare, and a carrier's own list of digests would double the ledger); how many entries changed."""
        changed = 0
        pipe = self._client.pipeline(transaction=False)
        for digest, value in self._client.hscan_iter(self._key, count=10_000):
            names = (_as_bytes(value) or b"").decode().split("\n")
            kept = [name for name in names if not is_gone(name)]
            if len(kept) == len(names):
                continue
            changed += 1
            if kept:
                pipe.hset(self._key, digest, "\n".join(kept))
            else:
                pipe.hdel(self._key, digest)
        pipe.execute()
        return changed


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


def generation_marker(batch_id: str) -> bytes:
    """A member of every next generation, not 16 bytes long so never a digest: the set exists as soon as
    scoring starts, even for a repository that claims nothing, so "the next generation is gone" can only
    mean "already swapped", and a re-run after the swap is a no-op, never a release of everything."""
    return b"generation:" + batch_id.encode()


class RedisDedupLedgerV1:
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
