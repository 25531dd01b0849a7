"""The Redis priority queue of repositories and its batches: pop, acknowledge, re-queue.

Delivery is at-least-once: popping a batch moves its repos to the in-flight hash in the same atomic step
that records the batch, so a crash at any point leaves every repo either queued, in flight (re-queued by
``requeue_stale`` after a timeout) or acknowledged — never lost. Processing is idempotent downstream
(content-addressed ids, dedup claims remember their claimant), so a repeat is harmless.

Each in-flight entry carries the repo's original priority, so a failed batch goes back exactly where it
was. An entry belongs to one batch: acknowledging or re-queueing batch A never touches a repo that has
since timed out and been popped again into batch B.

Redis Cluster: the pop and re-queue scripts touch several keys (queue, in-flight hash, batch index, batch
record), and a cluster only runs multi-key scripts whose keys share a hash slot. Run clustered with a
prefix that contains a hash tag, e.g. ``REDIS_KEY_PREFIX={pipeline}:``, so all queue keys land in one
slot; a single server or Valkey needs nothing.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from codelupe_dagster.core.git_clone import is_safe_name
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_priority import parse_timestamp

# KEYS: queue, inflight, batches index, batch record. ARGV: count, batch id, now.
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
end
redis.call('SET', KEYS[4], cjson.encode({repos = repos, created = tonumber(ARGV[3])}))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return popped
"""

# KEYS: queue, inflight. ARGV: batch id (or '' for any), then repos. Re-queues the repos still in flight
# for that batch; NX keeps a newer priority when queued_repos has meanwhile re-enqueued the repo.
_REQUEUE_SCRIPT = """
local done = {}
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[2], ARGV[i])
  if raw then
    local entry = cjson.decode(raw)
    if ARGV[1] == '' or entry.batch == ARGV[1] then
      redis.call('ZADD', KEYS[1], 'NX', entry.priority, ARGV[i])
      redis.call('HDEL', KEYS[2], ARGV[i])
      done[#done + 1] = ARGV[i]
    end
  end
end
return done
"""

# KEYS: inflight. ARGV: batch id, then repos. Drops the in-flight entries still owned by that batch.
_ACK_SCRIPT = """
local done = {}
for i = 2, #ARGV do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  if raw and cjson.decode(raw).batch == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    done[#done + 1] = ARGV[i]
  end
end
return done
"""


@dataclass(frozen=True)
class BatchInfo:
    batch_id: str
    repos: tuple[str, ...]
    created: float


class BatchNotFound(KeyError):
    """The batch record is missing (never created, or the Redis data was lost)."""


def new_batch_id(now: float) -> str:
    """``b20261128T170000-3f9a1c``: sorts by creation time, unique without coordination."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
    return f"b{stamp}-{secrets.token_hex(3)}"


def pop_batch(client: redis.Redis, keys: RedisKeys, size: int, now: float | None = None) -> BatchInfo | None:
    """Atomically take up to ``size`` highest-priority repos as a new batch; None when the queue is empty."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    now = time.time() if now is None else now
    batch_id = new_batch_id(now)
    popped = client.eval(
        _POP_SCRIPT,
        4,
        keys.repos,
        keys.inflight,
        keys.batches,
        keys.batch(batch_id),
        size,
        batch_id,
        repr(now),
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


def _finish(client: redis.Redis, keys: RedisKeys, batch_id: str, status: str, **extra: Any) -> None:
    """Record how the batch ended on its record (kept, so a re-materialized partition can still be read)."""
    record = batch_record(client, keys, batch_id)
    record.update(status=status, finished=time.time(), **extra)
    client.set(keys.batch(batch_id), json.dumps(record))


def ack_batch(client: redis.Redis, keys: RedisKeys, batch_id: str) -> list[str]:
    """The batch succeeded: its repos leave the in-flight hash. Returns the repos acknowledged."""
    names = batch_record(client, keys, batch_id)["repos"]
    done = client.eval(_ACK_SCRIPT, 1, keys.inflight, batch_id, *names) if names else []
    _finish(client, keys, batch_id, "succeeded")
    return [_text(name) for name in done]


def requeue_batch(client: redis.Redis, keys: RedisKeys, batch_id: str, reason: str) -> list[str]:
    """The batch failed or was canceled: its repos still in flight go back with their original priority."""
    names = batch_record(client, keys, batch_id)["repos"]
    done = client.eval(_REQUEUE_SCRIPT, 2, keys.repos, keys.inflight, batch_id, *names) if names else []
    _finish(client, keys, batch_id, "requeued", reason=reason)
    return [_text(name) for name in done]


def requeue_stale(
    client: redis.Redis, keys: RedisKeys, timeout_s: float, now: float | None = None
) -> list[str]:
    """Re-queue repos in flight for longer than ``timeout_s`` (their run died without a status event)."""
    now = time.time() if now is None else now
    stale_by_batch: dict[str, list[str]] = {}
    for repo, raw in client.hgetall(keys.inflight).items():
        entry = json.loads(raw)
        if now - float(entry.get("since", 0)) > timeout_s:
            stale_by_batch.setdefault(str(entry.get("batch", "")), []).append(_text(repo))
    requeued: list[str] = []
    for batch_id, names in stale_by_batch.items():
        # Per batch, so an entry re-popped into a newer batch between HGETALL and here is left alone.
        done = client.eval(_REQUEUE_SCRIPT, 2, keys.repos, keys.inflight, batch_id, *names)
        requeued.extend(_text(name) for name in done)
    return sorted(requeued)


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

    Skipped: already queued or in flight (the pending copy will pick up the newest commit when cloned),
    unchanged since processed, or a name that could never be cloned safely.
    """
    report = EnqueueReport(enqueued=[], skipped={})
    if not scored:
        return report
    names = [record.full_name for record, _ in scored]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.zscore(keys.repos, name)
    pipe.hmget(keys.inflight, names)
    pipe.hmget(keys.processed_repos, names)
    pipe.hmget(keys.repo_meta, names)
    *queued_scores, inflight, processed, metas = pipe.execute()

    to_add: dict[str, float] = {}
    meta_updates: dict[str, str] = {}
    for index, (record, priority) in enumerate(scored):
        name = record.full_name
        reason = None
        if not is_safe_name(name):
            reason = "invalid_name"
        elif inflight[index] is not None:
            reason = "in_flight"
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
