"""The Redis mechanics of the dedup ledger: exact and near-duplicate claims, first writer wins, and a
claimant recognises its own claims. `dedup_ledger.RedisDedupLedger` composes these behind the
`DedupLedger` interface; use it rather than these classes outside backends.

Layout 2 (this module; `docs/dedup_memory.md` has the measurements). Every ledger is split into many
small hashes so that Redis keeps each one as a listpack, a few bytes per entry instead of a hashtable
entry and two allocations:
- the exact ledger: `<exact base><shard>` hashes, field = the digest minus the bytes the shard number
  already names (it is read from the digest's end), value = the claimant's integer id (`<exact
  base>claimants` maps ids and names);
- each LSH band: `<band base><shard>` hashes, field = the bucket key minus its shard bytes, value = the
  owner: the last `handle_bytes` (8) of its digest when a repository claimed it (`claim_for_repos`), the
  whole digest when it was a document-level claim (`claim_many`, which may name owners nobody claims).
The shard is `shard_bits` of a key (see `shard_of`); the number comes from the ledger's recorded `LedgerShape`
(one hash per ledger, written when the ledger is created), so every writer shards alike.

Both ledgers are written with HSETNX, so they are correct under any number of concurrent batches. Each
check-and-claim of a chunk of files is ONE round trip: a server-side Lua script per band (and one for the
exact ledger) does the HSETNX and, for a lost race, the HGET that tells "claimed by me on an earlier
try" from "claimed by someone else". A script only touches the keys of one ledger, which share a hash
tag, so the design holds on Redis Cluster (one slot per band and one for the exact ledger, as layout 1
had one key each).

Why the claimant matters (DESIGN §6): the claimant is the *repository* a file was read from. A batch that
crashed after scoring and before indexing has already claimed its digests; when its repositories are
re-run, in that batch or in any later one, those claims must read as "mine", or the retry would drop
every file as a duplicate of itself and lose it.

Near duplicates follow the same rule through the exact ledger. An LSH bucket is owned by a document
digest; the owner's *repository* is whoever the exact ledger says claimed that digest (an 8-byte owner
handle is found there by a prefix search in one shard, which also gives the full digest back). So a
document that collides with an owner is:
- a near duplicate only when the owner's claimant is another repository;
- not a duplicate when the owner is claimed by its own repository (a repository is never a near
  duplicate of itself: its new version of a file must replace the old one, not be dropped against it);
- not a duplicate when the owner's ledger entry is gone: the repository that held it released it
  (the file was edited or deleted upstream, see `stages.repo_updates`), and the owner is stale.
In the last two cases the new document takes the bucket over (compare-and-set, so a concurrent
takeover is never overwritten), unless the owner is its repository's *current* version of a file:
then the bucket stays where it is and nothing is written.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from codelupe_dagster.core.dedup import DIGEST_BYTES
from codelupe_dagster.core.keys import RedisKeys

LAYOUT_VERSION = 2
BAND_KEY_BYTES = 8  # core.minhash.band_keys: one 8-byte xxh3 per band
HANDLE_BYTES = 8  # an LSH owner claimed by a repository: the last 8 bytes of its digest
ENTRIES_PER_SHARD = 64  # the mean a shard holds at the expected corpus size (Redis' listpack limit: 128)
MAX_SHARD_BITS = 24  # the shard number is read from a key's first three bytes
DEFAULT_EXPECTED_FILES = 10_000_000


class LegacyLayoutError(RuntimeError):
    """The ledger is in an older layout (or being migrated): refused, never read as empty."""


@dataclass(frozen=True, slots=True)
class LedgerShape:
    """How a ledger is sharded, recorded once in `keys.dedup_layout` so every writer agrees.

    `shard_bits` sets 2**bits shards per band and for the exact ledger, sized so each holds about
    `ENTRIES_PER_SHARD` entries at `expected_files`: below that size shards hold fewer entries and each
    pays its key's fixed cost over fewer files; above ~2x it, shards pass Redis' default listpack limit
    (128 entries) one by one and turn into ordinary hashes, costing what layout 1 cost per entry.
    """

    shard_bits: int
    handle_bytes: int = HANDLE_BYTES
    expected_files: int = DEFAULT_EXPECTED_FILES

    @classmethod
    def for_files(cls, expected_files: int) -> LedgerShape:
        if expected_files <= 0:
            raise ValueError(f"the expected corpus size must be positive: {expected_files}")
        bits = math.ceil(math.log2(max(1.0, expected_files / ENTRIES_PER_SHARD)))
        return cls(shard_bits=min(MAX_SHARD_BITS, bits), expected_files=expected_files)

    @property
    def field_offset(self) -> int:
        """Leading key bytes the shard number names in full, so fields leave them out."""
        return self.shard_bits // 8

    def fields(self) -> dict[str, str]:
        return {
            "version": str(LAYOUT_VERSION),
            "shard_bits": str(self.shard_bits),
            "handle_bytes": str(self.handle_bytes),
            "expected_files": str(self.expected_files),
        }

    @classmethod
    def from_fields(cls, raw: Mapping[bytes, bytes]) -> LedgerShape:
        return cls(
            shard_bits=int(raw[b"shard_bits"]),
            handle_bytes=int(raw[b"handle_bytes"]),
            expected_files=int(raw[b"expected_files"]),
        )


def shard_of(
    shape: LedgerShape, base: str, value: bytes, width: int, tail: bool = False
) -> tuple[bytes, bytes]:
    """(key, field) of `value` in a sharded hash, as the Lua sharders compute it; for tests, benches and
    operators reading the ledger by hand. Band keys are sharded by their first three bytes (`tail`
    False); digests by their last three, read backwards (`tail` True), so an owner handle (a digest's
    last 8 bytes) names the digest's shard. The bytes the shard number names in full are left out of the
    field. `width` is the ledger's usual value width: values of any other width live in hashes of their
    own (suffix `/<width>`), so leaving bytes out stays lossless."""
    three = value[::-1][:3] if tail else value[:3]
    head = int.from_bytes(three.ljust(3, b"\0"), "big") >> (24 - shape.shard_bits)
    key = f"{base}{head:x}" + ("" if len(value) == width else f"/{len(value)}")
    skip = min(shape.field_offset, len(value))
    return key.encode(), (value[: len(value) - skip] if tail else value[skip:])


# Shared by every script: the key and field of a value. ARGV carry the base and the shard bits.
_SHARD = r"""
local sub, byte, format, floor = string.sub, string.byte, string.format, math.floor
-- A sharder maps the value at `pos` (of `width` bytes) in a packed string to its hash and field. Band
-- keys (tail false) are sharded by their first three bytes, digests (tail true) by their last three
-- read backwards, so a digest's last 8 bytes (an owner handle) name its shard. The field leaves out the
-- bytes the shard number names in full. Two strings per value (key, field): Lua string creation is
-- most of a script's cost per entry.
local function sharder(base, bits, std, tail)
  local div, skip = 2 ^ (24 - bits), floor(bits / 8)
  return function(packed, pos, width)
    local take, b1, b2, b3 = width < 3 and width or 3
    if tail then
      b3, b2, b1 = byte(packed, pos + width - 3, pos + width - 1)
      if take < 3 then b1, b2, b3 = byte(sub(packed, pos, pos + width - 1):reverse(), 1, 3) end
    else
      b1, b2, b3 = byte(packed, pos, pos + take - 1)
    end
    local n = floor(((b1 or 0) * 65536 + (b2 or 0) * 256 + (b3 or 0)) / div)
    local key = width == std and format('%s%x', base, n) or format('%s%x/%d', base, n, width)
    local drop = skip < width and skip or width
    if tail then return key, sub(packed, pos, pos + width - 1 - drop) end
    return key, sub(packed, pos + drop, pos + width - 1)
  end
