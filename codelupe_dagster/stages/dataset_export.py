"""The corpus as a dataset in the Hugging Face Hub layout, with its card and its numbers (DESIGN §11).

An export directory holds:

- `data/<language>/train-00000-of-00003.parquet`: the documents of one language, in the spool's schema
  (`EXPORT_SCHEMA`), oldest first; the shard count is known only at the end, so shards are written under
  temporary names and renamed once the language is complete;
- `README.md`: the dataset card (`core.dataset_card`), one config per language plus the default `all`, so
  `datasets.load_dataset(dir)` and `load_dataset(dir, "python")` both work;
- `stats.json`: every number the card shows (see `export_dataset`).

Streaming: one pass over the index, oldest first; each language streams into its own shard through a
Parquet writer, so memory holds one row group (`ROW_GROUP_ROWS` rows or `ROW_GROUP_BYTES` of content,
whichever comes first) per language, never the corpus.
(One pass per language with a language filter cost 5x the single pass on SQLite, which walks the whole
sort index for each language.)

An export is written into a staging directory beside the target and renamed into place when complete,
so an interrupted export leaves the previous one intact and never a half dataset.

What leaves the pipeline is filtered and redacted again: the export's `ConsumerPolicy` (LICENSE_POLICY,
default permissive; contaminated documents left out by default) decides what is admitted, and what it
leaves out is counted per reason; content, path and file name are redacted again (documents indexed
before a detector existed carry only the redaction of their day).

Exports are registered in `DATA_DIR/exports.json`, so `forget_in_exports` can rewrite each of them
without the documents a removal request names.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from codelupe_dagster.backends.document_spool import UnwritableDocument
from codelupe_dagster.backends.search import Filters, SearchIndex
from codelupe_dagster.backends.spool import (
    EXPORT_COMPRESSION_LEVEL,
    EXPORT_MARKER,
    arrow_schema,
    dictionary_columns,
    from_row,
)
from codelupe_dagster.backends.spool import to_row as spool_row  # the spool's row encoding, shared
from codelupe_dagster.core.corpus_policy import CONTAMINATED_REASON, ConsumerPolicy
from codelupe_dagster.core.dataset_card import DATA_DIR, NO_LICENSE_KEY, SPLIT, render_card
from codelupe_dagster.core.documents import STORED_CODE_FIELDS
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import RedactionTally, redact_document

log = logging.getLogger(__name__)

# The export's columns: the document id and every stored CodeDocument field, the spool's schema. Only
# these fields are read from the index, so index-only fields never reach a dataset.
EXPORT_SCHEMA = arrow_schema(STORED_CODE_FIELDS)
EXPORT_FIELDS: tuple[str, ...] = tuple(spec.name for spec in STORED_CODE_FIELDS)
EXPORT_COLUMNS: tuple[str, ...] = tuple(EXPORT_SCHEMA.names)
# Rows per Parquet row group: what one language holds in memory while its shard is written.
ROW_GROUP_ROWS = 1000
ROW_GROUP_BYTES = 64 * 2**20  # files are up to MAX_FILE_BYTES each: bound a row group by content too

STATS_FILE = "stats.json"
EMPTY_SHARD = f"{SPLIT}-00000-of-00001.parquet"  # data/<this> in an export of no documents
CARD_FILE = "README.md"
REGISTRY_FILE = "exports.json"
STATS_FORMAT = 1
DEFAULT_NAME = "CodeLupe code corpus"
UNWRITABLE_REASON = "unwritable"  # a document Parquet cannot store (text that is not valid UTF-8)
# Arrow type names that `datasets` spells differently in a card's features.
_DTYPE_NAMES = {"double": "float64", "float": "float32"}


class ExportTargetError(RuntimeError):
    """The output directory holds something that is not an export: it is never replaced."""


@dataclass(frozen=True)
class ExportOptions:
    """What to export: the index filters, the consumer policy, the redaction and the shard size."""

    min_quality: float | None = None
    language: str | None = None
    rows_per_shard: int = 10_000
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS
    policy: ConsumerPolicy = field(default_factory=lambda: ConsumerPolicy.default("export"))
    name: str = DEFAULT_NAME


@dataclass(frozen=True)
class ExportResult:
    path: Path
    stats: dict[str, Any]


def language_dir(language: str | None) -> str:
    """The directory and config name of a language: lower-case, safe in a path and a glob."""
    slug = re.sub(r"[^a-z0-9_.-]+", "_", (language or "").lower()).strip("._")
    return slug or "unknown"


def features() -> dict[str, str]:
    """The card's feature dtypes, in column order, as `datasets` names them."""
    return {f.name: _DTYPE_NAMES.get(str(f.type), str(f.type)) for f in EXPORT_SCHEMA}


