"""The priority queue of repositories and its batches: pop, lease, acknowledge, retry, park.

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

Callers use the `RepoQueue` interface defined here; `backends/redis_repo_queue.py` implements it over
Redis or Valkey, and the contract suite in `tests/backends` runs it against both servers.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_priority import parse_timestamp

FailureKind = Literal["attempt", "crash", "requeue"]
ATTEMPT: Literal["attempt"] = "attempt"  # the repo failed: counts toward MAX_REPO_ATTEMPTS, with back-off
CRASH: Literal["crash"] = "crash"  # its run died: counts toward MAX_REPO_CRASHES
REQUEUE: Literal["requeue"] = "requeue"  # canceled by someone: counts nothing
REASON_LIMIT = 500  # characters of a failure reason kept: enough to diagnose, bounded in memory


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


@dataclass(frozen=True)
class QueueState:
    queued: int
    in_flight: int
    delayed: int
    dead: int
    next_lease_expiry: float | None
    next_retry_at: float | None
    batches: int = 0  # batch records kept (every batch ever popped)

    @property
    def pending(self) -> int:
        """Repos that still need work: queued, held by a run, or waiting out a back-off."""
        return self.queued + self.in_flight + self.delayed


@dataclass
class EnqueueReport:
    enqueued: list[str]
    skipped: dict[str, int]  # reason -> count


def new_batch_id(now: float) -> str:
    """``b20261128T170000-3f9a1c``: sorts by creation time, unique without coordination."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S")
    return f"b{stamp}-{secrets.token_hex(3)}"


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


class RepoQueue(Protocol):
    """What the pipeline needs of the repository queue: enqueue, pop leased batches, settle them, retry.

    Every method that takes ``now`` uses the wall clock when it is None; tests pass it to stay exact.
    """

    policy: RetryPolicy

    def enqueue(self, scored: Sequence[tuple[RepoRecord, float]]) -> EnqueueReport:
        """Queue repos needing work at their priority; skip (and count by reason) the rest."""
        ...

    def pop_batch(self, size: int, now: float | None = None) -> BatchInfo | None:
        """Take up to ``size`` highest-priority repos as a new leased batch; None when the queue is empty."""
        ...

    def batch_record(self, batch_id: str) -> dict[str, Any]:
        """The batch's record: its repos, when it was created, and how it ended once settled."""
        ...

    def batch_repos(self, batch_id: str) -> list[RepoRecord]:
        """The batch's repos with the metadata recorded when they were enqueued, in priority order."""
        ...

    def batch_records(self, batch_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records of these batches, in one round trip; a batch without a record is left out."""
        ...

    def old_batches(self, keep: int, limit: int) -> list[str]:
        """Up to ``limit`` batch ids, oldest first, of the batches older than the newest ``keep``."""
        ...

    def drop_batch_records(self, batch_ids: Sequence[str]) -> list[str]:
        """Remove the records of these batches that are settled (their run ended and their repos were
        acknowledged, re-queued or parked), with their failure notes; the ids whose record is gone."""
        ...

    def renew_leases(self, batch_id: str, now: float | None = None) -> int:
        """Extend the leases the batch still holds; how many it holds."""
        ...

    def holds_leases(self, batch_id: str, now: float | None = None) -> bool:
        """Whether any repo of the batch is still held for it under a live lease."""
        ...

    def keep_leased(self, batch_id: str) -> AbstractContextManager[object]:
        """Renew the batch's leases from a heartbeat thread while the block runs."""
        ...

    def record_repo_failures(self, batch_id: str, failures: Mapping[str, str]) -> None:
        """Note repos that failed alone inside the batch's run (repo -> reason)."""
        ...

    def settle(
        self,
        batch_id: str,
        *,
        succeeded: bool,
        reason: str,
        kind: FailureKind = "attempt",
        now: float | None = None,
    ) -> Settled:
        """End a batch: ack its repos on success (retrying those that failed alone), else fail them all."""
        ...

    def fail_repos(
        self,
        failures: Mapping[str, str],
        *,
        batch_id: str = "",
        kind: FailureKind = "attempt",
        now: float | None = None,
    ) -> dict[str, str]:
        """Move failed in-flight repos to back-off, the queue or the dead letters; repo -> where it went."""
        ...

    def expire_leases(self, now: float | None = None) -> dict[str, str]:
        """Return the repos whose lease lapsed as crashes; repo -> where it went."""
        ...

    def promote_due(self, now: float | None = None) -> list[str]:
        """Queue the repos whose back-off is over."""
        ...

    def retry_dead(self, repos: Iterable[str] = ()) -> list[str]:
        """Queue parked repos again (all when none are named) with a clean history."""
        ...

    def dead_letters(self) -> dict[str, dict[str, Any]]:
        """Parked repos with their attempts, crashes and last reason."""
        ...

    def mark_processed(self, commits: Mapping[str, str]) -> None:
        """Record each repo as processed at the commit read (repo -> HEAD sha), so a crawl that reports
        the same state again skips it as unchanged."""
        ...

    def processed_count(self) -> int:
        """How many repos have been processed at some commit."""
        ...

    def state(self) -> QueueState:
        """How many repos are queued, in flight, backing off and parked."""
        ...

    def forget_repos(self, repos: Sequence[str]) -> dict[str, int]:
        """Remove every trace of these repos from the queue's state (queued, metadata, in flight, leases,
        back-off, history, dead letters, processed heads, batch records); store -> entries removed. The
        forget registry keeps them from being enqueued again (`enqueue` skips them as `forgotten`)."""
        ...

    def known_repos(self) -> set[str]:
        """Every repo the queue's state names: queued, with metadata, in flight, backing off, parked or
        processed."""
        ...

    def requeue_full(self, priorities: Mapping[str, float]) -> list[str]:
        """Queue known repos again for a full re-read (their processed head is cleared, so the next crawl
        cannot skip them as unchanged); those parked or forgotten are left alone. The repos queued."""
        ...

    def top(self, limit: int) -> list[tuple[str, float]]:
        """The ``limit`` highest-priority queued repos with their priorities, highest first."""
        ...
