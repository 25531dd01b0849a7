"""Parquet (zstd) shards of code documents: the scored_files -> es_code_index hand-off and the export format.

A shard directory is complete only when its `_SUCCESS` marker exists. The marker is written last,
atomically, and lists the parts and row counts; readers refuse a directory without it and read only
the parts it lists. So a run killed mid-write can never be mistaken for a finished one, and stray
files left by a crash are ignored. Parts are written under a temporary name and renamed into place.

`ParquetSpool` is this format as the `DocumentSpool` interface (`backends/document_spool.py`); the
functions and `ShardWriter` below are what it is made of, and stay importable for existing callers.
`UnwritableDocument` is checked when a document is written, because Arrow would only fail later, at a
part's flush, and take the whole part (and the batch) down with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from codelupe_dagster.backends.arrow_columns import table_from_rows

# The interface's types (backends/document_spool.py), re-exported here under their old home.
from codelupe_dagster.backends.document_spool import (
    DocumentSpool,
    SpoolIncomplete,
    SpoolManifest,
    SpoolWriter,
    UnwritableDocument,
)
from codelupe_dagster.backends.search.code_tokens import subwords_hint_key
from codelupe_dagster.core.documents import ID_FIELD, STORED_CODE_FIELDS, FieldKind, FieldSpec

SUCCESS_MARKER = "_SUCCESS"
# Exports are read by `datasets.load_dataset("parquet", data_dir=...)`, which tries to parse every
# non-hidden file as Parquet; a hidden marker keeps the same completeness contract there.
EXPORT_MARKER = ".SUCCESS"
PART_PREFIX = "part-"
DEFAULT_ROWS_PER_PART = 5000
# A part also ends at this many characters of text. Scoring writes a batch's parts while its workers run;
# the last part is the only one compressed after them, so a small bound keeps that tail short (issue 12:
# one 28 MB part took 0.6 s after the workers were done). 8M characters still compress as well.
DEFAULT_CHARS_PER_PART = 8 << 20
# zstd level 1 for the spool, which scoring writes on its critical path: half the CPU of level 3
# (0.12 against 0.22 s for 24 MB of CPython's Lib) for an 11% larger file (issue 12). A published export
# is written once and read many times: it keeps level 3.
DEFAULT_COMPRESSION_LEVEL = 1
EXPORT_COMPRESSION_LEVEL = 3

# Arrow types per field kind. `code` gets a large string (a file may pass 2 GiB in one part);
# dates stay ISO strings as written; `object` fields are JSON strings, because their keys vary by scorer
# and language, which a Parquet struct cannot express without a schema per language.
_ARROW_TYPES: dict[FieldKind, pa.DataType] = {
    "code": pa.large_string(),
    "text": pa.large_string(),
    "keyword": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.string(),
    "bool": pa.bool_(),
    "object": pa.string(),
}


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns a part dictionary-encodes: all but the large strings (code, text, hints). Those are
    nearly all distinct, so Parquet would hash every file's whole text into a dictionary only to give up
    on it once the dictionary passes its page limit: a sixth of a part's write for nothing (issue 12:
    0.236 -> 0.193 s of CPU per batch of the issue's corpus, the same values read back)."""
    return [f.name for f in schema if f.type != pa.large_string()]


def arrow_schema(fields: tuple[FieldSpec, ...] = STORED_CODE_FIELDS) -> pa.Schema:
    """The Parquet schema of a code document: ``id``, then every stored field in document order."""
    return pa.schema([(ID_FIELD, pa.string()), *((spec.name, _ARROW_TYPES[spec.kind]) for spec in fields)])


# Indexing hints the spool carries next to each document (`code_tokens.subwords_hint_key`): the
# camelCase sub-words of each code field, computed by the scoring workers so that indexing does not
# tokenize the text again. Not document fields: the export schema (`arrow_schema`) has none, a row
# without a hint reads back without the key, and the index backends drop them.
HINT_COLUMNS: tuple[str, ...] = tuple(
    subwords_hint_key(spec.name) for spec in STORED_CODE_FIELDS if spec.kind == "code"
)
CODE_DOC_SCHEMA: pa.Schema = pa.schema([*arrow_schema(), *((n, pa.large_string()) for n in HINT_COLUMNS)])
COLUMNS: tuple[str, ...] = tuple(CODE_DOC_SCHEMA.names)
_JSON_COLUMNS: tuple[str, ...] = tuple(spec.name for spec in STORED_CODE_FIELDS if spec.kind == "object")


def to_row(doc: Mapping[str, Any], columns: tuple[str, ...] = COLUMNS) -> dict[str, Any]:
    row = {name: doc.get(name) for name in columns}
    for name in _JSON_COLUMNS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            row[name] = json.dumps(value, sort_keys=True)
    for name, value in row.items():
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise UnwritableDocument(f"{name} of {row.get('path')!r} is not valid UTF-8: {exc}") from exc
    return row