def pipeline_version() -> str:
    try:
        return metadata.version("codelupe-dagster")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


# ---- writing one export ---------------------------------------------------------------------------


class _LanguageShards:
    """One language's shards, streamed: rows go out in row groups of `ROW_GROUP_ROWS` through a Parquet
    writer, a shard is closed at `rows_per_shard` rows, and `finish` renames the shards to the Hub's
    `train-NNNNN-of-NNNNN` names once their count is known. Memory: one row group per language."""

    def __init__(self, root: Path, language: str, rows_per_shard: int):
        self.directory = root / DATA_DIR / language
        self.directory.mkdir(parents=True, exist_ok=True)
        self._rows_per_shard = rows_per_shard
        self._buffer: list[dict[str, Any]] = []
        self._buffer_bytes = 0
        self._rows_in_shard = 0
        self._writer: pq.ParquetWriter | None = None
        self._parts: list[Path] = []

    def write(self, doc: Mapping[str, Any]) -> None:
        """Take one document; `UnwritableDocument` (nothing taken) when Parquet cannot store it."""
        self._buffer.append(spool_row(doc, EXPORT_COLUMNS))
        self._buffer_bytes += len(doc.get("content") or "")
        self._rows_in_shard += 1
        if len(self._buffer) >= ROW_GROUP_ROWS or self._buffer_bytes >= ROW_GROUP_BYTES:
            self._flush()
        if self._rows_in_shard >= self._rows_per_shard:
            self._close_shard()

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._writer is None:
            part = self.directory / f".part-{len(self._parts):05d}.parquet"
            self._writer = pq.ParquetWriter(
                part,
                EXPORT_SCHEMA,
                compression="zstd",
                compression_level=EXPORT_COMPRESSION_LEVEL,
                use_dictionary=dictionary_columns(EXPORT_SCHEMA),
            )
            self._parts.append(part)
        self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=EXPORT_SCHEMA))
        self._buffer = []
        self._buffer_bytes = 0

    def _close_shard(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._rows_in_shard = 0

    def finish(self) -> dict[str, int]:
        """Close the last shard and rename them all; the sizes the card declares for this config."""
        self._close_shard()
        total = len(self._parts)
        num_bytes = download = 0
        for i, part in enumerate(self._parts):
            final = self.directory / f"{SPLIT}-{i:05d}-of-{total:05d}.parquet"
            os.replace(part, final)
            meta = pq.read_metadata(final)
            num_bytes += sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups))
            download += final.stat().st_size
        if not total:
            self.directory.rmdir()
        return {"shards": total, "num_bytes": num_bytes, "download_size": download}


@dataclass
class _Accumulator:
    """The numbers of what an export holds, counted as documents are written."""

    documents: int = 0
    bytes: int = 0
    languages: dict[str, dict[str, int]] = field(default_factory=dict)
    licenses: dict[str, int] = field(default_factory=dict)
    license_sources: dict[str, int] = field(default_factory=dict)
    contaminated_exported: dict[str, int] = field(default_factory=dict)
    secrets_in_documents: int = 0
    first_indexed: str | None = None
    last_indexed: str | None = None

    def add(self, language: str, doc: Mapping[str, Any]) -> None:
        size = len((doc.get("content") or "").encode("utf-8"))
        self.documents += 1
        self.bytes += size
        entry = self.languages.setdefault(language, {"documents": 0, "bytes": 0})
        entry["documents"] += 1
        entry["bytes"] += size
        _bump(self.licenses, doc.get("license") or NO_LICENSE_KEY)
        _bump(self.license_sources, doc.get("license_source") or NO_LICENSE_KEY)
        for name in _sets(doc):
            _bump(self.contaminated_exported, name)
        self.secrets_in_documents += int(doc.get("secrets_redacted") or 0)
        indexed = doc.get("indexed_at")
        if indexed:
            indexed = str(indexed)
            self.first_indexed = min(self.first_indexed or indexed, indexed)
            self.last_indexed = max(self.last_indexed or indexed, indexed)

    def stats(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "bytes": self.bytes,
            "languages": {lang: dict(v) for lang, v in sorted(self.languages.items())},
            "licenses": dict(sorted(self.licenses.items())),
            "license_sources": dict(sorted(self.license_sources.items())),
            "indexed_range": {"first": self.first_indexed, "last": self.last_indexed},
        }


