"""The document spool: a batch's scored documents on disk between scoring and indexing (DESIGN §4).

`DocumentSpool` is what the stages need of it:
- `writer(directory)`: a `SpoolWriter` that takes documents one at a time and becomes visible only when
  committed — `commit(info)` writes the manifest (parts, row count, the writer's info) last, and leaving
  its `with` block without committing aborts, so a killed writer never looks finished;
- `manifest(directory)` and `documents(directory)`: a *complete* spool read back, in batches of
  documents equal to those written (object fields such as `quality_signals` come back as objects);
  an incomplete one raises `SpoolIncomplete` instead of yielding a partial batch;
- `is_complete(directory)`.

`ParquetSpool` (`backends/spool.py`, zstd Parquet parts and a `_SUCCESS` manifest) implements it; it is
also the export format. `tests/backends/test_spool_contract.py` runs one contract suite on every
implementation, so another store joins by implementing these two protocols.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "DocumentSpool",
    "SpoolIncomplete",
    "SpoolManifest",
    "SpoolWriter",
    "UnwritableDocument",
]


class SpoolIncomplete(RuntimeError):
    """The directory has no manifest: its writer did not finish (or it was never written)."""


class UnwritableDocument(ValueError):
    """One document cannot be stored (a text field that is not valid UTF-8): the caller skips and counts
    it. Raised when the document is written, with nothing buffered, so the rest of the spool is unharmed."""


@dataclass(frozen=True)
class SpoolManifest:
    parts: tuple[str, ...]
    rows: int
    info: dict[str, Any]  # whatever the writer recorded (counts of the batch, ...)


class SpoolWriter(Protocol):
    """Documents into one spool directory; nothing counts until `commit`."""

    @property
    def rows(self) -> int:
        """Documents written so far (committed or still buffered)."""
        ...

    def write(self, doc: Mapping[str, Any]) -> None:
        """Take one document; `UnwritableDocument` (nothing taken) when it cannot be stored."""
        ...

    def write_many(self, docs: Iterable[Mapping[str, Any]]) -> None: ...

    def flush(self) -> None:
        """Store what is buffered now; the directory stays incomplete until `commit`."""
        ...

    def commit(self, info: dict[str, Any] | None = None) -> SpoolManifest:
        """Store what is left and write the manifest: from here on the directory is complete."""
        ...

    def abort(self) -> None:
        """Drop everything written; the directory is left incomplete."""
        ...

    def __enter__(self) -> SpoolWriter: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Aborts unless committed."""
        ...


class DocumentSpool(Protocol):
    """Spool directories of code documents: written whole or not at all, read back only when complete."""

    def writer(self, directory: str | Path) -> SpoolWriter:
        """A writer for `directory`. Opening it invalidates what was there (a re-run's spool is never
        complete before its writer commits)."""
        ...

    def manifest(self, directory: str | Path) -> SpoolManifest:
        """The committed manifest; `SpoolIncomplete` when there is none."""
        ...

    def is_complete(self, directory: str | Path) -> bool: ...

    def documents(self, directory: str | Path, batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """The documents of a complete spool in write order, in lists of up to `batch_size`;
        `SpoolIncomplete` when the directory is not complete."""
        ...
