"""Training samples: when there is enough new training data (shared by the training sensor and `codelupe
run`, so the daemon and a headless run agree on what counts as new), and the documents the trainer reads,
redacted on their way out of the index."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from codelupe_dagster.backends.search.base import Filters, SearchIndex
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import RedactionTally, redact_document


def count_new_samples(index: SearchIndex, min_quality: float, watermark: datetime | None) -> int:
    """Documents of at least ``min_quality`` indexed after ``watermark`` (the latest checkpoint's; None
    before the first checkpoint, when everything counts)."""
    return index.count(Filters(min_quality=min_quality, indexed_after=watermark))


def training_run_key(watermark: datetime | None, new_files: int, needed: int) -> str:
    """One run key per ``needed``-sized block of new files past a watermark: a failed run gets another
    chance once the next block has accumulated, never twice on the same block."""
    return (
        f"qwen_checkpoint:{watermark.isoformat() if watermark else 'initial'}:{new_files // max(1, needed)}"
    )


class RedactedSamples:
    """The code index as the trainer reads it (`iter_documents`, `max_value`), each document's content,
    path and file name redacted again (secrets, and the PII of `pii_kinds`) on the way out.

    Training data leaves the pipeline for good (a model can repeat what it saw), and documents indexed
    before a detector existed carry only the redaction of their day. Redaction is idempotent, so the
    scorer's documents pass unchanged; `tally` counts what was replaced, for the run's log and metadata.
    Redacting before the trainer's content dedup means two copies that differ only in a secret merge.
    """

    def __init__(self, index: SearchIndex, pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS):
        self.index = index
        self.pii_kinds = pii_kinds
        self.tally = RedactionTally()

    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        for doc in self.index.iter_documents(
            filters=filters, fields=fields, newest_first=newest_first, batch_size=batch_size, limit=limit
        ):
            yield redact_document(doc, self.pii_kinds, self.tally)

    def max_value(self, field: str, filters: Filters | None = None) -> Any:
        return self.index.max_value(field, filters)

    def summary(self) -> str:
        """One line for the run's log: what was redacted, per kind."""
        if not self.tally.documents:
            return "training samples: nothing left to redact"
        kinds = {**self.tally.secrets, **self.tally.pii}
        listed = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        return f"training samples: redacted {listed} in {self.tally.documents} documents"