def _bump(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _sets(doc: Mapping[str, Any]) -> list[str]:
    return [name.strip() for name in str(doc.get("contaminated") or "").split(",") if name.strip()]


class _DatasetWriter:
    """Writes documents, in one pass over the source, into per-language shards of a staging directory
    and accounts for every document."""

    def __init__(self, staging: Path, rows_per_shard: int):
        self.staging = staging
        self.rows_per_shard = rows_per_shard
        self.counted = _Accumulator()
        self.unwritable = 0
        self._languages: dict[str, _LanguageShards] = {}

    def write(self, language: str, doc: Mapping[str, Any]) -> None:
        shards = self._languages.get(language)
        if shards is None:
            shards = self._languages[language] = _LanguageShards(self.staging, language, self.rows_per_shard)
        try:
            shards.write(doc)
        except UnwritableDocument as exc:
            log.warning("left out of the export: %s", exc)
            self.unwritable += 1
            return
        self.counted.add(language, doc)

    def finish(self) -> dict[str, Any]:
        """Close every language's shards; the export's own numbers."""
        stats = self.counted.stats()
        for language, shards in sorted(self._languages.items()):
            sizes = shards.finish()
            if sizes["shards"]:
                stats["languages"][language].update(sizes)
        if not stats["languages"]:
            self._write_empty_shard()
        return stats

    def _write_empty_shard(self) -> None:
        """An export of no documents is still a dataset: one shard with the schema and no row group (a
        row group of 0 rows makes `datasets` fail with "BatchSize must be greater than 0"), directly under
        `data/` since it belongs to no language. `datasets.load_dataset` reads it streaming, as 0 rows
        with the columns; its non-streaming read refuses any empty split ("corresponds to no data")."""
        directory = self.staging / DATA_DIR
        directory.mkdir(parents=True, exist_ok=True)
        pq.ParquetWriter(directory / EMPTY_SHARD, EXPORT_SCHEMA, compression="zstd").close()


# ---- publishing ----------------------------------------------------------------------------------


def _is_export(directory: Path) -> bool:
    return (directory / STATS_FILE).is_file() or (directory / EXPORT_MARKER).is_file()


def _check_target(out: Path) -> None:
    """Refuse to replace a directory that is not an export (a typo must never delete a home directory)."""
    _restore_interrupted(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_export(out))):
        raise ExportTargetError(
            f"{out} exists and is not a codelupe export (no {STATS_FILE}); choose an empty or new directory"
        )


