"""`RepoQueue` over Redis or Valkey: a sorted set, hashes for in-flight repos and attempts, Lua scripts
for every multi-key step, so a crash between two commands can never half-apply one.

Redis Cluster: the scripts touch several keys (queue, in-flight hash, leases, attempts, batch record), and
a cluster only runs multi-key scripts whose keys share a hash slot. Run clustered with a prefix that
contains a hash tag, e.g. ``REDIS_KEY_PREFIX={pipeline}:``; a single server or Valkey needs nothing.

`RedisRepoQueue` holds one client, one key prefix and one `RetryPolicy`; `RedisResource.queue()` hands it
out. The delivery and retry rules are `backends/repo_queue.py`'s.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from codelupe_dagster.backends.forget_registry import ForgetRules
from codelupe_dagster.backends.repo_queue import (
    ATTEMPT,
    CRASH,
    REASON_LIMIT,
    BatchInfo,
    BatchNotFound,
    EnqueueReport,
    FailureKind,
    QueueState,
    RetryPolicy,
    Settled,
    is_unchanged,
    new_batch_id,
)
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_names import is_safe_name

if TYPE_CHECKING:  # imported where used: `codelupe status` reads through `resp_reader.RespReader`
    import redis
    from redis.typing import EncodableT

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


# KEYS: batches index, then (record, failures) per batch. ARGV: the batch ids. Drops a batch's record and
# failure notes only when the record says how the batch ended (`status`), or is already gone.
_DROP_SETTLED_SCRIPT = """
local dropped = {}
for i = 1, #ARGV do
  local raw = redis.call('GET', KEYS[2 * i])
  local settled = not raw
  if raw then
    local ok, record = pcall(cjson.decode, raw)
    settled = ok and type(record) == 'table' and record.status ~= nil
  end
  if settled then
    redis.call('DEL', KEYS[2 * i], KEYS[2 * i + 1])
    redis.call('ZREM', KEYS[1], ARGV[i])
    dropped[#dropped + 1] = ARGV[i]
  end
end
return dropped
"""


class RedisRepoQueue:
    """`RepoQueue` on Redis or Valkey: a ZSET queue, an in-flight hash with leases, Lua for atomic moves.

    ``policy`` sets the lease lifetime given at pop and renewal, and how failures are retried and parked.
    """

    def __init__(self, client: redis.Redis, keys: RedisKeys, policy: RetryPolicy | None = None) -> None:
        self.client = client
        self.keys = keys
        self.policy = policy or RetryPolicy()

    # ------------------------------------------------------------------ enqueue

    def enqueue(self, scored: Sequence[tuple[RepoRecord, float]]) -> EnqueueReport:
        """Push repos needing work onto the queue with their priority; skip (and count) the rest.

        Skipped: already queued, in flight or backing off (the pending copy will pick up the newest commit
        when cloned), parked in the dead-letter hash (until `codelupe retry`), unchanged since processed,
        or a name that could never be cloned safely.
        """
        report = EnqueueReport(enqueued=[], skipped={})
        if not scored:
            return report
        to_add: dict[str, float] = {}
        meta_updates: dict[str, str] = {}
        for (record, priority), known in zip(scored, self._known_states(scored), strict=True):
            reason = self._skip_reason(record, known, to_add)
            if reason:
                report.skipped[reason] = report.skipped.get(reason, 0) + 1
                continue
            to_add[record.full_name] = priority
            meta_updates[record.full_name] = json.dumps(record.to_doc())
        if to_add:
            pipe = self.client.pipeline(transaction=True)
            # Metadata first: a sensor popping the repo right after the ZADD must find how to clone it.
            pipe.hset(self.keys.repo_meta, mapping=_hash_fields(meta_updates))
            pipe.zadd(self.keys.repos, to_add)
            pipe.execute()
        report.enqueued = list(to_add)
        return report

    def _known_states(self, scored: Sequence[tuple[RepoRecord, float]]) -> list[_KnownState]:
        """What the store already knows of each repo, in one round trip."""
        names = [record.full_name for record, _ in scored]
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.zscore(self.keys.repos, name)
        for name in names:
            pipe.zscore(self.keys.delayed, name)
        for key in (self.keys.inflight, self.keys.dead, self.keys.processed_repos, self.keys.repo_meta):
            pipe.hmget(key, names)
        pipe.smembers(self.keys.forget_prefixes)
        pipe.smembers(self.keys.forget_globs)
        *scores, inflight, dead, processed, metas, prefixes, globs = pipe.execute()
        rules = ForgetRules(frozenset(_text(p).lower() for p in prefixes), tuple(_text(g) for g in globs))
        count = len(names)
        return [
            _KnownState(
                forgotten=rules.repo_forgotten(names[i]),
                queued=scores[i] is not None,
                delayed=scores[count + i] is not None,
                in_flight=inflight[i] is not None,
                dead=dead[i] is not None,
                processed_head=_text(processed[i]) if processed[i] is not None else None,
                last_queued=RepoRecord.from_doc(json.loads(metas[i])) if metas[i] else None,
            )
            for i in range(count)
        ]

    @staticmethod
    def _skip_reason(record: RepoRecord, known: _KnownState, adding: Mapping[str, float]) -> str | None:
        if not is_safe_name(record.full_name):
            return "invalid_name"
        if known.forgotten:
            return "forgotten"
        if known.in_flight:
            return "in_flight"
        if known.dead:
            return "dead_letter"
        if known.delayed:
            return "backing_off"
        if known.queued or record.full_name in adding:
            return "already_queued"
        if is_unchanged(record, known.processed_head, known.last_queued):
            return "unchanged"
        return None

    # ------------------------------------------------------------------ batches and leases

    def pop_batch(self, size: int, now: float | None = None) -> BatchInfo | None:
        """Atomically take up to ``size`` highest-priority repos as a new, leased batch; None when empty."""
        if size < 1:
            raise ValueError(f"batch size must be at least 1, got {size}")
        now = time.time() if now is None else now
        batch_id = new_batch_id(now)
        keys = self.keys
        popped = self._eval(
            _POP_SCRIPT,
            [keys.repos, keys.inflight, keys.batches, keys.batch(batch_id), keys.leases],
            [size, batch_id, repr(now), repr(now + self.policy.lease_ttl_s)],
        )
        if not popped:
            return None
        repos = tuple(_text(popped[i]) for i in range(0, len(popped), 2))
        return BatchInfo(batch_id=batch_id, repos=repos, created=now)

    def batch_record(self, batch_id: str) -> dict[str, Any]:
        raw = self.client.get(self.keys.batch(batch_id))
        if raw is None:
            raise BatchNotFound(batch_id)
        record: dict[str, Any] = json.loads(raw)
        if not isinstance(record.get("repos"), list):
            record[
                "repos"
            ] = []  # cjson encodes an empty Lua table as {}; a batch is never empty, but be safe
        return record

    def _batch_names(self, batch_id: str) -> list[str]:
        return [str(name) for name in self.batch_record(batch_id)["repos"]]

    def batch_repos(self, batch_id: str) -> list[RepoRecord]:
        """The batch's repos with the metadata recorded at enqueue time, in priority order.

        A repo whose metadata is missing comes back with an empty clone URL, so the cloner records it as a
        failure with a reason instead of the batch silently shrinking.
        """
        names = self._batch_names(batch_id)
        metas = self.client.hmget(self.keys.repo_meta, names) if names else []
        return [
            RepoRecord.from_doc(json.loads(meta)) if meta else RepoRecord(name, clone_url="")
            for name, meta in zip(names, metas, strict=True)
        ]

    def batch_records(self, batch_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        ids = list(batch_ids)
        raws = self.client.mget([self.keys.batch(b) for b in ids]) if ids else []
        return {b: json.loads(raw) for b, raw in zip(ids, raws, strict=True) if raw is not None}

    def old_batches(self, keep: int, limit: int) -> list[str]:
        """Oldest first by creation time (the index's score), so the newest ``keep`` are never named."""
        surplus = min(int(self.client.zcard(self.keys.batches)) - max(0, keep), limit)
        if surplus <= 0:
            return []
        return [_text(b) for b in cast("list[bytes]", self.client.zrange(self.keys.batches, 0, surplus - 1))]

    def drop_batch_records(self, batch_ids: Sequence[str]) -> list[str]:
        """One script, so a record is never dropped between a check and a settle that rewrites it."""
        ids = list(batch_ids)
        if not ids:
            return []
        keys = [self.keys.batches]
        for batch_id in ids:
            keys += [self.keys.batch(batch_id), self.keys.batch_failures(batch_id)]
        return [_text(b) for b in self._eval(_DROP_SETTLED_SCRIPT, keys, ids)]

    def renew_leases(self, batch_id: str, now: float | None = None) -> int:
        """Extend the leases this batch still holds; returns how many it holds (0: nothing left to guard)."""
        now = time.time() if now is None else now
        names = self._batch_names(batch_id)
        if not names:
            return 0
        renewed = self._eval(
            _RENEW_SCRIPT,
            [self.keys.inflight, self.keys.leases],
            [batch_id, repr(now + self.policy.lease_ttl_s), *names],
        )
        return int(renewed)

    def holds_leases(self, batch_id: str, now: float | None = None) -> bool:
        """Whether any repo of the batch is in flight for it under a lease that has not lapsed."""
        now = time.time() if now is None else now
        names = self._batch_names(batch_id)
        if not names:
            return False
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.inflight, names)
        for name in names:
            pipe.zscore(self.keys.leases, name)
        entries, *expiries = pipe.execute()
        return any(
            raw is not None
            and json.loads(raw).get("batch") == batch_id
            and expiry is not None
            and expiry > now
            for raw, expiry in zip(entries, expiries, strict=True)
        )

    @contextlib.contextmanager
    def keep_leased(self, batch_id: str) -> Iterator[threading.Event]:
        """Renew the batch's leases every third of their lifetime while the block runs.

        A daemon thread, so a process that dies takes the heartbeat with it and the leases lapse: that is
        how a dead run gives its repos back. A renewal that fails (Redis restarting) is retried next beat;
        the lease outlives two missed beats.
        """
        import redis

        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.policy.lease_ttl_s / 3):
                with contextlib.suppress(redis.RedisError, OSError, BatchNotFound):
                    self.renew_leases(batch_id)

        with contextlib.suppress(BatchNotFound):  # the stage reports a missing batch record itself
            self.renew_leases(batch_id)
        thread = threading.Thread(target=beat, name=f"lease-{batch_id}", daemon=True)
        thread.start()
        try:
            yield stop
        finally:
            stop.set()
            thread.join(timeout=5)

    # ------------------------------------------------------------------ settling and failures

    def record_repo_failures(self, batch_id: str, failures: Mapping[str, str]) -> None:
        """Note repos that failed alone inside the batch's run; settling a successful run retries them."""
        if failures:
            mapping = {repo: reason[:REASON_LIMIT] for repo, reason in failures.items()}
            self.client.hset(self.keys.batch_failures(batch_id), mapping=_hash_fields(mapping))

    def settle(
        self,
        batch_id: str,
        *,
        succeeded: bool,
        reason: str,
        kind: FailureKind = "attempt",
        now: float | None = None,
    ) -> Settled:
        """End a batch: on success ack its repos except those that failed alone; otherwise fail them all.

        Every path that ends a batch (run-status sensors, the dead-run reaper, `codelupe run`) comes here,
        so attempts are counted and poison parked the same way.
        """
        names = self._batch_names(batch_id)
        if succeeded:
            return self._settle_success(batch_id, names, now)
        failed = self.fail_repos(dict.fromkeys(names, reason), batch_id=batch_id, kind=kind, now=now)
        self._finish(batch_id, "requeued", reason=reason)
        return Settled(acked=(), failed=failed)

    def _settle_success(self, batch_id: str, names: list[str], now: float | None) -> Settled:
        alone = {
            name: _text(reason) for name, reason in self._hash(self.keys.batch_failures(batch_id)).items()
        }
        good = [name for name in names if name not in alone]
        acked = (
            self._eval(
                _ACK_SCRIPT, [self.keys.inflight, self.keys.leases, self.keys.attempts], [batch_id, *good]
            )
            if good
            else []
        )
        failed = self.fail_repos(alone, batch_id=batch_id, kind=ATTEMPT, now=now)
        self._finish(batch_id, "succeeded", failed_repos=alone)
        return Settled(acked=tuple(_text(name) for name in acked), failed=failed)

    def _finish(self, batch_id: str, status: str, **extra: Any) -> None:
        """Record how the batch ended on its record (kept, so a re-materialized partition can be read)."""
        record = self.batch_record(batch_id)
        record.update(status=status, finished=time.time(), **extra)
        self.client.set(self.keys.batch(batch_id), json.dumps(record))

    def fail_repos(
        self,
        failures: Mapping[str, str],
        *,
        batch_id: str = "",
        kind: FailureKind = "attempt",
        now: float | None = None,
    ) -> dict[str, str]:
        """Move failed in-flight repos on: back-off, straight back to the queue, or the dead-letter hash.

        ``kind`` says what the failure proves: ``attempt`` (the repo failed: counts toward
        MAX_REPO_ATTEMPTS, with back-off), ``crash`` (its run died: counts toward MAX_REPO_CRASHES, no
        back-off), ``requeue`` (canceled by someone: counts nothing). Only entries still held by
        ``batch_id`` move ('' for any).
        """
        if not failures:
            return {}
        now = time.time() if now is None else now
        keys, policy = self.keys, self.policy
        pairs = [item for repo, reason in failures.items() for item in (repo, reason[:REASON_LIMIT])]
        reply = self._eval(
            _FAIL_SCRIPT,
            [keys.repos, keys.inflight, keys.leases, keys.attempts, keys.delayed, keys.dead],
            [
                batch_id,
                repr(now),
                kind,
                policy.max_attempts,
                policy.max_crashes,
                repr(policy.backoff_s),
                *pairs,
            ],
        )
        return {_text(reply[i]): _text(reply[i + 1]) for i in range(0, len(reply), 2)}

    def expire_leases(self, now: float | None = None) -> dict[str, str]:
        """Return the repos whose lease lapsed (their run died) as crashes; repo -> where it went.

        In-flight entries without any lease (written before leases existed) are expired too, once their age
        passes the lease lifetime, so an upgrade never strands a repo.
        """
        now = time.time() if now is None else now
        lapsed = cast("list[bytes]", self.client.zrangebyscore(self.keys.leases, "-inf", repr(now)))
        expired = [_text(repo) for repo in lapsed]
        leased = {_text(repo) for repo in cast("list[bytes]", self.client.zrange(self.keys.leases, 0, -1))}
        for name, raw in self._hash(self.keys.inflight).items():
            if name not in leased and now - float(json.loads(raw).get("since", 0)) > self.policy.lease_ttl_s:
                expired.append(name)
        if not expired:
            return {}
        moved = self.fail_repos(dict.fromkeys(expired, "lease expired: its run died"), kind=CRASH)
        stray = [repo for repo in expired if repo not in moved]
        if stray:
            self.client.zrem(
                self.keys.leases, *stray
            )  # a lease whose repo is no longer in flight guards nothing
        return moved

    def promote_due(self, now: float | None = None) -> list[str]:
        """Queue the repos whose back-off is over."""
        now = time.time() if now is None else now
        keys = self.keys
        due = self._eval(_PROMOTE_SCRIPT, [keys.delayed, keys.repos, keys.attempts], [repr(now)])
        return [_text(repo) for repo in due]

    def retry_dead(self, repos: Iterable[str] = ()) -> list[str]:
        """`codelupe retry`: queue parked repos again (all when none are named), forgetting their failures."""
        keys = self.keys
        done = self._eval(_RETRY_SCRIPT, [keys.dead, keys.repos, keys.attempts], list(repos))
        return sorted(_text(repo) for repo in done)

    def dead_letters(self) -> dict[str, dict[str, Any]]:
        """Parked repos with their attempts, crashes and last reason."""
        return {repo: json.loads(raw) for repo, raw in self._hash(self.keys.dead).items()}

    # ------------------------------------------------------------------ processed

    def mark_processed(self, commits: Mapping[str, str]) -> None:
        """Record the commit each repo was processed at; called last, once its files are indexed, so a
        crash before it re-processes the repo instead of skipping it."""
        if commits:
            self.client.hset(self.keys.processed_repos, mapping=_hash_fields(commits))

    def processed_count(self) -> int:
        return int(self.client.hlen(self.keys.processed_repos))

    # ------------------------------------------------------------------ forgetting

    def forget_repos(self, repos: Sequence[str]) -> dict[str, int]:
        """See `RepoQueue.forget_repos`. One transaction for the per-repo stores; batch records (kept for
        every batch ever popped) are rewritten without the repos afterwards, each with a compare-and-set."""
        names = list(repos)
        if not names:
            return {}
        keys = self.keys
        pipe = self.client.pipeline(transaction=True)
        for key in (keys.repos, keys.leases, keys.delayed):
            pipe.zrem(key, *names)
        stores = (keys.repo_meta, keys.inflight, keys.attempts, keys.dead, keys.processed_repos)
        for key in stores:
            pipe.hdel(key, *names)
        replies = pipe.execute()
        removed = dict(zip(("queued", "leases", "delayed", "metadata", "in_flight", "attempts", "dead",
                            "processed"), (int(n) for n in replies), strict=True))  # fmt: skip
        removed["batch_records"] = self._forget_in_batches(set(names))
        return removed

    def _forget_in_batches(self, names: set[str]) -> int:
        """Batch records naming any of `names`, read with MGET in chunks (one scan for all the names),
        rewritten one by one under WATCH."""
        import redis

        changed = 0
        batch_ids = [_text(b) for b in cast("list[bytes]", self.client.zrange(self.keys.batches, 0, -1))]
        naming: list[str] = []
        # A cheap text test first (cjson writes "/" as "\\/"); the records found are parsed below.
        spelled = {form for name in names for form in (name, name.replace("/", "\\/"))}
        for start in range(0, len(batch_ids), 1000):
            chunk = batch_ids[start : start + 1000]
            records = self.client.mget([self.keys.batch(b) for b in chunk])
            for batch_id, raw in zip(chunk, records, strict=True):
                if raw is not None and any(form in _text(raw) for form in spelled):
                    naming.append(batch_id)
        for batch_id in naming:
            key = self.keys.batch(batch_id)
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    if raw is None:
                        continue
                    record = json.loads(raw)
                    repos = record.get("repos") if isinstance(record.get("repos"), list) else []
                    failed = (
                        record.get("failed_repos") if isinstance(record.get("failed_repos"), dict) else {}
                    )
                    if not (names & set(repos) or names & set(failed)):
                        continue
                    record["repos"] = [repo for repo in repos if repo not in names]
                    if failed:
                        record["failed_repos"] = {k: v for k, v in failed.items() if k not in names}
                    pipe.multi()
                    pipe.set(key, json.dumps(record))
                    pipe.hdel(self.keys.batch_failures(batch_id), *names)
                    pipe.execute()
                    changed += 1
                except redis.WatchError:
                    changed += self._forget_in_batches(names)  # rare: the record changed meanwhile
                    return changed
        return changed

    def known_repos(self) -> set[str]:
        keys = self.keys
        found: set[str] = set()
        for key in (keys.repos, keys.delayed):
            found.update(_text(name) for name, _ in self.client.zscan_iter(key, count=10_000))
        for key in (keys.repo_meta, keys.inflight, keys.dead, keys.processed_repos):
            found.update(_text(name) for name in self.client.hkeys(key))
        return found

    def requeue_full(self, priorities: Mapping[str, float]) -> list[str]:
        """See `RepoQueue.requeue_full`. A repo in flight is queued again too: its run may have scored it
        before the copy it carries was freed."""
        names = list(priorities)
        if not names:
            return []
        keys = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(keys.repo_meta, names)
        pipe.hmget(keys.dead, names)
        pipe.smembers(keys.forget_prefixes)
        metas, dead, prefixes = pipe.execute()
        rules = ForgetRules(frozenset(_text(p).lower() for p in prefixes))
        chosen = {
            name: priorities[name]
            for name, meta, parked in zip(names, metas, dead, strict=True)
            if meta is not None and parked is None and not rules.repo_forgotten(name)
        }
        if chosen:
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(keys.processed_repos, *chosen)
            pipe.zadd(keys.repos, chosen, nx=True)
            pipe.execute()
        return sorted(chosen)

    # ------------------------------------------------------------------ reading

    def state(self) -> QueueState:
        keys = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(keys.repos)
        pipe.hlen(keys.inflight)
        pipe.zcard(keys.delayed)
        pipe.hlen(keys.dead)
        pipe.zrange(keys.leases, 0, 0, withscores=True)
        pipe.zrange(keys.delayed, 0, 0, withscores=True)
        pipe.zcard(keys.batches)
        queued, in_flight, delayed, dead, lease, retry, batches = pipe.execute()
        return QueueState(
            queued=queued,
            in_flight=in_flight,
            delayed=delayed,
            dead=dead,
            next_lease_expiry=lease[0][1] if lease else None,
            next_retry_at=retry[0][1] if retry else None,
            batches=batches,
        )

    def batches_in_progress(self) -> set[str]:
        """The batches holding leased repos now, read from the in-flight entries (bounded by the repos in
        flight); the batch records themselves are kept for every batch ever started, so they only grow."""
        held = cast("list[bytes]", self.client.hvals(self.keys.inflight))
        return {str(json.loads(raw)["batch"]) for raw in held}

    def top(self, limit: int) -> list[tuple[str, float]]:
        rows = cast(
            "list[tuple[bytes, float]]", self.client.zrevrange(self.keys.repos, 0, limit - 1, withscores=True)
        )
        return [(_text(name), float(score)) for name, score in rows]

    def _hash(self, key: str) -> dict[str, bytes]:
        """A whole hash with its field names decoded."""
        raw = cast("dict[bytes, bytes]", self.client.hgetall(key))
        return {_text(field): value for field, value in raw.items()}

    def _eval(self, script: str, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        return self.client.eval(script, len(keys), *keys, *args)


@dataclass(frozen=True)
class _KnownState:
    """One repo as the store knows it when a crawl offers it again."""

    forgotten: bool
    queued: bool
    delayed: bool
    in_flight: bool
    dead: bool
    processed_head: str | None
    last_queued: RepoRecord | None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _hash_fields(values: Mapping[str, str]) -> dict[EncodableT, EncodableT]:
    """A str mapping typed as redis-py's HSET takes it (its mapping type is invariant in the key)."""
    fields: dict[EncodableT, EncodableT] = {}
    fields.update(values)
    return fields
