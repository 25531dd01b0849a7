"""Which `repo_batches` partitions may be retired: the rule the batch sensor applies at every tick.

Every batch adds a partition, so continuous mode (say 100 batches an hour, 876k a year) would pass
Dagster's ~100k-partition guidance within six weeks. The newest ``keep`` partitions (KEEP_BATCH_PARTITIONS)
always stay, whatever their state, so the UI shows recent history. An older partition is retired once
nothing can still need it:

- its batch is **settled**: the batch record says how its run ended (`status`), so its repos were
  acknowledged, re-queued, backed off or parked;
- a batch that **succeeded** is also **indexed**: `es_code_index` was materialized for the partition (a
  batch that failed or was canceled has its repos back on the queue, and nothing of it to index);
- **no run** of the partition is queued, starting, running or canceling (an operator's re-execution of an
  old partition keeps it until that run ends).

A partition without a batch record (Redis data lost, or a key added by hand) is never retired: nothing
says it is settled. A batch that was popped but whose run never started (the process died between the
tick and the run) is **abandoned** once its record is older than ``ABANDONED_AFTER_S`` and it holds no
live lease: its repos already went back when the leases lapsed, so the sensor settles it as a crash and
it is retired like any other. At most ``limit`` partitions are retired per tick, oldest first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SETTLED_STATUSES = frozenset({"succeeded", "requeued"})
RETIRE_PER_TICK = 200
"""Partitions retired per tick at most: far above the rate batches are added (a tick is 30 s or more),
so a deployment that starts with a backlog clears it within hours without a long tick."""


ABANDONED_AFTER_S = 86_400.0
"""An unsettled batch older than this, with no live lease and no run, is settled as abandoned."""


def abandoned(record: Mapping[str, Any], now: float) -> bool:
    """Whether an unsettled batch is old enough to be abandoned (the caller checks leases and runs)."""
    if record.get("status") in SETTLED_STATUSES:
        return False
    created = record.get("created")
    return isinstance(created, int | float) and now - float(created) > ABANDONED_AFTER_S


def candidates(partitions: Sequence[str], keep: int) -> list[str]:
    """The partitions older than the newest ``keep``, oldest first (``partitions`` in the order they were
    added, as Dagster lists them)."""
    surplus = len(partitions) - max(0, keep)
    return list(partitions[:surplus]) if surplus > 0 else []


@dataclass(frozen=True)
class Verdict:
    """Why a candidate partition stays (or None: retire it)."""

    batch_id: str
    kept_because: str | None

    @property
    def retire(self) -> bool:
        return self.kept_because is None


def judge(batch_id: str, record: Mapping[str, Any] | None, *, indexed: bool, active: bool) -> Verdict:
    """Whether one partition older than the newest ``keep`` may be retired, and if not, why."""
    if active:
        return Verdict(batch_id, "a run of it is queued or in flight")
    if record is None:
        return Verdict(batch_id, "no batch record says it is settled")
    status = record.get("status")
    if status not in SETTLED_STATUSES:
        return Verdict(batch_id, "not settled")
    if status == "succeeded" and not indexed:
        return Verdict(batch_id, "succeeded but es_code_index was not materialized for it")
    return Verdict(batch_id, None)


def select(
    batch_ids: Sequence[str],
    records: Mapping[str, Mapping[str, Any]],
    indexed: Collection[str],
    active: Collection[str],
    limit: int,
) -> tuple[list[str], list[Verdict]]:
    """The partitions to retire (at most ``limit``, in the given order) and the verdicts of those kept."""
    retire: list[str] = []
    kept: list[Verdict] = []
    for batch_id in batch_ids:
        if len(retire) >= limit:
            break
        verdict = judge(
            batch_id, records.get(batch_id), indexed=batch_id in indexed, active=batch_id in active
        )
        if verdict.retire:
            retire.append(batch_id)
        else:
            kept.append(verdict)
    return retire, kept