def from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A spool row back into an index document (object fields such as quality_signals decoded)."""
    doc = dict(row)
    for name in HINT_COLUMNS:
        if doc.get(name, "") is None:
            del doc[name]  # no hint was written: the index computes the sub-words itself
    for name in _JSON_COLUMNS:
        if isinstance(doc.get(name), str):
            doc[name] = json.loads(doc[name])
    return doc


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class ShardWriter:
    """Writes documents into `directory` as part files of up to `rows_per_part` rows and about
    `chars_per_part` characters of text (a part ends with the row that reaches it).

    Opening a writer invalidates what was there: the old `_SUCCESS` goes first, then old parts, so a
    re-run never leaves a marker next to a mix of old and new parts. Use as a context manager: leaving
    the block with an exception aborts (temporary and written parts removed, no marker).
    """

    def __init__(
        self,
        directory: str | Path,
        rows_per_part: int = DEFAULT_ROWS_PER_PART,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        marker: str = SUCCESS_MARKER,
        schema: pa.Schema = CODE_DOC_SCHEMA,
        chars_per_part: int = DEFAULT_CHARS_PER_PART,
    ):
        self.directory = Path(directory)
        self.marker = marker
        self.schema = schema
        self._columns: tuple[str, ...] = tuple(schema.names)
        self._rows_per_part = rows_per_part
        self._chars_per_part = chars_per_part
        self._buffer_chars = 0
        self._compression_level = compression_level
        self._buffer: list[dict[str, Any]] = []
        self._parts: list[str] = []
        self._rows = 0
        self._closed = False
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / self.marker).unlink(missing_ok=True)
        self._remove_parts()

    def _remove_parts(self) -> None:
        for child in self.directory.iterdir():
            if child.name.startswith(PART_PREFIX) or child.name.startswith(f".{PART_PREFIX}"):
                child.unlink(missing_ok=True)

    @property
    def rows(self) -> int:
        return self._rows + len(self._buffer)

    def write(self, doc: Mapping[str, Any]) -> None:
        """Buffer one document; raises `UnwritableDocument` (nothing buffered) when it cannot be stored."""
        row = to_row(doc, self._columns)
        self._buffer.append(row)
        self._buffer_chars += sum(len(value) for value in row.values() if type(value) is str)
        if len(self._buffer) >= self._rows_per_part or self._buffer_chars >= self._chars_per_part:
            self.flush()

    def write_many(self, docs: Iterable[Mapping[str, Any]]) -> None:
        for doc in docs:
            self.write(doc)

    def flush(self) -> None:
        """Write the buffered documents as a part now (not complete until `commit`): a caller with other
        work to wait for lets the part's compression run beside it instead of after it."""
        if not self._buffer:
            return
        name = f"{PART_PREFIX}{len(self._parts):05d}.parquet"
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp-{os.getpid()}"
        table = table_from_rows(self._buffer, self.schema)
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=self._compression_level,
            use_dictionary=dictionary_columns(self.schema),
        )
        os.replace(tmp, final)
        self._parts.append(name)
        self._rows += len(self._buffer)
        self._buffer = []
        self._buffer_chars = 0

    def commit(self, info: dict[str, Any] | None = None) -> SpoolManifest:
        """Flush the last part and write the marker: from here on the directory is complete."""
        self.flush()
        manifest = {"parts": self._parts, "rows": self._rows, "info": info or {}}
        _atomic_write_bytes(self.directory / self.marker, json.dumps(manifest, sort_keys=True).encode())
        self._closed = True
        return SpoolManifest(tuple(self._parts), self._rows, info or {})

    def abort(self) -> None:
        """Drop everything written so far; the directory is left without a marker."""
        self._buffer = []
        self._buffer_chars = 0
        (self.directory / self.marker).unlink(missing_ok=True)
        self._remove_parts()
        self._closed = True

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._closed:
            self.abort()


def read_manifest(directory: str | Path, marker_name: str = SUCCESS_MARKER) -> SpoolManifest:
    marker = Path(directory) / marker_name
    try:
        data = json.loads(marker.read_bytes())
    except FileNotFoundError as exc:
        raise SpoolIncomplete(f"{directory} has no {marker_name} marker: the spool is incomplete") from exc
    return SpoolManifest(tuple(data["parts"]), int(data["rows"]), data.get("info") or {})


def is_complete(directory: str | Path, marker_name: str = SUCCESS_MARKER) -> bool:
    return (Path(directory) / marker_name).is_file()


def iter_rows(
    directory: str | Path,
    columns: list[str] | None = None,
    batch_size: int = 1000,
    marker_name: str = SUCCESS_MARKER,
) -> Iterator[list[dict[str, Any]]]:
    """Rows of a complete spool, in batches; raises SpoolIncomplete when the marker is missing."""
    manifest = read_manifest(directory, marker_name)
    for part in manifest.parts:
        parquet = pq.ParquetFile(Path(directory) / part)
        for record_batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
            yield record_batch.to_pylist()


