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
from typing import Any, Protocol

import redis

from codelupe_dagster.backends.forget_registry import ForgetRules, RedisForgetRegistry
from codelupe_dagster.backends.redis_dedup import (
    DEFAULT_EXPECTED_FILES,
    FOREIGN_CLAIM,
    HANDLE_BYTES,
    NEW_CLAIM,
    OWN_CLAIM,
    CarrierLedger,
    ExactDeduplicator,
    LedgerShape,
    LegacyLayoutError,
    NearDeduplicator,
    _as_bytes,
    legacy_layout_present,
    open_shape,
)
from codelupe_dagster.core.dedup import DIGEST_BYTES
from codelupe_dagster.core.keys import RedisKeys

__all__ = [
    "DIGEST_BYTES",
    "NEXT_GENERATION_TTL_S",
    "ClaimStatus",
    "DedupLedger",
    "ExactDeduplicator",
    "ForgetRules",
    "LedgerShape",
    "LegacyLayoutError",
    "MigrationReport",
    "NearCandidate",
    "NearDeduplicator",
    "RedisDedupLedger",
    "migrate_layout",
]

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


class RedisDedupLedger:
    """`DedupLedger` on Redis or Valkey (layout 2, `backends.redis_dedup`): the sharded exact ledger
    under `keys.exact_shard_base`, the sharded LSH bands under `keys.lsh_shard_base(band)`, and each
    repository's generations as packed strings of digests `keys.repo_claims(repo)` /
    `keys.repo_claims_next(repo, batch)`. Claims are pipelined Lua calls, one round trip per chunk of
    `chunk_size` files.

    Opening reads the ledger's recorded shape; a new ledger records one sized for `expected_files`
    (default `redis_dedup.DEFAULT_EXPECTED_FILES`; an existing ledger keeps its own). A ledger still in
    layout 1 raises `LegacyLayoutError`, whose message names the migration (`migrate_layout`).
    """

    def __init__(
        self, client: redis.Redis, keys: RedisKeys, chunk_size: int = 1000, expected_files: int | None = None
    ):
        self._client = client
        self._keys = keys
        self.shape = open_shape(client, keys, expected_files)
        self._exact = ExactDeduplicator(client, keys, chunk_size, self.shape)
        self._near = NearDeduplicator(client, keys, chunk_size, self.shape)
        self._carriers = CarrierLedger(client, keys, chunk_size=chunk_size)
        self._forget = _Lua(client, _GENERATION_REMOVE)

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
        # An empty string: the generation exists as soon as scoring starts, even for a repository that
        # claims nothing, so "the next generation is gone" can only mean "already swapped", and a re-run
        # after the swap is a no-op, never a release of everything.
        pipe = self._client.pipeline(transaction=False)
        for repo in repos:
            pipe.set(self._keys.repo_claims_next(repo, batch_id), b"", ex=NEXT_GENERATION_TTL_S)
        pipe.execute()

    def discard_generation(self, batch_id: str, repos: Iterable[str]) -> None:
        names = [self._keys.repo_claims_next(repo, batch_id) for repo in repos]
        if names:
            self._client.delete(*names)

    def stale_claims(self, repo: str, batch_id: str) -> list[bytes] | None:
        pipe = self._client.pipeline(transaction=False)
        pipe.get(self._keys.repo_claims(repo))
        pipe.get(self._keys.repo_claims_next(repo, batch_id))
        current, upcoming = pipe.execute()
        if upcoming is None:
            return None
        return sorted(_unpack(_as_bytes(current)) - _unpack(_as_bytes(upcoming)))

    # ------------------------------------------------------------------ sizes

    def exact_size(self) -> int:
        return self._exact.size()

    def near_bucket_counts(self, bands: int) -> list[int]:
        return self._near.bucket_counts(bands)

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
            found |= _unpack(_as_bytes(self._client.get(key)))
        return sorted(found)

    def forget_digests(self, repo: str, digests: Sequence[bytes]) -> None:
        keys = self._generation_keys(repo)
        if not digests:
            self._client.delete(*keys)
            return
        packed = b"".join(digests)
        for key in keys:
            self._forget.call(key, DIGEST_BYTES, packed)

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


def _unpack(packed: bytes | None) -> set[bytes]:
    """A generation's digests (a packed string may hold one twice: a retried APPEND)."""
    if not packed:
        return set()
    return {packed[i : i + DIGEST_BYTES] for i in range(0, len(packed) - DIGEST_BYTES + 1, DIGEST_BYTES)}


# KEYS: a generation. ARGV: digest width, concatenated digests to remove. Rewrites the packed string
# without them, keeping its expiry; returns how many entries went.
_GENERATION_REMOVE = r"""
local packed = redis.call('GET', KEYS[1])
if not packed then return 0 end
local width, gone, kept, removed = tonumber(ARGV[1]), {}, {}, 0
for i = 1, #ARGV[2], width do gone[string.sub(ARGV[2], i, i + width - 1)] = true end
for i = 1, #packed, width do
  local digest = string.sub(packed, i, i + width - 1)
  if gone[digest] then removed = removed + 1 else kept[#kept + 1] = digest end
end
if removed > 0 then redis.call('SET', KEYS[1], table.concat(kept), 'KEEPTTL') end
return removed
"""