end
"""

# The claimant registry (one hash in the exact ledger's slot): field 'n'..name -> id, 'i'..id -> name,
# '#' -> the last id given out.
_CLAIMANT_ID = r"""
local function claimant_id(registry, name, create)
  local id = redis.call('HGET', registry, 'n' .. name)
  if id or not create then return id end
  id = tostring(redis.call('HINCRBY', registry, '#', 1))
  redis.call('HSET', registry, 'n' .. name, id, 'i' .. id, name)
  return id
end
"""

# Arguments travel packed (fixed-width fields concatenated into one string) and replies come back packed
# too: with 32 bands, a chunk of 1,000 files is 64,000 values, and encoding/decoding them one by one in
# redis-py cost more CPU than the rest of the parent process.

# KEYS: count, claimants. ARGV: base, bits, claimant, digest width, concatenated digests. Returns one
# character per digest: "1" newly claimed, "2" already ours, "0" claimed by another claimant.
_EXACT_CLAIM = (
    _SHARD
    + _CLAIMANT_ID
    + r"""
local base, bits, width, packed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), ARGV[5]
local shard = sharder(base, bits, 16, true)
local me = claimant_id(KEYS[2], ARGV[3], true)
local out, new = {}, 0
for i = 1, #packed, width do
  local key, field = shard(packed, i, width)
  if redis.call('HSETNX', key, field, me) == 1 then
    out[#out + 1] = '1'
    new = new + 1
  elseif redis.call('HGET', key, field) == me then
    out[#out + 1] = '2'
  else
    out[#out + 1] = '0'
  end
end
if new > 0 then redis.call('INCRBY', KEYS[1], new) end
return table.concat(out)
"""
)

# KEYS: count, claimants. ARGV: base, bits, claimant, digest width, concatenated digests. Deletes each
# digest still held by the claimant (one another repository has claimed since is left alone); returns how
# many were released.
_EXACT_RELEASE = (
    _SHARD
    + _CLAIMANT_ID
    + r"""
local base, bits, width, packed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), ARGV[5]
local shard = sharder(base, bits, 16, true)
local me = claimant_id(KEYS[2], ARGV[3], false)
if not me then return 0 end
local released = 0
for i = 1, #packed, width do
  local key, field = shard(packed, i, width)
  if redis.call('HGET', key, field) == me then
    redis.call('HDEL', key, field)
    released = released + 1
  end
end
if released > 0 then redis.call('DECRBY', KEYS[1], released) end
return released
"""
)

# KEYS: count, claimants. ARGV: base, bits, digest width, concatenated digests. Returns each digest's
# claimant name (nil when unclaimed).
_EXACT_LOOKUP = (
    _SHARD
    + r"""
local base, bits, width, packed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local shard = sharder(base, bits, 16, true)
local out, names = {}, {}
for i = 1, #packed, width do
  local key, field = shard(packed, i, width)
  local id = redis.call('HGET', key, field)
  if id then
    if names[id] == nil then names[id] = redis.call('HGET', KEYS[2], 'i' .. id) end
    out[#out + 1] = names[id]
  else
    out[#out + 1] = false
  end
end
return out
"""
)

# KEYS: count, claimants. ARGV: base, bits, handle width, concatenated handles (digests' second halves).
# Returns per handle the full 16-byte digest and its claimant name, both nil when no claimed digest ends
# with it (the handle names the digest's shard, and the field ends with the handle's kept bytes). A shard
# is a listpack of ~100 entries, so the HSCAN MATCH is one pass over a few kilobytes.
_HANDLE_LOOKUP = (
    _SHARD
    + r"""
local base, bits, width, packed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local shard = sharder(base, bits, 16, true)
local skip = math.floor(bits / 8)
local out = {}
for i = 1, #packed, width do
  local handle = string.sub(packed, i, i + width - 1)
  -- The handle's shard is its digest's (same last bytes); the field ends with the handle's kept bytes.
  local key = shard(string.rep('\0', 16 - width) .. handle, 1, 16)
  local pattern = '*' .. string.gsub(string.sub(handle, 1, width - skip), '[%*%?%[%]\\]', '\\%0')
  local cursor, found, id = '0', false, false
  repeat
    local reply = redis.call('HSCAN', key, cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = reply[1]
    for j = 1, #reply[2], 2 do
      -- Two claimed digests sharing their last 8 bytes (~1 pair in 10^10 files): the smallest wins.
      if not found or reply[2][j] < found then found, id = reply[2][j], reply[2][j + 1] end
    end
  until cursor == '0'
  if found then
    out[#out + 1] = found .. string.sub(handle, width - skip + 1)
    out[#out + 1] = redis.call('HGET', KEYS[2], 'i' .. id)
  else
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out
"""
)

# KEYS: the band's count. ARGV: base, bits, bucket width, id width, concatenated buckets, concatenated
# ids (pair i = bucket i, id i). Returns a flat list of (1-based position, owner) for buckets another
# document claimed first; a bucket that is free or already the document's own (a retry) is claimed
# silently.
_BAND_CLAIM = (
    _SHARD
    + r"""
local base, bits = ARGV[1], tonumber(ARGV[2])
local shard = sharder(base, bits, 8, false)
local bw, dw, buckets, docs = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local out, new = {}, 0
for i = 0, #buckets / bw - 1 do
  local key, field = shard(buckets, i * bw + 1, bw)
  local doc = string.sub(docs, i * dw + 1, (i + 1) * dw)
  if redis.call('HSETNX', key, field, doc) == 1 then
    new = new + 1
  else
    local owner = redis.call('HGET', key, field)
    if owner ~= doc then
      out[#out + 1] = i + 1
      out[#out + 1] = owner
    end
  end
end
if new > 0 then redis.call('INCRBY', KEYS[1], new) end
return out
"""
)

# KEYS: the band's count. ARGV: base, bits, then (bucket, expected owner, new owner) triples. A bucket
# moves to its new owner only if it still holds the expected one.
_BAND_TAKEOVER = (
    _SHARD
    + r"""
local base, bits = ARGV[1], tonumber(ARGV[2])
local shard = sharder(base, bits, 8, false)
local moved = 0
for i = 3, #ARGV, 3 do
  local key, field = shard(ARGV[i], 1, #ARGV[i])
  if redis.call('HGET', key, field) == ARGV[i + 1] then
    redis.call('HSET', key, field, ARGV[i + 2])
    moved = moved + 1
  end
end
return moved
"""
)

# KEYS: the band's count. ARGV: base, bits, handle width, bucket width, concatenated buckets,
# concatenated 16-byte digests (pair i = bucket i, digest i). Deletes each bucket still owned by its
# digest (whole or as a handle): a forgotten document; returns how many went.
_BAND_RELEASE = (
    _SHARD
    + r"""
local base, bits, hw, bw = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local shard = sharder(base, bits, 8, false)
local buckets, digests = ARGV[5], ARGV[6]
local released = 0
for i = 0, #buckets / bw - 1 do
  local key, field = shard(buckets, i * bw + 1, bw)
  local digest = string.sub(digests, i * 16 + 1, (i + 1) * 16)
  local owner = redis.call('HGET', key, field)
  if owner and (owner == digest or owner == string.sub(digest, 17 - hw)) then
    redis.call('HDEL', key, field)
    released = released + 1
  end
end
if released > 0 then redis.call('DECRBY', KEYS[1], released) end
return released
"""
)

# KEYS: the band's count. ARGV: base, bits, then (bucket, owner) pairs: set where free (the layout
# migration's copy; idempotent, so a re-run after a crash adds nothing twice).
_BAND_PUT = (
    _SHARD
    + r"""
local base, bits, new = ARGV[1], tonumber(ARGV[2]), 0
local shard = sharder(base, bits, 8, false)
for i = 3, #ARGV, 2 do
  local key, field = shard(ARGV[i], 1, #ARGV[i])
  new = new + redis.call('HSETNX', key, field, ARGV[i + 1])
end
if new > 0 then redis.call('INCRBY', KEYS[1], new) end
return new
"""
)

# KEYS: count, claimants. ARGV: base, bits, then (digest, claimant name) pairs: claimed where free (the
# layout migration's copy of layout 1's exact ledger; idempotent).
_EXACT_PUT = (
    _SHARD
    + _CLAIMANT_ID
    + r"""
local base, bits, new, ids = ARGV[1], tonumber(ARGV[2]), 0, {}
local shard = sharder(base, bits, 16, true)
for i = 3, #ARGV, 2 do
  local name = ARGV[i + 1]
  if not ids[name] then ids[name] = claimant_id(KEYS[2], name, true) end
  local key, field = shard(ARGV[i], 1, #ARGV[i])
  new = new + redis.call('HSETNX', key, field, ids[name])
end
if new > 0 then redis.call('INCRBY', KEYS[1], new) end
return new
"""
)

# ARGV: the most carriers kept per digest, then (digest, repository) pairs. Appends the repository to the
# digest's newline-separated carriers unless it is there already or the list is full; returns how many
# were added. A carrier is a repository whose copy of the digest was dropped as a duplicate.
_CARRIER_ADD = r"""
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
    for name in string.gmatch(current, '[^\n]+') do
      count = count + 1
      if name == repo then found = true end
    end
    if not found and count < most then
      redis.call('HSET', key, digest, current .. '\n' .. repo)
      added = added + 1
    end
  end
end
return added
"""

NEW_CLAIM, OWN_CLAIM, FOREIGN_CLAIM = 1, 2, 0

_Call = tuple[Sequence[str], Sequence[Any]]  # (KEYS, ARGV) of one script call


class _Script:
    """A Lua script called by SHA, reloaded once if the server lost it (restart, SCRIPT FLUSH)."""

    def __init__(self, client: redis.Redis, source: str):
        self._client = client
        self._source = source
        self.sha = client.script_load(source)

    def reload(self) -> None:
        self.sha = self._client.script_load(self._source)

    def pipelined(self, calls: Sequence[_Call], extra: Mapping[str, Sequence[bytes]]) -> list[Any]:
        """One round trip: the script once per `(keys, args)`, then APPEND key -> the concatenated
        members for `extra` (a claim generation is a packed string). Returns the script replies only."""
        for attempt in (0, 1):
            pipe = self._client.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(self.sha, len(keys), *keys, *args)
            for key, members in extra.items():
                if members:
                    pipe.append(key, b"".join(members))
            try:
                return pipe.execute()[: len(calls)]
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                # The APPENDs of the failed pipeline ran; a generation read as a set of digests does not
                # mind a digest twice.
                self.reload()
        raise AssertionError("unreachable")

    def call(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self.pipelined([(keys, args)], {})[0]


def read_shape(client: redis.Redis, keys: RedisKeys) -> LedgerShape | None:
    """The recorded shape, None when the ledger has none yet; refuses a ledger being migrated."""
    raw: dict[bytes, bytes] = client.hgetall(keys.dedup_layout)  # type: ignore[assignment]
    if not raw:
        return None
    version = int(raw.get(b"version", b"0"))
    if version != LAYOUT_VERSION:
        raise LegacyLayoutError(
            f"the dedup ledger under {keys.prefix!r} is in layout {version}; this version reads layout "
            f"{LAYOUT_VERSION} only"
        )
    if raw.get(b"state", b"ready") != b"ready":
        raise LegacyLayoutError(
            f"the dedup ledger under {keys.prefix!r} is being migrated to layout {LAYOUT_VERSION}; finish it "
            f"with: {MIGRATE_COMMAND}"
        )
    return LedgerShape.from_fields(raw)


MIGRATE_COMMAND = "codelupe migrate-ledger"


def legacy_layout_present(client: redis.Redis, keys: RedisKeys) -> bool:
    """Whether layout 1's exact ledger (a HASH; the old v2 pipeline's SET of that name is
    `stages.migrate_v2`'s business) or its first LSH band holds anything under this prefix."""
    pipe = client.pipeline(transaction=False)
    pipe.type(keys.processed_files)
    pipe.exists(keys.lsh(0))
    kind, band = pipe.execute()
    return _as_bytes(kind) == b"hash" or bool(band)


_CREATE_SHAPE = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return redis.call('HGETALL', KEYS[1])
"""


def open_shape(client: redis.Redis, keys: RedisKeys, expected_files: int | None = None) -> LedgerShape:
    """The ledger's shape: the recorded one, or (for a new ledger) one sized for `expected_files`,
    recorded atomically so concurrent first writers agree. A ledger still in layout 1 is refused with a
    one-line error naming the migration, never read as empty."""
    shape = read_shape(client, keys)
    if shape is not None:
        return shape
    if legacy_layout_present(client, keys):
        raise LegacyLayoutError(
            f"the dedup ledger under {keys.prefix!r} is in layout 1 (one hash per band); stop every writer "
            f"and run: {MIGRATE_COMMAND}"
        )
    wanted = LedgerShape.for_files(expected_files or DEFAULT_EXPECTED_FILES)
    args = [v for item in {**wanted.fields(), "state": "ready"}.items() for v in item]
    client.eval(_CREATE_SHAPE, 1, keys.dedup_layout, *args)
    recorded = read_shape(client, keys)
    assert recorded is not None
    return recorded


class ExactDeduplicator:
    """The exact-dedup ledger: 16-byte digest -> claimant (a repository), sharded under
    `keys.exact_shard_base` with claimants stored as integer ids."""

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000, shape: LedgerShape | None = None
    ):
        self._client = client
        self._shape = shape or open_shape(client, keys)
        self._base = keys.exact_shard_base
        self._keys = (f"{self._base}count", f"{self._base}claimants")
        self._chunk_size = chunk_size
        self._script = _Script(client, _EXACT_CLAIM)
        self._release = _Script(client, _EXACT_RELEASE)
        self._lookup = _Script(client, _EXACT_LOOKUP)
        self._handles = _Script(client, _HANDLE_LOOKUP)
        self._put = _Script(client, _EXACT_PUT)

    @property
    def shape(self) -> LedgerShape:
        return self._shape

    def _args(self, *rest: Any) -> tuple[Any, ...]:
        return (self._base, self._shape.shard_bits, *rest)

    def claim_groups(
        self,
        groups: Sequence[tuple[str, Sequence[bytes]]],
        record: Mapping[str, Sequence[bytes]] | None = None,
    ) -> list[list[int]]:
        """`claim_status` for several claimants in one round trip; `record` is APPENDed in the same trip."""
        calls: list[_Call] = []
        owners: list[int] = []
        for group, (claimant, digests) in enumerate(groups):
            for start in range(0, len(digests), self._chunk_size):
                chunk = digests[start : start + self._chunk_size]
                packed = b"".join(chunk)
                calls.append((self._keys, self._args(claimant, _uniform_width(chunk, "digests"), packed)))
                owners.append(group)
        statuses: list[list[int]] = [[] for _ in groups]
        for group, reply in zip(owners, self._script.pipelined(calls, record or {}), strict=True):
            statuses[group].extend(int(c) for c in bytes(reply).decode())
        return statuses

    def release(self, digests: Sequence[bytes], claimant: str) -> int:
        """Delete the claims `claimant` still holds on these digests (compare-and-delete); how many went."""
        calls: list[_Call] = []
        for start in range(0, len(digests), self._chunk_size):
            chunk = digests[start : start + self._chunk_size]
            if chunk:
                packed = b"".join(chunk)
                calls.append((self._keys, self._args(claimant, _uniform_width(chunk, "digests"), packed)))
        return sum(int(n) for n in self._release.pipelined(calls, {})) if calls else 0

    def claimants(self, digests: Sequence[bytes]) -> dict[bytes, bytes | None]:
        """The ledger's claimant of each digest (None when unclaimed), one round trip."""
        if not digests:
            return {}
        calls: list[_Call] = []
        for start in range(0, len(digests), self._chunk_size):
            chunk = digests[start : start + self._chunk_size]
            calls.append((self._keys, self._args(_uniform_width(chunk, "digests"), b"".join(chunk))))
        names = [name for reply in self._lookup.pipelined(calls, {}) for name in reply]
        return {digest: _as_bytes(name) for digest, name in zip(digests, names, strict=True)}

    def resolve_handles(self, handles: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes] | None]:
        """Per owner handle (a digest's first bytes): the claimed digest it starts and its claimant, or
        None when no claimed digest starts with it (released: a stale owner)."""
        if not handles:
            return {}
        calls: list[_Call] = []
        for start in range(0, len(handles), self._chunk_size):
            chunk = handles[start : start + self._chunk_size]
            calls.append((self._keys, self._args(_uniform_width(chunk, "handles"), b"".join(chunk))))
        flat = [value for reply in self._handles.pipelined(calls, {}) for value in reply]
        found: dict[bytes, tuple[bytes, bytes] | None] = {}
        for handle, digest, name in zip(handles, flat[0::2], flat[1::2], strict=True):
            found[handle] = None if digest is None else (bytes(digest), bytes(name or b""))
        return found

    def claim_status(self, digests: Sequence[bytes], claimant: str) -> list[int]:
        """Claim every digest for `claimant` (a repository); one status per digest (see NEW_CLAIM etc.)."""
        return self.claim_groups([(claimant, digests)])[0] if digests else []

    def claim(self, digests: Sequence[bytes], claimant: str) -> list[bool]:
        """True where the digest belongs to `claimant` (new or from an earlier try), False for a duplicate."""
        return [status != FOREIGN_CLAIM for status in self.claim_status(digests, claimant)]

    def size(self) -> int:
        """How many digests are claimed (a counter the scripts keep, as HLEN of one hash was)."""
        return int(self._client.get(self._keys[0]) or 0)

    def put(self, pairs: Sequence[tuple[bytes, bytes]]) -> int:
        """Claim each `(digest, claimant name)` where free: the layout migration's copy; how many were new."""
        if not pairs:
            return 0
        return int(self._put.call(self._keys, self._args(*(v for pair in pairs for v in pair))))


@dataclass(frozen=True, slots=True)
class _Collision:
    """A bucket a document wanted that another document owns."""

    band: int
    bucket: bytes
    owner: bytes  # the owner as stored: an 8-byte handle or a 16-byte digest


class NearDeduplicator:
    """LSH buckets, one sharded ledger per band under `keys.lsh_shard_base(band)`: bucket -> owner.

    `claim_many` is the document-level primitive: ownership per document, "the same claimant" meaning the
    same content (the re-run case); its owners are whole digests, as nothing else may know them.
    `claim_for_repos` is what a batch uses: it resolves each owner to its repository through the exact
    ledger (see the module docstring), so its owners are 8-byte handles that the exact ledger turns back
    into digests. A document claims every free bucket of its bands even when it turns out to be a near
    duplicate, so clusters grow transitively (as union-find LSH dedup does).
    """

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000, shape: LedgerShape | None = None
    ):
        self._client = client
        self._keys = keys
        self._shape = shape or open_shape(client, keys)
        self._chunk_size = chunk_size
        self._script = _Script(client, _BAND_CLAIM)
        self._takeover = _Script(client, _BAND_TAKEOVER)
        self._band_release = _Script(client, _BAND_RELEASE)
        self._put = _Script(client, _BAND_PUT)
        self._ledger = ExactDeduplicator(client, keys, shape=self._shape)

    def _band(self, band: int) -> tuple[tuple[str], tuple[str, int]]:
        """The KEYS and leading ARGV of a call on one band."""
        base = self._keys.lsh_shard_base(band)
        return (f"{base}count",), (base, self._shape.shard_bits)

    def claim(self, doc_id: bytes, band_keys: Sequence[bytes]) -> str | None:
        """The owning document's hex id when `doc_id` is a near duplicate, else None."""
        return self.claim_many([(doc_id, band_keys)])[0]

    def claim_many(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> list[str | None]:
        """`claim` for many documents, in one round trip per chunk (one script call per band, pipelined).

        Within a chunk, earlier documents win ties, so the caller's order decides which copy survives.
        An owner stored as a handle (claimed through `claim_for_repos`) counts once the exact ledger names
        its digest; a handle nobody holds any more is a released, stale owner and not a duplicate.
        """
        result: list[str | None] = []
        for start in range(0, len(docs), self._chunk_size):
            chunk = docs[start : start + self._chunk_size]
            collisions = self._collide(chunk, [doc_id for doc_id, _ in chunk], {})
            handles = sorted({c.owner for found in collisions for c in found if len(c.owner) == HANDLE_BYTES})
            resolved = self._ledger.resolve_handles(handles)
            for (doc_id, _), found in zip(chunk, collisions, strict=True):
                # The first foreign owner found is the cluster id; any one is enough to call it a duplicate.
                result.append(next(iter(self._foreign_digests(doc_id, found, resolved)), None))
        return result

    @staticmethod
    def _foreign_digests(
        doc_id: bytes, found: Sequence[_Collision], resolved: Mapping[bytes, tuple[bytes, bytes] | None]
    ) -> list[str]:
        owners: list[str] = []
        for c in found:
            if len(c.owner) != HANDLE_BYTES:
                owners.append(c.owner.hex())
                continue
            hit = resolved.get(c.owner)
            if hit is not None and hit[0] != doc_id:
                owners.append(hit[0].hex())
        return owners

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
        owner among them is a current file of its repository and keeps its buckets. `record` (key ->
        digests of a claim generation) is APPENDed in the same round trip as the bucket claims.
        """
        result: list[str | None] = []
        for start in range(0, len(docs), self._chunk_size):
            chunk = docs[start : start + self._chunk_size]
            handles = [_handle(doc_id) for doc_id, _ in chunk]
            collisions = self._collide(chunk, handles, (record or {}) if start == 0 else {})
            owners = self._owners({c.owner for found in collisions for c in found})
            takeovers: dict[int, list[bytes]] = defaultdict(list)
            for (doc_id, _), handle, repo, found in zip(
                chunk, handles, repos[start : start + len(chunk)], collisions, strict=True
            ):
                me = repo.encode()
                foreign: str | None = None
                for c in found:
                    digest, claimant = owners[c.owner]
                    if digest == doc_id:
                        continue  # its own content, stored under the other width
                    if claimant is None or (claimant == me and digest not in current):
                        takeovers[c.band] += [c.bucket, c.owner, handle]
                    elif claimant != me and foreign is None:
                        foreign = (digest or c.owner).hex()
                result.append(foreign)
            self._take_over(takeovers)
        if not docs and record:
            self._script.pipelined([], record)
        return result

    def _owners(self, owners: set[bytes]) -> dict[bytes, tuple[bytes | None, bytes | None]]:
        """Each stored owner's digest and claimant (None, None: released). One round trip: the lookups of
        whole digests and of handles are pipelined together."""
        whole = sorted(o for o in owners if len(o) != HANDLE_BYTES)
        handles = sorted(o for o in owners if len(o) == HANDLE_BYTES)
        found: dict[bytes, tuple[bytes | None, bytes | None]] = {}
        if not owners:
            return found
        pipe = self._client.pipeline(transaction=False)
        ledger = self._ledger
        if whole:
            pipe.evalsha(ledger._lookup.sha, 2, *ledger._keys, *ledger._args(DIGEST_BYTES, b"".join(whole)))
        if handles:
            packed = b"".join(handles)
            pipe.evalsha(ledger._handles.sha, 2, *ledger._keys, *ledger._args(HANDLE_BYTES, packed))
        try:
            replies = pipe.execute()
        except redis.exceptions.NoScriptError:
            ledger._lookup.reload()
            ledger._handles.reload()
            return self._owners(owners)
        if whole:
            for digest, name in zip(whole, replies.pop(0), strict=True):
                found[digest] = (digest, _as_bytes(name))
        if handles:
            flat = replies.pop(0)
            for handle, digest, name in zip(handles, flat[0::2], flat[1::2], strict=True):
                found[handle] = (None, None) if digest is None else (bytes(digest), _as_bytes(name))
        return found

    def release(self, docs: Sequence[tuple[bytes, Sequence[bytes]]]) -> int:
        """Free the buckets each `(digest, band keys)` document still owns (compare-and-delete, one round
        trip per chunk): what forgetting a document leaves of it in the LSH state; how many went."""
        released = 0
        for start in range(0, len(docs), self._chunk_size):
            chunk = docs[start : start + self._chunk_size]
            _, calls = _band_calls_general(chunk, lambda d: d)
            script_calls: list[_Call] = []
            for band, width, id_width, buckets, ids in calls:
                if id_width != DIGEST_BYTES:
                    raise ValueError(f"documents are released by their {DIGEST_BYTES}-byte digests")
                keys, head = self._band(band)
                script_calls.append((keys, (*head, HANDLE_BYTES, width, buckets, ids)))
            released += sum(int(n) for n in self._band_release.pipelined(script_calls, {}))
        return released

    def bucket_counts(self, bands: int) -> list[int]:
        if bands <= 0:
            return []
        pipe = self._client.pipeline(transaction=False)  # GETs, not one MGET: one slot per band
        for band in range(bands):
            pipe.get(self._band(band)[0][0])
        return [int(count or 0) for count in pipe.execute()]

    def put(self, band: int, pairs: Sequence[tuple[bytes, bytes]]) -> int:
        """Set each `(bucket, owner)` where free: the layout migration's copy; how many were new."""
        if not pairs:
            return 0
        keys, head = self._band(band)
        return int(self._put.call(keys, (*head, *(v for pair in pairs for v in pair))))

    def _take_over(self, takeovers: Mapping[int, list[bytes]]) -> None:
        calls: list[_Call] = []
        for band, triples in takeovers.items():
            keys, head = self._band(band)
            calls.append((keys, (*head, *triples)))
        if calls:
            self._takeover.pipelined(calls, {})

    def _collide(
        self,
        docs: Sequence[tuple[bytes, Sequence[bytes]]],
        ids: Sequence[bytes],
        record: Mapping[str, Sequence[bytes]],
    ) -> list[list[_Collision]]:
        """Claim the free buckets of a chunk for `ids` (one per document, as stored); per document, the
        buckets another owner holds."""
        members, calls = _band_calls_uniform(docs, ids)
        if calls is None:
            stored = dict(zip((doc_id for doc_id, _ in docs), ids, strict=True))
            members, calls = _band_calls_general(docs, stored.__getitem__)
        found: list[list[_Collision]] = [[] for _ in docs]
        if not calls:
            if record:
                self._script.pipelined([], record)
            return found
        script_calls: list[_Call] = []
        for band, width, id_width, buckets, packed_ids in calls:
            keys, head = self._band(band)
            script_calls.append((keys, (*head, width, id_width, buckets, packed_ids)))
        replies = self._script.pipelined(script_calls, record)
        for (band, width, _id_width, buckets, _ids), band_members, reply in zip(
            calls, members, replies, strict=True
        ):
            for i in range(0, len(reply), 2):
                j = int(reply[i]) - 1
                bucket = buckets[j * width : (j + 1) * width]
                found[band_members[j]].append(_Collision(band, bucket, bytes(reply[i + 1])))
        return found


def _handle(digest: bytes) -> bytes:
    """What a repository's claim stores as a bucket's owner: the digest's last 8 bytes (64 bits: two
    claimed digests share them about once in 10^10 files, and then the smaller is taken as owner). The
    last, not the first: content digests are uniform either way, and ids made by counting (tests, other
    ledgers' ids) differ in their low bytes."""
    if len(digest) != DIGEST_BYTES:
        raise ValueError(f"repository claims are made with {DIGEST_BYTES}-byte digests")
    return digest[-HANDLE_BYTES:]


_BandCalls = tuple[list[list[int]], list[tuple[int, int, int, bytes, bytes]]]


def _band_calls_uniform(
    docs: Sequence[tuple[bytes, Sequence[bytes]]], ids: Sequence[bytes]
) -> tuple[list[list[int]], list[tuple[int, int, int, bytes, bytes]] | None]:
    """The script calls of a chunk in the usual case, built without a per-key Python loop: every
    signed document has the same number of bands and the same key and id widths, so all band keys
    form one (documents, bands, width) byte array whose columns are the per-band arguments.
    Returns (members, None) when the chunk is not uniform (the general builder handles it)."""
    signed = [(position, ids[position], keys) for position, (_, keys) in enumerate(docs) if keys]
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
    calls = [(band, key_width, id_width, matrix[:, band, :].tobytes(), doc_ids) for band in range(bands)]
    return [positions] * bands, calls


def _band_calls_general(
    docs: Sequence[tuple[bytes, Sequence[bytes]]], stored: Callable[[bytes], bytes]
) -> _BandCalls:
    buckets: dict[int, list[bytes]] = {}
    doc_ids: dict[int, list[bytes]] = {}
    members: dict[int, list[int]] = {}
    for position, (doc_id, band_keys) in enumerate(docs):
        for band, bucket in enumerate(band_keys):
            buckets.setdefault(band, []).append(bucket)
            doc_ids.setdefault(band, []).append(stored(doc_id))
            members.setdefault(band, []).append(position)
    calls = [
        (
            band,
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
        calls: list[_Call] = []
        for start in range(0, len(pairs), self._chunk_size):
            chunk = pairs[start : start + self._chunk_size]
            calls.append(((self._key,), (self._most, *(v for pair in chunk for v in pair))))
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