def _restore_interrupted(out: Path) -> None:
    """A crash between the two renames of `_publish` leaves only `.<name>.old-*`: put it back. A crash
    after both renames leaves an `.old-*` beside the new export: remove it (when its writer is gone)."""
    if out.exists():
        for stale in out.parent.glob(f".{out.name}.old-*"):
            if not _alive(stale.name.rsplit("-", 1)[-1]):
                shutil.rmtree(stale, ignore_errors=True)
        return
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds:
        os.rename(olds[-1], out)
        log.warning("restored %s from %s (an earlier export was interrupted while publishing)", out, olds[-1])


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _staging_dir(out: Path) -> Path:
    for stale in out.parent.glob(f".{out.name}.staging-*"):
        if not _alive(stale.name.rsplit("-", 1)[-1]):  # left by a killed export of the same target
            shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(staging: Path, out: Path, stats: Mapping[str, Any]) -> None:
    """Card and stats into the staging directory, then the staging directory into `out`'s place."""
    _write_json(staging / STATS_FILE, stats)
    (staging / CARD_FILE).write_text(render_card(stats), encoding="utf-8")
    _fsync_dir(staging)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.rename(out, old)
    os.rename(staging, out)
    _fsync_dir(out.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A staging directory for `out`, removed unless it was published."""
    staging = _staging_dir(out)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---- export --------------------------------------------------------------------------------------


def export_dataset(
    index: SearchIndex,
    out: str | Path,
    options: ExportOptions | None = None,
    *,
    corpus: Mapping[str, Any] | None = None,
    data_dir: str | Path | None = None,
    now: datetime | None = None,
    on_written: Callable[[int], None] = lambda n: None,
) -> ExportResult:
    """Write the index's matching documents as a dataset in `out` (see the module docstring).

    `corpus` is the scoring totals (`backends.corpus_stats.CorpusStats.totals()`), None when unknown;
    `data_dir`, when given, is where the export is registered for `forget_in_exports`. `on_written` is
    called with the number of documents written so far, after each document.

    `stats.json` holds: documents and bytes (UTF-8 bytes of the exported contents); per language the
    documents, bytes, shards and sizes; per licence and per licence source; `excluded` (per policy
    reason, and `unwritable`); `decontamination` (per evaluation set, documents left out and exported);
    `redaction` (on export per kind, the exported documents' own `secrets_redacted`, and the scoring
    totals per kind); `duplicates` and `corpus` (the scoring totals); the policy and the filters.
    """
    options = options or ExportOptions()
    out = Path(out).expanduser().resolve()
    _check_target(out)
    now = now or datetime.now(UTC)
    # One pass over the index, oldest first; each language streams into its own shards.
    selected = Filters(
        min_quality=options.min_quality, languages=(options.language,) if options.language else ()
    )
    tally = RedactionTally()
    excluded: dict[str, int] = {}
    left_out: dict[str, int] = {}
    with _staged(out) as staging:
        writer = _DatasetWriter(staging, options.rows_per_shard)
        for doc in index.iter_documents(selected, fields=EXPORT_FIELDS):
            reason = options.policy.exclusion(doc)
            if reason is not None:
                _bump(excluded, reason)
                if reason == CONTAMINATED_REASON:
                    for name in _sets(doc):
                        _bump(left_out, name)
                continue
            writer.write(language_dir(doc.get("language")), redact_document(doc, options.pii_kinds, tally))
            on_written(writer.counted.documents)
        exported = writer.finish()
        if writer.unwritable:
            excluded[UNWRITABLE_REASON] = writer.unwritable
        stats = _assemble(
            exported,
            options=options,
            now=now,
            corpus=corpus,
            excluded=excluded,
            left_out=left_out,
            exported_sets=writer.counted.contaminated_exported,
            tally=tally,
            secrets_in_documents=writer.counted.secrets_in_documents,
        )
        _publish(staging, out, stats)
    if data_dir is not None:
        register_export(data_dir, out, stats)
    return ExportResult(out, stats)


def _assemble(
    exported: dict[str, Any],
    *,
    options: ExportOptions,
    now: datetime,
    corpus: Mapping[str, Any] | None,
    excluded: Mapping[str, int],
    left_out: Mapping[str, int],
    exported_sets: Mapping[str, int],
    tally: RedactionTally,
    secrets_in_documents: int,
) -> dict[str, Any]:
    sets = sorted(set(left_out) | set(exported_sets))
    return {
        "format": STATS_FORMAT,
        "name": options.name,
        "created_at": now.isoformat(timespec="seconds"),
        "pipeline_version": pipeline_version(),
        "filters": {"min_quality": options.min_quality, "language": options.language},
        "rows_per_shard": options.rows_per_shard,
        "policy": options.policy.describe(),
        **exported,
        "excluded": dict(sorted(excluded.items())),
        "decontamination": {
            "exclude_contaminated": options.policy.exclude_contaminated,
            "sets": {s: {"left_out": left_out.get(s, 0), "exported": exported_sets.get(s, 0)} for s in sets},
        },
        "redaction": {
            "pii_kinds": sorted(kind.value for kind in options.pii_kinds),
            "on_export": {
                "secrets": dict(sorted(tally.secrets.items())),
                "pii": dict(sorted(tally.pii.items())),
                "documents": tally.documents,
            },
            "in_documents": secrets_in_documents,
            "at_scoring": None
            if corpus is None
            else {
                "secrets": dict(corpus.get("secrets_redacted") or {}),
                "pii": dict(corpus.get("pii_redacted") or {}),
            },
        },
        "duplicates": None
        if corpus is None
        else {
            "exact": int(corpus.get("exact_duplicates") or 0),
            "near": int(corpus.get("near_duplicates") or 0),
        },
        "corpus": None if corpus is None else dict(corpus),
        "forgotten": 0,
        "features": features(),
    }


# ---- reading an export back ----------------------------------------------------------------------


def read_stats(directory: str | Path) -> dict[str, Any]:
    return dict(json.loads((Path(directory) / STATS_FILE).read_text(encoding="utf-8")))


def _shards(directory: Path) -> list[Path]:
    return sorted((directory / DATA_DIR).glob(f"*/{SPLIT}-*.parquet"))


def iter_export(directory: str | Path, batch_size: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
    """(language directory, document) for every row of an export, object fields decoded."""
    for shard in _shards(Path(directory)):
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                yield shard.parent.name, from_row(row)


# ---- registry and forget -------------------------------------------------------------------------


@contextlib.contextmanager
def _registry_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / f".{REGISTRY_FILE}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_registry(data_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((data_dir / REGISTRY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return dict(data.get("exports") or {})


def registered_exports(data_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Export directory -> {created_at, updated_at, documents}, as registered under DATA_DIR."""
    return _read_registry(Path(data_dir))


def _update_registry(data_dir: Path, change: Callable[[dict[str, dict[str, Any]]], None]) -> None:
    with _registry_lock(data_dir):
        exports = _read_registry(data_dir)
        change(exports)
        _write_json(data_dir / REGISTRY_FILE, {"exports": dict(sorted(exports.items()))})


def register_export(data_dir: str | Path, out: Path, stats: Mapping[str, Any]) -> None:
    entry = {
        "created_at": stats["created_at"],
        "updated_at": stats.get("updated_at") or stats["created_at"],
        "documents": stats["documents"],
    }
    _update_registry(Path(data_dir), lambda exports: exports.__setitem__(str(out), entry))


def forget_in_exports(
    data_dir: str | Path, matches: Callable[[Mapping[str, Any]], bool], now: datetime | None = None
) -> dict[str, int]:
    """Rewrite every registered export without the documents `matches` accepts; removed counts per export.

    Each rewrite is staged and renamed like an export, with its card and stats regenerated (the export's
    own numbers recounted, `forgotten` increased; what describes the corpus at export time is kept). An
    export with nothing to remove is left untouched; a registered directory that no longer exists is
    dropped from the registry (logged).
    """
    data_dir = Path(data_dir)
    removed: dict[str, int] = {}
    for path in sorted(registered_exports(data_dir)):
        directory = Path(path)
        if not (directory / STATS_FILE).is_file():
            log.warning("export %s is gone (or no longer an export): dropped from the registry", path)
            _update_registry(data_dir, lambda exports, p=path: exports.pop(p, None))  # type: ignore[misc]
            continue
        count = sum(1 for _, doc in iter_export(directory) if matches(doc))
        removed[path] = count
        if count:
            stats = _rewrite_without(directory, matches, now or datetime.now(UTC))
            register_export(data_dir, directory, stats)
    return removed


def _rewrite_without(
    directory: Path, matches: Callable[[Mapping[str, Any]], bool], now: datetime
) -> dict[str, Any]:
    old = read_stats(directory)
    with _staged(directory) as staging:
        writer = _DatasetWriter(staging, int(old.get("rows_per_shard") or 10_000))
        removed = 0
        for language, doc in iter_export(directory):
            if matches(doc):
                removed += 1
            else:
                writer.write(language, doc)
        exported = writer.finish()
        stats = dict(old)
        stats.update(exported)
        sets = stats["decontamination"]["sets"]
        exported_sets = writer.counted.contaminated_exported
        for name in sorted(set(sets) | set(exported_sets)):
            entry = sets.setdefault(name, {"left_out": 0, "exported": 0})
            entry["exported"] = exported_sets.get(name, 0)
        stats["redaction"]["in_documents"] = writer.counted.secrets_in_documents
        stats["forgotten"] = int(old.get("forgotten") or 0) + removed
        stats["updated_at"] = now.isoformat(timespec="seconds")
        _publish(staging, directory, stats)
    return stats


__all__ = [
    "EXPORT_FIELDS",
    "EXPORT_SCHEMA",
    "ExportOptions",
    "ExportResult",
    "ExportTargetError",
    "export_dataset",
    "forget_in_exports",
    "iter_export",
    "language_dir",
    "read_stats",
    "register_export",
    "registered_exports",
]
