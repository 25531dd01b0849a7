"""When there is enough new training data: shared by the training sensor and `codelupe run`, so the
daemon and a headless run agree on what counts as new."""

from __future__ import annotations

from datetime import datetime

from codelupe_dagster.backends.search.base import Filters, SearchIndex


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