# KEYS: a layout 1 generation (a SET). Rewrites it as layout 2's packed string of its 16-byte members
# (the marker member goes), keeping its expiry; atomic, so a crash leaves it either converted or not.
_GENERATION_CONVERT = r"""
if redis.call('TYPE', KEYS[1])['ok'] ~= 'set' then return 0 end
local members, kept = redis.call('SMEMBERS', KEYS[1]), {}
for _, m in ipairs(members) do if #m == 16 then kept[#kept + 1] = m end end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[1], table.concat(kept))
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""


class _Lua:
    """A one-key script run by EVAL/EVALSHA (redis-py's Script object reloads it when flushed)."""

    def __init__(self, client: redis.Redis, source: str):
        self._script = client.register_script(source)

    def call(self, key: str, *args: bytes | int | str) -> int:
        return int(self._script(keys=[key], args=list(args)))


# ---------------------------------------------------------------------- layout migration


@dataclass
class MigrationReport:
    """What `migrate_layout` moved (counts of this run: a resumed run counts only what it copied)."""

    exact_claims: int = 0
    buckets: int = 0
    generations: int = 0
    skipped: int = 0  # layout 1 entries of another width than a digest / band key (none are written)
    legacy_found: bool = False


_MIGRATE_SCAN = 1000


def migrate_layout(
    client: redis.Redis,
    keys: RedisKeys,
    expected_files: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy a layout 1 ledger under `keys` into layout 2 and delete the old keys. Idempotent and
    resumable: the layout record says "migrating" until the end, so no writer opens the ledger half way;
    every copy is set-if-absent and HSCAN cursors are saved after each chunk, so a re-run after a crash
    picks up where it stopped (at worst re-copying one chunk, which changes nothing). Stop every writer
    first: a layout 1 writer still running would write keys nobody reads.

    The shape is sized for `expected_files`, or for twice the layout 1 ledger's size if that is larger.
    """
    say = progress or (lambda _line: None)
    report = MigrationReport(legacy_found=legacy_layout_present(client, keys))
    layout = keys.dedup_layout
    # The old v2 pipeline's `processed:files` was a SET: `stages.migrate_v2` backs that one up, not us.
    exact_is_hash = _as_bytes(client.type(keys.processed_files)) == b"hash"
    raw: dict[bytes, bytes] = client.hgetall(layout)  # type: ignore[assignment]
    if not raw and not report.legacy_found and not _legacy_generations(client, keys):
        return report  # nothing in layout 1: a new ledger records its shape when first opened
    if not raw or raw.get(b"state") == b"ready":
        size = int(client.hlen(keys.processed_files)) if exact_is_hash else 0
        wanted = expected_files or max(DEFAULT_EXPECTED_FILES, 2 * size)
        shape = LedgerShape.from_fields(raw) if raw else LedgerShape.for_files(wanted)
        fields = {**shape.fields(), "state": "migrating"}
        client.hset(layout, mapping=fields)  # type: ignore[arg-type]
        raw = client.hgetall(layout)  # type: ignore[assignment]
    shape = LedgerShape.from_fields(raw)
    exact = ExactDeduplicator(client, keys, shape=shape)
    near = NearDeduplicator(client, keys, shape=shape)

    def copied(cursor_field: str, key: str) -> Iterable[list[tuple[bytes, bytes]]]:
        cursor = int(_as_bytes(client.hget(layout, cursor_field)) or 0)
        if cursor < 0:
            return  # this key was finished by an earlier run
        while True:
            reply: Any = client.hscan(key, cursor, count=_MIGRATE_SCAN)
            cursor, entries = int(reply[0]), reply[1]
            yield [(bytes(field), bytes(value)) for field, value in entries.items()]
            client.hset(layout, cursor_field, cursor if cursor else -1)
            if not cursor:
                return

    for chunk in copied("cursor:exact", keys.processed_files) if exact_is_hash else ():
        pairs = [(digest, name) for digest, name in chunk if len(digest) == DIGEST_BYTES]
        report.skipped += len(chunk) - len(pairs)
        report.exact_claims += exact.put(pairs)
    say(f"exact ledger: {report.exact_claims} claims copied")
    bands = [band for band in range(256) if client.exists(keys.lsh(band))]
    for band in bands:
        for chunk in copied(f"cursor:lsh:{band}", keys.lsh(band)):
            report.buckets += _copy_buckets(exact, near, band, chunk, report)
    say(f"LSH: {report.buckets} buckets copied from {len(bands)} bands")
    convert = _Lua(client, _GENERATION_CONVERT)
    for key in client.scan_iter(match=keys.repo_claims("") + "*", count=_MIGRATE_SCAN, _type="set"):
        report.generations += convert.call(key.decode())
    say(f"claim generations: {report.generations} converted")
    old = [*([keys.processed_files] if exact_is_hash else []), *(keys.lsh(band) for band in bands)]
    pipe = client.pipeline(transaction=False)
    for key in old:
        pipe.unlink(key)
    pipe.hdel(layout, "cursor:exact", *(f"cursor:lsh:{band}" for band in bands))
    pipe.hset(layout, "state", "ready")
    pipe.execute()
    return report


def _copy_buckets(
    exact: ExactDeduplicator,
    near: NearDeduplicator,
    band: int,
    chunk: Sequence[tuple[bytes, bytes]],
    report: MigrationReport,
) -> int:
    """Copy one chunk of a layout 1 band: an owner some repository (or the migration) claims becomes its
    8-byte handle, as `claim_for_repos` writes it; an owner nobody claims keeps its whole digest, so a
    document-level claim reads exactly as before."""
    pairs = [(bucket, owner) for bucket, owner in chunk if len(owner) == DIGEST_BYTES and bucket]
    report.skipped += len(chunk) - len(pairs)
    claimed = exact.claimants(sorted({owner for _, owner in pairs}))
    return near.put(band, [(b, o[-HANDLE_BYTES:] if claimed[o] is not None else o) for b, o in pairs])


def _legacy_generations(client: redis.Redis, keys: RedisKeys) -> bool:
    pattern = keys.repo_claims("") + "*"
    return any(True for _ in client.scan_iter(match=pattern, count=_MIGRATE_SCAN, _type="set"))
