"""Settle a batch when its run ends: the one rule the run-status sensors, the dead-run reaper and
`codelupe run` all apply, so every way a batch ends counts attempts and parks poison alike.

How a run ended decides what its repos' failure proves:

- succeeded: its repos are acknowledged, except those that failed alone inside it (retried with back-off);
- failed: every repo counts an attempt (back-off, parked at MAX_REPO_ATTEMPTS);
- canceled or interrupted by the operator: the repos go back at their priority, counting nothing;
- died (its process killed, its worker gone): every repo counts a crash (parked only at MAX_REPO_CRASHES).
"""

from __future__ import annotations

from enum import Enum

from codelupe_dagster.backends.repo_queue import (
    ATTEMPT,
    CRASH,
    REQUEUE,
    BatchNotFound,
    FailureKind,
    RepoQueue,
    Settled,
)


class RunEnd(Enum):
    """How a batch's run ended, as far as its repos are concerned."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"
    DIED = "died"


_FAILURE_KIND: dict[RunEnd, FailureKind] = {
    RunEnd.SUCCEEDED: ATTEMPT,  # only the repos that failed alone count, each an attempt
    RunEnd.FAILED: ATTEMPT,
    RunEnd.CANCELED: REQUEUE,
    RunEnd.INTERRUPTED: REQUEUE,
    RunEnd.DIED: CRASH,
}


def settle_run(queue: RepoQueue, batch_id: str, end: RunEnd, reason: str) -> Settled | None:
    """Settle ``batch_id`` after its run ended as ``end``; None when the batch has no record to settle
    (never created, or already gone with the store's data) — the caller decides whether to say so."""
    try:
        return queue.settle(
            batch_id, succeeded=end is RunEnd.SUCCEEDED, reason=reason, kind=_FAILURE_KIND[end]
        )
    except BatchNotFound:
        return None


def requeue_unstarted(queue: RepoQueue, batch_ids: set[str], reason: str = "interrupted") -> None:
    """Put back the repos of batches that were popped but whose runs never started."""
    for batch_id in sorted(batch_ids):
        settle_run(queue, batch_id, RunEnd.INTERRUPTED, reason)


def describe(batch_id: str, status: str, settled: Settled) -> str:
    """One log line: what settling the batch did to its repos."""
    return (
        f"batch {batch_id} ({status}): acknowledged {len(settled.acked)} repos, "
        f"retrying {len(settled.failed) - len(settled.parked)}, parked {settled.parked}"
    )
