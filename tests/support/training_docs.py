"""Corpus builders for the training tests: real code from the CPython standard library."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")


def stdlib_docs(
    packages: Sequence[str],
    *,
    per_package: int = 8,
    max_chars: int = 6000,
    quality: float = 0.8,
    start: datetime | None = None,
) -> list[dict[str, Any]]:
    """Code-index documents: one per stdlib file, each package posing as a repository."""
    when = start or datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for package in packages:
        files = sorted((STDLIB / package).glob("*.py"))[:per_package]
        for path in files:
            content = path.read_text(encoding="utf-8", errors="replace")[:max_chars]
            when += timedelta(seconds=1)
            docs.append(
                {
                    "id": hashlib.blake2b(content.encode(), digest_size=16).hexdigest(),
                    "content": content,
                    "path": str(path.relative_to(STDLIB)),
                    "filename": path.name,
                    "extension": ".py",
                    "language": "python",
                    "repo": f"cpython/{package}",
                    "license": "PSF-2.0",  # CPython's own licence (its LICENSE file)
                    "license_source": "license-file",
                    "quality_score": quality,
                    "indexed_at": when.isoformat(),
                }
            )
    return docs


class ListSource:
    """The `DocumentSource` slice of a search index over a list, for the pure data-selection tests
    (the end-to-end tests go through the real SQLite index)."""

    def __init__(self, docs: Sequence[dict[str, Any]]) -> None:
        self.docs = list(docs)

    def _matching(self, filters: Any) -> list[dict[str, Any]]:
        def keep(doc: dict[str, Any]) -> bool:
            when = datetime.fromisoformat(doc["indexed_at"])
            return not (
                (filters.min_quality is not None and doc["quality_score"] < filters.min_quality)
                or (filters.indexed_after is not None and when <= filters.indexed_after)
                or (filters.indexed_before is not None and when > filters.indexed_before)
            )

        return [doc for doc in self.docs if filters is None or keep(doc)]

    def iter_documents(
        self, filters=None, fields=None, newest_first=False, batch_size=500, limit=None
    ) -> Iterator[dict[str, Any]]:
        ordered = sorted(
            self._matching(filters), key=lambda d: (d["indexed_at"], d["id"]), reverse=newest_first
        )
        for doc in ordered[:limit]:
            yield {k: v for k, v in doc.items() if fields is None or k in fields}

    def max_value(self, field: str, filters=None) -> Any:
        values = [doc[field] for doc in self._matching(filters)]
        return max(values) if values else None
