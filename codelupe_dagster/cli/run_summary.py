"""What `codelupe run` counts and prints: the run's summary, the batches' metadata added up by a rule per
asset and metadata key, and the table (with the kept = indexed + below-threshold check) at the end."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from rich.console import Console
from rich.table import Table

from codelupe_dagster.core.filters import LOW_QUALITY

BELOW_THRESHOLD = "below_threshold"


@dataclass
class RunSummary:
    enqueued: int = 0
    batches_succeeded: int = 0
    batches_failed: int = 0
    repos_done: int = 0
    # asset key -> metadata name -> value over the succeeded batches, added up as `SUMMARY_KEYS` says
    totals: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # integer metadata that `SUMMARY_KEYS` does not classify: left out of the summary (a test keeps it empty)
    unclassified: set[str] = field(default_factory=set)
    training: str = "not run"
    training_error: str | None = None  # why training failed or was interrupted
    stopped: str | None = None
    parked: list[str] = field(default_factory=list)


SUM = "sum"  # a count of this batch's work: the run's total is the sum over its batches
LATEST = "latest"  # a gauge of the whole index (a size): the run ends at the last batch's value
SKIP = "skip"  # a rate, a duration or a setting: not added up at all
# Decided per asset and metadata key, not guessed from the name when printing.
SUMMARY_KEYS: dict[str, dict[str, str]] = {
    "cloned_repos": {
        "repos": SUM,
        "cloned": SUM,
        "updated": SUM,
        "unchanged": SUM,
        "failed": SUM,
        "bytes": SUM,
        "seconds": SKIP,
        "repos_per_s": SKIP,
    },
    "scored_files": {
        "seen": SUM,
        "kept": SUM,
        "exact_duplicates": SUM,
        "near_duplicates": SUM,
        "unaccounted": SUM,
        "pool_rebuilds": SUM,
        "files_per_s": SKIP,
        "elapsed_s": SKIP,
        "min_quality": SKIP,
        "dagster/row_count": SKIP,  # the same number as `kept`
        "dagster/partition_row_count": SKIP,
    },
    "es_code_index": {
        "spooled": SUM,
        "indexed": SUM,
        BELOW_THRESHOLD: SUM,
        "stale_removed": SUM,
        "claims_released": SUM,
        "index_size_bytes": LATEST,
        "docs_per_s": SKIP,
        "min_quality": SKIP,
        "dagster/row_count": LATEST,  # documents in the whole index after the batch
        "dagster/partition_row_count": SKIP,  # the same number as `indexed`
    },
}


def _batch_numbers(metadata: dict[str, Any]) -> dict[str, int]:
    """A materialization's integer metadata, with the spooled documents the index left out for being
    below its threshold (the `dropped` JSON of es_code_index) as a number of their own."""
    numbers = {}
    for name, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int) and not isinstance(raw, bool):
            numbers[name] = raw
        elif name == "dropped" and isinstance(raw, dict) and LOW_QUALITY in raw:
            numbers[BELOW_THRESHOLD] = int(raw[LOW_QUALITY])
    return numbers


def add_metadata(summary: RunSummary, result: dg.ExecuteInProcessResult) -> None:
    """Add a succeeded batch's numbers to the run's: a failed batch is not counted, since its repos are
    retried and what it did is done (and counted) again by the batch that succeeds."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.to_user_string()
        rules = SUMMARY_KEYS.get(key, {})
        for name, value in _batch_numbers(dict(materialization.metadata)).items():
            rule = rules.get(name)
            if rule == SUM:
                summary.totals[key][name] += value
            elif rule == LATEST:
                summary.totals[key][name] = value
            elif rule is None:
                summary.unclassified.add(f"{key}: {name}")


SUMMARY_LABELS = {
    BELOW_THRESHOLD: "below MIN_QUALITY_THRESHOLD, not indexed",
    "index_size_bytes": "index_size_bytes (after the last batch)",
    "dagster/row_count": "documents in the index (after the last batch)",
}


def kept_breakdown(summary: RunSummary) -> str | None:
    """How the files scoring kept reached the index: every kept file is spooled, and the index takes
    the spooled files at or above its threshold. None when no batch was scored."""
    scored, indexed = summary.totals.get("scored_files"), summary.totals.get("es_code_index")
    if not scored or indexed is None:
        return None
    kept, written, below = scored["kept"], indexed["indexed"], indexed[BELOW_THRESHOLD]
    line = f"kept {kept} = indexed {written} + {below} below the index threshold"
    if kept != written + below:
        line += f" [red](off by {kept - written - below}: see the batches' es_code_index checks)[/red]"
    return line


def render_summary(summary: RunSummary, console: Console, seconds: float) -> None:
    table = Table(title=f"codelupe run — {seconds:.1f}s")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("repos enqueued", str(summary.enqueued))
    table.add_row("batches succeeded", str(summary.batches_succeeded))
    table.add_row("batches failed", str(summary.batches_failed))
    table.add_row("repos done", str(summary.repos_done))
    for asset, counts in summary.totals.items():
        for name, value in counts.items():
            table.add_row(f"{asset}: {SUMMARY_LABELS.get(name, name)}", str(value))
    table.add_row("repos parked (dead letter)", str(len(summary.parked)))
    table.add_row("training", summary.training)
    console.print(table)
    kept = kept_breakdown(summary)
    if kept is not None:
        console.print(kept)
    if summary.parked:
        console.print(
            f"[yellow]{len(summary.parked)} repos are parked after repeated failures[/yellow] "
            f"({', '.join(summary.parked[:10])}{' …' if len(summary.parked) > 10 else ''}): "
            "`codelupe status` shows why, `codelupe retry` re-queues them"
        )
