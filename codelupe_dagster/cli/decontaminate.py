"""`codelupe decontaminate`: re-mark the indexed documents against the configured evaluation sets.

Scoring marks a file `contaminated` once, with the sets configured then; documents already indexed are
not rescored when DECONTAMINATE_SETS changes. This command streams the whole code index, recomputes the
field for every document and upserts only those whose value changed (newly marked, cleared, or a
different list of sets). Idempotent: a second run changes nothing. Counts per set are printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.eval_sets import EvalSetError, index_for, parse_spec, resolve_spec
from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.core.decontamination import DecontaminationIndex
from codelupe_dagster.resources.search import open_configured_index


@dataclass
class RemarkReport:
    read: int = 0
    marked: int = 0  # clean before, contaminated now
    cleared: int = 0  # contaminated before, clean now
    changed_sets: int = 0  # contaminated before and now, with another list of sets
    contaminated: Counter[str] = field(default_factory=Counter)  # documents per set, after the run

    @property
    def written(self) -> int:
        return self.marked + self.cleared + self.changed_sets

    def lines(self, sets: str, dry_run: bool) -> list[str]:
        verb = "would be" if dry_run else ""
        per_set = ", ".join(f"{name}: {count}" for name, count in sorted(self.contaminated.items()))
        return [
            f"evaluation sets: {sets or 'none'}",
            f"documents read: {self.read}",
            f"{verb + ' ' if verb else ''}marked: {self.marked}, cleared: {self.cleared}, "
            f"sets changed: {self.changed_sets}",
            f"contaminated documents per set: {per_set or 'none'}",
        ]


def _batches(docs: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def remark(
    index: SearchIndex,
    sets: DecontaminationIndex | None,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Callable[[RemarkReport], None] | None = None,
) -> RemarkReport:
    """Recompute `contaminated` for every document of `index` (None: no set, every mark is cleared) and
    upsert the documents whose value changed; refreshes the index before returning."""
    report = RemarkReport()
    for batch in _batches(index.iter_documents(batch_size=batch_size), batch_size):
        changed = []
        for doc in batch:
            report.read += 1
            before = doc.get("contaminated") or None
            after = sets.contaminated(doc.get("content") or "") if sets is not None else None
            if after:
                report.contaminated.update(after.split(","))
            if after == before:
                continue
            if before is None:
                report.marked += 1
            elif after is None:
                report.cleared += 1
            else:
                report.changed_sets += 1
            changed.append({**doc, "contaminated": after})
        if changed and not dry_run:
            index.bulk_upsert(changed).raise_for_errors()
        if progress is not None:
            progress(report)
    if not dry_run:
        index.refresh()
    return report


def _progress_line(report: RemarkReport) -> None:
    """One line on stderr, rewritten after each batch."""
    click.echo(f"\rdecontaminate: {report.read} read, {report.written} changed", nl=False, err=True)


@click.command()
@click.option(
    "--sets",
    "spec",
    default=None,
    help="Evaluation sets (DECONTAMINATE_SETS syntax); default: the DECONTAMINATE_SETS variable.",
)
@click.option("--dry-run", is_flag=True, help="Count what would change; write nothing.")
@click.option("--batch-size", default=500, show_default=True, help="Documents read and upserted per request.")
def decontaminate(spec: str | None, dry_run: bool, batch_size: int) -> None:
    """Re-mark every indexed document against the evaluation sets (after DECONTAMINATE_SETS changed)."""
    spec = spec if spec is not None else settings.env_str("DECONTAMINATE_SETS")
    try:
        parse_spec(spec)
        canonical = resolve_spec(spec)
        sets = index_for(canonical) if canonical else None
    except EvalSetError as exc:
        raise click.UsageError(f"DECONTAMINATE_SETS: {exc}") from None
    index = open_configured_index(CODE_SCHEMA)
    report = remark(index, sets, dry_run=dry_run, batch_size=batch_size, progress=_progress_line)
    click.echo("", err=True)
    for line in report.lines(canonical, dry_run):
        click.echo(line)
