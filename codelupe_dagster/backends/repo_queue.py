"""The Redis priority queue of repositories and its batches: pop, lease, acknowledge, retry, park.

Delivery is at-least-once: popping a batch moves its repos to the in-flight hash and gives each a
**lease** in the same atomic step that records the batch. The run processing the batch renews the lease
(`renew_leases`, from a heartbeat thread); when the run dies, its leases expire within ``LEASE_TTL``
seconds and `expire_leases` returns the repos to the queue. So a crash at any point leaves every repo
queued, in flight under a live lease, backing off, parked, or acknowledged — never lost. Processing is
idempotent downstream (content-addressed ids, dedup claims remember their claimant), so a repeat is
harmless.

Poison is contained per repository. A repo that fails — alone inside a run that succeeded
(`record_repo_failures`), or with its whole run — counts an attempt and waits out an exponential
back-off in `delayed` before it is queued again; at ``MAX_REPO_ATTEMPTS`` it is parked in the dead-letter
hash `dead` with its reason, which `codelupe status` shows and `codelupe retry` empties. A run that
*died* (its process killed, its lease expired) counts a crash instead: a kill from outside says nothing
about the repo, so crashes only park a repo after ``MAX_REPO_CRASHES``, a bound that still stops a repo
which kills every process that reads it. Nothing is retried forever.

Each in-flight entry carries the repo's original priority, so a retried repo goes back exactly where it
was. An entry belongs to one batch: settling batch A never touches a repo whose lease expired and which
has since been popped again into batch B.

Redis Cluster: the scripts touch several keys (queue, in-flight hash, leases, attempts, batch record), and
a cluster only runs multi-key scripts whose keys share a hash slot. Run clustered with a prefix that
contains a hash tag, e.g. ``REDIS_KEY_PREFIX={pipeline}:``; a single server or Valkey needs nothing.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from codelupe_dagster.backends.git_clone import is_safe_name
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_priority import parse_timestamp

# KEYS: queue, inflight, batches index, batch record, leases. ARGV: count, batch id, now, lease expiry.
# Priorities are kept as the strings ZPOPMAX returned so a re-queue restores the exact score.
_POP_SCRIPT = """
local popped = redis.call('ZPOPMAX', KEYS[1], ARGV[1])
if #popped == 0 then return popped end
local repos = {}
for i = 1, #popped, 2 do
  local repo = popped[i]
  repos[#repos + 1] = repo
  redis.call('HSET', KEYS[2], repo,
    cjson.encode({batch = ARGV[2], since = tonumber(ARGV[3]), priority = popped[i + 1]}))
  redis.call('ZADD', KEYS[5], ARGV[4], repo)
end
redis.call('SET', KEYS[4], cjson.encode({repos = repos, created = tonumber(ARGV[3])}))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return popped
"""

# KEYS: inflight, leases. ARGV: batch id, new expiry, then repos. Renews only the leases the batch holds.
_RENEW_SCRIPT = """
local renewed = 0
for i = 3, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw and cjson.decode(raw).batch == ARGV[1] then
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
"""

# KEYS: inflight, leases, attempts. ARGV: batch id, then repos. Drops the in-flight entries still owned by
# that batch; a success clears the repo's failure history.
_ACK_SCRIPT = """
local done = {}
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw and cjson.decode(raw).batch == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    done[#done + 1] = ARGV[i]
  end
end
return done
"""

# KEYS: queue, inflight, leases, attempts, delayed, dead.
# ARGV: batch id ('' for whichever batch holds it), now, kind ('attempt' | 'crash' | 'requeue'),
#       max attempts, max crashes, back-off base seconds, then (repo, reason) pairs.
# Returns (repo, outcome) pairs for the repos it moved: outcome 'queued', 'delayed' or 'dead'.
_FAIL_SCRIPT = """
local now, kind = tonumber(ARGV[2]), ARGV[3]
local max_attempts, max_crashes, backoff = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
for i = 7, #ARGV, 2 do
  local repo, reason = ARGV[i], ARGV[i + 1]
  local raw = redis.call('HGET', KEYS[2], repo)
  if raw then
    local entry = cjson.decode(raw)
    if ARGV[1] == '' or entry.batch == ARGV[1] then
      redis.call('HDEL', KEYS[2], repo)
      redis.call('ZREM', KEYS[3], repo)
      local history = {attempts = 0, crashes = 0}
      local old = redis.call('HGET', KEYS[4], repo)
      if old then history = cjson.decode(old) end
      history.attempts = tonumber(history.attempts) or 0
      history.crashes = tonumber(history.crashes) or 0
      if kind == 'attempt' then history.attempts = history.attempts + 1 end
      if kind == 'crash' then history.crashes = history.crashes + 1 end
      history.priority = entry.priority
      history.reason = reason
      history.at = now
      history.batch = entry.batch
      if history.attempts >= max_attempts or history.crashes >= max_crashes then
        redis.call('HSET', KEYS[6], repo, cjson.encode(history))
        redis.call('HDEL', KEYS[4], repo)
        out[#out + 1] = repo
        out[#out + 1] = 'dead'
      else
        redis.call('HSET', KEYS[4], repo, cjson.encode(history))
        local wait = 0
        if kind == 'attempt' and backoff > 0 then wait = backoff * 2 ^ (history.attempts - 1) end
        if wait > 0 then
          redis.call('ZADD', KEYS[5], now + wait, repo)
          out[#out + 1] = repo
          out[#out + 1] = 'delayed'
        else
          redis.call('ZADD', KEYS[1], 'NX', entry.priority, repo)
          out[#out + 1] = repo
          out[#out + 1] = 'queued'
        end
      end
    end
  end
end
return out
"""

# KEYS: delayed, queue, attempts. ARGV: now. Queues the repos whose back-off is over, at their priority.
_PROMOTE_SCRIPT = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, repo in ipairs(due) do
  local priority = 0
  local raw = redis.call('HGET', KEYS[3], repo)
  if raw then priority = tonumber(cjson.decode(raw).priority) or 0 end
  redis.call('ZADD', KEYS[2], 'NX', priority, repo)
  redis.call('ZREM', KEYS[1], repo)
end
return due
"""

# KEYS: dead, queue, attempts. ARGV: repos (none: all). Queues parked repos again with a clean history.
_RETRY_SCRIPT = """
local repos = ARGV
if #repos == 0 then repos = redis.call('HKEYS', KEYS[1]) end
local done = {}
for _, repo in ipairs(repos) do
  local raw = redis.call('HGET', KEYS[1], repo)
  if raw then
    local priority = tonumber(cjson.decode(raw).priority) or 0
    redis.call('HDEL', KEYS[1], repo)
    redis.call('HDEL', KEYS[3], repo)
    redis.call('ZADD', KEYS[2], 'NX', priority, repo)
    done[#done + 1] = repo
  end
end
return done
"""

ATTEMPT, CRASH, REQUEUE = "attempt", "crash", "requeue"


@dataclass(frozen=True)
class BatchInfo:
    batch_id: str
    repos: tuple[str, ...]
    created: float


class BatchNotFound(KeyError):
    """The batch record is missing (never created, or the Redis data was lost)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long leases last and how failures are retried (LEASE_TTL, MAX_REPO_ATTEMPTS, ...)."""

    lease_ttl_s: float = 120.0
    max_attempts: int = 3
    max_crashes: int = 10
    backoff_s: float = 60.0  # first retry after this, then doubling


@dataclass(frozen=True)
class Settled:
    """How a batch was settled: repos acknowledged, and where each failed repo went."""

    acked: tuple[str, ...]
    failed: dict[str, str]  # repo -> 'queued' | 'delayed' | 'dead'

    @property
    def parked(self) -> list[str]:
        return sorted(repo for repo, outcome in self.failed.items() if outcome == "dead")


def new_batch_id(now: float) -> str:
    """``b20261128T170000-3f9a1c``: sorts by creation time, unique without coordination."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
    return f"b{stamp}-{secrets.token_hex(3)}"


def pop_batch(
    client: redis.Redis, keys: RedisKeys, size: int, now: float | None = None, lease_ttl_s: float = 120.0
) -> BatchInfo | None:
    """Atomically take up to ``size`` highest-priority repos as a new, leased batch; None when empty."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    now = time.time() if now is None else now
    batch_id = new_batch_id(now)
    popped = client.eval(
        _POP_SCRIPT,
        5,
        keys.repos,
        keys.inflight,
        keys.batches,
        keys.batch(batch_id),
        keys.leases,
        size,
        batch_id,
        repr(now),
        repr(now + lease_ttl_s),
    )
    if not popped:
        return None
    repos = tuple(_text(popped[i]) for i in range(0, len(popped), 2))
    return BatchInfo(batch_id=batch_id, repos=repos, created=now)


def batch_record(client: redis.Redis, keys: RedisKeys, batch_id: str) -> dict[str, Any]:
    raw = client.get(keys.batch(batch_id))
    if raw is None:
        raise BatchNotFound(batch_id)
    record = json.loads(raw)
    if not isinstance(record.get("repos"), list):
        record["repos"] = []  # cjson encodes an empty Lua table as {}; a batch is never empty, but be safe
    return record


def batch_repos(client: redis.Redis, keys: RedisKeys, batch_id: str) -> list[RepoRecord]:
    """The batch's repos with the metadata recorded at enqueue time, in priority order.

    A repo whose metadata is missing comes back with an empty clone URL, so the cloner records it as a
    failure with a reason instead of the batch silently shrinking.
    """
    names = [str(name) for name in batch_record(client, keys, batch_id)["repos"]]
    metas = client.hmget(keys.repo_meta, names) if names else []
    records = []
    for name, meta in zip(names, metas, strict=True):
        records.append(RepoRecord.from_doc(json.loads(meta)) if meta else RepoRecord(name, clone_url=""))
    return records


def renew_leases(
    client: redis.Redis, keys: RedisKeys, batch_id: str, lease_ttl_s: float, now: float | None = None
) -> int:
    """Extend the leases this batch still holds; returns how many it holds (0: nothing left to guard)."""
    now = time.time() if now is None else now
    names = batch_record(client, keys, batch_id)["repos"]
    if not names:
        return 0
    return int(
        client.eval(_RENEW_SCRIPT, 2, keys.inflight, keys.leases, batch_id, repr(now + lease_ttl_s), *names)
    )


def batch_holds_leases(client: redis.Redis, keys: RedisKeys, batch_id: str, now: float | None = None) -> bool:
    """Whether any repo of the batch is in flight for it under a lease that has not lapsed."""
    now = time.time() if now is None else now
    names = batch_record(client, keys, batch_id)["repos"]
    if not names:
        return False
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.inflight, names)
    for name in names:
        pipe.zscore(keys.leases, name)
    entries, *expiries = pipe.execute()
    return any(
        raw is not None and json.loads(raw).get("batch") == batch_id and expiry is not None and expiry > now
        for raw, expiry in zip(entries, expiries, strict=True)
    )


@contextlib.contextmanager
def lease_heartbeat(
    client: redis.Redis, keys: RedisKeys, batch_id: str, lease_ttl_s: float
) -> Iterator[threading.Event]:
    """Renew the batch's leases every third of their lifetime while the block runs.

    A daemon thread, so a process that dies takes the heartbeat with it and the leases lapse: that is
    how a dead run gives its repos back. A renewal that fails (Redis restarting) is retried next beat;
    the lease outlives two missed beats.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_ttl_s / 3):
            try:
                renew_leases(client, keys, batch_id, lease_ttl_s)
            except (redis.RedisError, OSError, BatchNotFound):
                continue

    with contextlib.suppress(BatchNotFound):  # the stage reports a missing batch record itself
        renew_leases(client, keys, batch_id, lease_ttl_s)
    thread = threading.Thread(target=beat, name=f"lease-{batch_id}", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=5)


def record_repo_failures(
    client: redis.Redis, keys: RedisKeys, batch_id: str, failures: Mapping[str, str]
) -> None:
    """Note repos that failed alone inside the batch's run; settling a successful run retries them."""
    if failures:
        client.hset(
            keys.batch_failures(batch_id), mapping={repo: reason[:500] for repo, reason in failures.items()}
        )


def _finish(client: redis.Redis, keys: RedisKeys, batch_id: str, status: str, **extra: Any) -> None:
    """Record how the batch ended on its record (kept, so a re-materialized partition can still be read)."""
    record = batch_record(client, keys, batch_id)
    record.update(status=status, finished=time.time(), **extra)
    client.set(keys.batch(batch_id), json.dumps(record))


def fail_repos(
    client: redis.Redis,
    keys: RedisKeys,
    failures: Mapping[str, str],
    policy: RetryPolicy,
    *,
    batch_id: str = "",
    kind: str = ATTEMPT,
    now: float | None = None,
) -> dict[str, str]:
    """Move failed in-flight repos on: back-off, straight back to the queue, or the dead-letter hash.

    ``kind`` says what the failure proves: ``attempt`` (the repo failed: counts toward MAX_REPO_ATTEMPTS,
    with back-off), ``crash`` (its run died: counts toward MAX_REPO_CRASHES, no back-off), ``requeue``
    (canceled by someone: counts nothing). Only entries still held by ``batch_id`` move ('' for any).
    """
    if not failures:
        return {}
    now = time.time() if now is None else now
    pairs = [item for repo, reason in failures.items() for item in (repo, reason[:500])]
    reply = client.eval(
        _FAIL_SCRIPT,
        6,
        keys.repos,
        keys.inflight,
        keys.leases,
        keys.attempts,
        keys.delayed,
        keys.dead,
        batch_id,
        repr(now),
        kind,
        policy.max_attempts,
        policy.max_crashes,
        repr(policy.backoff_s),
        *pairs,
    )
    return {_text(reply[i]): _text(reply[i + 1]) for i in range(0, len(reply), 2)}


def settle_batch(
    client: redis.Redis,
    keys: RedisKeys,
    batch_id: str,
    policy: RetryPolicy,
    *,
    succeeded: bool,
    reason: str,
    kind: str = ATTEMPT,
    now: float | None = None,
) -> Settled:
    """End a batch: on success ack its repos except those that failed alone; otherwise fail them all.

    Shared by the run-status sensors, the dead-run reaper and `codelupe run`, so every path that ends a
    batch counts attempts and parks poison the same way.
    """
    names = [str(name) for name in batch_record(client, keys, batch_id)["repos"]]
    if succeeded:
        alone = {_text(k): _text(v) for k, v in client.hgetall(keys.batch_failures(batch_id)).items()}
        good = [name for name in names if name not in alone]
        acked = (
            client.eval(_ACK_SCRIPT, 3, keys.inflight, keys.leases, keys.attempts, batch_id, *good)
            if good
            else []
        )
        failed = fail_repos(client, keys, alone, policy, batch_id=batch_id, kind=ATTEMPT, now=now)
        _finish(client, keys, batch_id, "succeeded", failed_repos=alone)
    else:
        acked = []
        failed = fail_repos(
            client, keys, dict.fromkeys(names, reason), policy, batch_id=batch_id, kind=kind, now=now
        )
        _finish(client, keys, batch_id, "requeued", reason=reason)
    return Settled(acked=tuple(_text(name) for name in acked), failed=failed)


def ack_batch(client: redis.Redis, keys: RedisKeys, batch_id: str) -> list[str]:
    """The batch succeeded: every repo leaves the in-flight hash. Returns the repos acknowledged."""
    return list(settle_batch(client, keys, batch_id, RetryPolicy(), succeeded=True, reason="").acked)


def requeue_batch(client: redis.Redis, keys: RedisKeys, batch_id: str, reason: str) -> list[str]:
    """Put the batch's repos still in flight back at their priority without counting an attempt."""
    settled = settle_batch(
        client, keys, batch_id, RetryPolicy(), succeeded=False, reason=reason, kind=REQUEUE
    )
    return sorted(settled.failed)


def expire_leases(
    client: redis.Redis, keys: RedisKeys, policy: RetryPolicy, now: float | None = None
) -> dict[str, str]:
    """Return the repos whose lease lapsed (their run died) as crashes; repo -> where it went.

    In-flight entries without any lease (written before leases existed) are expired too, once their age
    passes the lease lifetime, so an upgrade never strands a repo.
    """
    now = time.time() if now is None else now
    expired = [_text(repo) for repo in client.zrangebyscore(keys.leases, "-inf", repr(now))]
    inflight = client.hgetall(keys.inflight)
    leased = {_text(repo) for repo in client.zrange(keys.leases, 0, -1)}
    for repo, raw in inflight.items():
        name = _text(repo)
        if name not in leased and now - float(json.loads(raw).get("since", 0)) > policy.lease_ttl_s:
            expired.append(name)
    if not expired:
        return {}
    moved = fail_repos(
        client, keys, dict.fromkeys(expired, "lease expired: its run died"), policy, kind=CRASH
    )
    stray = [repo for repo in expired if repo not in moved]
    if stray:
        client.zrem(keys.leases, *stray)  # a lease whose repo is no longer in flight guards nothing
    return moved


def promote_due(client: redis.Redis, keys: RedisKeys, now: float | None = None) -> list[str]:
    """Queue the repos whose back-off is over."""
    now = time.time() if now is None else now
    return [
        _text(repo)
        for repo in client.eval(_PROMOTE_SCRIPT, 3, keys.delayed, keys.repos, keys.attempts, repr(now))
    ]


def retry_dead(client: redis.Redis, keys: RedisKeys, repos: Iterable[str] = ()) -> list[str]:
    """`codelupe retry`: queue parked repos again (all when none are named), forgetting their failures."""
    return sorted(
        _text(r) for r in client.eval(_RETRY_SCRIPT, 3, keys.dead, keys.repos, keys.attempts, *repos)
    )


def dead_letters(client: redis.Redis, keys: RedisKeys) -> dict[str, dict[str, Any]]:
    """Parked repos with their attempts, crashes and last reason."""
    return {_text(repo): json.loads(raw) for repo, raw in client.hgetall(keys.dead).items()}


@dataclass(frozen=True)
class QueueState:
    queued: int
    in_flight: int
    delayed: int
    dead: int
    next_lease_expiry: float | None
    next_retry_at: float | None

    @property
    def pending(self) -> int:
        """Repos that still need work: queued, held by a run, or waiting out a back-off."""
        return self.queued + self.in_flight + self.delayed


def queue_state(client: redis.Redis, keys: RedisKeys) -> QueueState:
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.repos)
    pipe.hlen(keys.inflight)
    pipe.zcard(keys.delayed)
    pipe.hlen(keys.dead)
    pipe.zrange(keys.leases, 0, 0, withscores=True)
    pipe.zrange(keys.delayed, 0, 0, withscores=True)
    queued, in_flight, delayed, dead, lease, retry = pipe.execute()
    return QueueState(
        queued=queued,
        in_flight=in_flight,
        delayed=delayed,
        dead=dead,
        next_lease_expiry=lease[0][1] if lease else None,
        next_retry_at=retry[0][1] if retry else None,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class EnqueueReport:
    enqueued: list[str]
    skipped: dict[str, int]  # reason -> count


def is_unchanged(record: RepoRecord, processed_head: str | None, last_queued: RepoRecord | None) -> bool:
    """Whether the repo was already processed in the state the crawl now reports.

    With a known HEAD (a local source) that is exact: the processed HEAD equals the crawled one. GitHub's
    search API does not report HEAD, so there the test is ``pushed_at`` no newer than it was when the repo
    was last queued (its record in ``repo_meta``) *and* that version was processed. A push that only
    touched another branch re-queues the repo once; the fetch then finds the same HEAD and costs little.
    """
    if processed_head is None:
        return False
    if record.head:
        return processed_head == record.head
    if last_queued is None or not record.pushed_at or not last_queued.pushed_at:
        return False
    crawled, queued = parse_timestamp(record.pushed_at), parse_timestamp(last_queued.pushed_at)
    return crawled is not None and queued is not None and crawled <= queued


def enqueue_repos(
    client: redis.Redis, keys: RedisKeys, scored: list[tuple[RepoRecord, float]]
) -> EnqueueReport:
    """Push repos needing work onto the queue with their priority; skip (and count) the rest.

    Skipped: already queued, in flight or backing off (the pending copy will pick up the newest commit
    when cloned), parked in the dead-letter hash (until `codelupe retry`), unchanged since processed, or a
    name that could never be cloned safely.
    """
    report = EnqueueReport(enqueued=[], skipped={})
    if not scored:
        return report
    names = [record.full_name for record, _ in scored]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.zscore(keys.repos, name)
    for name in names:
        pipe.zscore(keys.delayed, name)
    pipe.hmget(keys.inflight, names)
    pipe.hmget(keys.dead, names)
    pipe.hmget(keys.processed_repos, names)
    pipe.hmget(keys.repo_meta, names)
    *scores, inflight, dead, processed, metas = pipe.execute()
    queued_scores, delayed_until = scores[: len(names)], scores[len(names) :]

    to_add: dict[str, float] = {}
    meta_updates: dict[str, str] = {}
    for index, (record, priority) in enumerate(scored):
        name = record.full_name
        reason = None
        if not is_safe_name(name):
            reason = "invalid_name"
        elif inflight[index] is not None:
            reason = "in_flight"
        elif dead[index] is not None:
            reason = "dead_letter"
        elif delayed_until[index] is not None:
            reason = "backing_off"
        elif queued_scores[index] is not None or name in to_add:
            reason = "already_queued"
        elif is_unchanged(
            record,
            _text(processed[index]) if processed[index] is not None else None,
            RepoRecord.from_doc(json.loads(metas[index])) if metas[index] else None,
        ):
            reason = "unchanged"
        if reason:
            report.skipped[reason] = report.skipped.get(reason, 0) + 1
            continue
        to_add[name] = priority
        meta_updates[name] = json.dumps(record.to_doc())
    if to_add:
        pipe = client.pipeline(transaction=True)
        # Metadata first: a sensor popping the repo right after the ZADD must find how to clone it.
        pipe.hset(keys.repo_meta, mapping=meta_updates)
        pipe.zadd(keys.repos, to_add)
        pipe.execute()
    report.enqueued = list(to_add)
    return report