def iter_documents(
    directory: str | Path, batch_size: int = 1000, marker_name: str = SUCCESS_MARKER
) -> Iterator[list[dict[str, Any]]]:
    """Index documents of a complete spool, in batches (quality_signals decoded)."""
    for rows in iter_rows(directory, batch_size=batch_size, marker_name=marker_name):
        yield [from_row(row) for row in rows]


def remove_rows(
    directory: str | Path,
    drop: Callable[[str, str], bool],
    *,
    repos_gone: Iterable[str] = (),
    marker_name: str = SUCCESS_MARKER,
) -> int:
    """Rewrite a complete spool without the rows for which `drop(repo, path)` holds; how many went.

    For `codelupe forget`. Crash-safe like a write: a part with rows to drop is rewritten under a new
    name (temporary file, then rename), the marker is replaced atomically to list the new parts, and only
    then are the old parts removed. A crash before the marker leaves the old, complete spool (plus stray
    files no reader looks at); a re-run does the same again. `repos_gone` leave the marker's `commits`
    and `failed_repos` too, so indexing the spool neither swaps their generations nor marks them
    processed. Raises SpoolIncomplete when the spool has no marker (scoring has not finished)."""
    root = Path(directory)
    manifest = read_manifest(root, marker_name)
    parts: list[str] = []
    removed = 0
    for part in manifest.parts:
        keys = pq.read_table(root / part, columns=["repo", "path"]).to_pydict()
        mask = [
            not drop(repo or "", path or "") for repo, path in zip(keys["repo"], keys["path"], strict=True)
        ]
        if all(mask):
            parts.append(part)
            continue
        removed += mask.count(False)
        if any(mask):
            kept = pq.read_table(root / part).filter(pa.array(mask))
            name = _rewritten_name(root, part)
            tmp = root / f".{name}.tmp-{os.getpid()}"
            pq.write_table(
                kept,
                tmp,
                compression="zstd",
                compression_level=DEFAULT_COMPRESSION_LEVEL,
                use_dictionary=dictionary_columns(kept.schema),
            )
            os.replace(tmp, root / name)
            parts.append(name)
    gone = set(repos_gone)
    info = dict(manifest.info)
    for key in ("commits", "failed_repos"):
        if isinstance(info.get(key), dict) and gone & set(info[key]):
            info[key] = {repo: value for repo, value in info[key].items() if repo not in gone}
    if not removed and info == manifest.info:
        return 0
    info["forgotten_rows"] = int(info.get("forgotten_rows") or 0) + removed
    marker = {"parts": parts, "rows": manifest.rows - removed, "info": info}
    _atomic_write_bytes(root / marker_name, json.dumps(marker, sort_keys=True).encode())
    listed = set(parts)
    for child in root.iterdir():  # the old parts, and what an interrupted earlier run left aside
        if child.name.startswith((PART_PREFIX, f".{PART_PREFIX}")) and child.name not in listed:
            child.unlink(missing_ok=True)
    return removed


def _rewritten_name(root: Path, part: str) -> str:
    """`part-00003.parquet` -> `part-00003.r1.parquet` (r2, ... when rewritten again)."""
    stem = part.removesuffix(".parquet").split(".r")[0]
    generation = 1
    while (root / f"{stem}.r{generation}.parquet").exists():
        generation += 1
    return f"{stem}.r{generation}.parquet"


@dataclass(frozen=True)
class ParquetSpool:
    """`DocumentSpool` as zstd Parquet parts plus a JSON marker listing them.

    The batch hand-off uses the defaults; the export uses the hidden `EXPORT_MARKER` and the export
    schema, so `datasets.load_dataset("parquet", data_dir=...)` reads the directory as it is.
    """

    rows_per_part: int = DEFAULT_ROWS_PER_PART
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    marker: str = SUCCESS_MARKER
    schema: pa.Schema = field(default=CODE_DOC_SCHEMA, repr=False)
    chars_per_part: int = DEFAULT_CHARS_PER_PART

    def writer(self, directory: str | Path) -> ShardWriter:
        return ShardWriter(
            directory,
            self.rows_per_part,
            self.compression_level,
            self.marker,
            self.schema,
            chars_per_part=self.chars_per_part,
        )

    def manifest(self, directory: str | Path) -> SpoolManifest:
        return read_manifest(directory, self.marker)

    def is_complete(self, directory: str | Path) -> bool:
        return is_complete(directory, self.marker)

    def documents(self, directory: str | Path, batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        return iter_documents(directory, batch_size, self.marker)


if TYPE_CHECKING:  # mypy --strict proves the classes implement the interface
    _spool: DocumentSpool = ParquetSpool()
    _writer: SpoolWriter = ShardWriter("")
