"""The embedded search backend: one SQLite file, FTS5 full text, filters and aggregations in SQL.

Layout per logical index ``<name>`` (several live side by side in ``DATA_DIR/index.sqlite``):

- ``"<name>"`` — one row per document: ``id`` (unique), ``sort_at`` (normalised ``indexed_at``, ``''``
  when absent, the keyset-pagination key together with ``id``), ``doc`` (JSON of every field except
  ``id`` and the text fields, so code is stored once), one ``t_<field>`` column per text/code field,
  ``x_subwords`` (camelCase sub-words, see ``code_tokens``) and one ``f_<field>`` column per
  keyword/number/date/bool field so ``terms()``, ``max_value()`` and filters run in SQL.
- ``"<name>__fts"`` — an external-content FTS5 table over the text columns, kept exact by the write
  path itself (``_apply``): an existing id is updated in place, its old terms removed and the new
  ones added only when its text changed, so a retried batch re-tokenizes nothing.
- ``codelupe_index_meta`` — schema and layout version per index, for upgrades.

Dagster runs steps in several processes: the file is in WAL mode (readers never block the writer),
every write is a short ``BEGIN IMMEDIATE`` transaction per chunk (no lock upgrades, so no deadlock
between two writers), ``busy_timeout`` waits for the lock, and a busy error is retried with backoff.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from codelupe_dagster.backends.search.base import (
    QUALITY_BUCKETS,
    BackendUnavailable,
    BulkResult,
    DocError,
    Filters,
    Hit,
    IndexSchema,
    SearchIndex,
)
from codelupe_dagster.backends.search.code_tokens import camel_subwords, query_alternatives

log = logging.getLogger(__name__)

# Bump when the table layout or the tokenization changes; ensure() then rebuilds the index in place.
LAYOUT_VERSION = 2
# Plain unicode61 (diacritics folded as by default): code is mostly ASCII; folding more cost ~10%.
TOKENIZER = "unicode61"
META_TABLE = "codelupe_index_meta"

SORT_FIELD = "indexed_at"
TYPED_KINDS = ("keyword", "float", "int", "date", "bool")
TEXT_KINDS = ("text", "code")
# Filtered counts (the training sensor's "new files above the quality bar") use this b-tree index;
# language and repo filters scan the small leading columns instead, since each extra index cost ~7%
# of bulk-indexing time.
FILTER_FIELDS = ("quality_score",)

# A chunk is one transaction: small enough that other processes wait milliseconds, not seconds.
CHUNK_DOCS = 500
CHUNK_BYTES = 16 << 20
BUSY_TIMEOUT_S = 30.0
BUSY_RETRIES = 6
HIGHLIGHT = ("<em>", "</em>")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,120}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HAS_WORD = re.compile(r"[^\W_]")

T = TypeVar("T")
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []


class IndexMissing(LookupError):
    """The logical index has no tables in the file yet: ``ensure()`` was never called for it."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def normalise_date(value: Any) -> str:
    """ISO-8601 in UTC with a fixed width, so that text order is time order in SQL."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise TypeError(f"expected an ISO-8601 string or datetime, got {type(value).__name__}")
    if moment.tzinfo is None:  # the pipeline writes UTC; a naive time is taken to be UTC too
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"


def _is_busy(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


@dataclass(frozen=True)
class _Layout:
    """Column names derived from a schema; identical schemas give identical layouts."""

    text_fields: tuple[str, ...]
    typed_fields: tuple[str, ...]
    has_subwords: bool
    sort_field: str | None

    @classmethod
    def of(cls, schema: IndexSchema) -> _Layout:
        for name in schema.names():
            if not _FIELD.match(name):
                raise ValueError(f"field name {name!r} of schema {schema.name!r} is not an identifier")
        sort_field = SORT_FIELD if schema.kind_of(SORT_FIELD) == "date" else None
        return cls(
            text_fields=schema.names(*TEXT_KINDS),
            typed_fields=tuple(n for n in schema.names(*TYPED_KINDS) if n != sort_field),
            has_subwords=bool(schema.names("code")),
            sort_field=sort_field,
        )

    @property
    def fts_columns(self) -> tuple[str, ...]:
        return tuple(f"t_{n}" for n in self.text_fields) + (("x_subwords",) if self.has_subwords else ())

    @property
    def row_columns(self) -> tuple[str, ...]:
        return ("id", "sort_at", "doc", *self.fts_columns, *(f"f_{n}" for n in self.typed_fields))

    def signature(self) -> str:
        return json.dumps(
            {
                "text": self.text_fields,
                "typed": self.typed_fields,
                "sub": self.has_subwords,
                "sort": self.sort_field,
                "tokenizer": TOKENIZER,
                "layout": LAYOUT_VERSION,
            },
            sort_keys=True,
        )


class _DocumentRejected(ValueError):
    pass


class SqliteSearchIndex(SearchIndex):
    """One logical index in a shared SQLite file; safe to use from many processes and threads."""

    def __init__(self, schema: IndexSchema, path: Path, name: str):
        if not _NAME.match(name):
            raise ValueError(f"index name {name!r}: use letters, digits, '.', '_' and '-'")
        self.schema = schema
        self.path = Path(path)
        self.name = name
        self._layout = _Layout.of(schema)
        self._table = _quote(name)
        self._fts = _quote(f"{name}__fts")
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SqliteSearchIndex({self.name!r}, path={str(self.path)!r})"

    # Connections are per thread and per process: sqlite3 connections must not cross a fork.
    def __getstate__(self) -> dict[str, Any]:
        return {"schema": self.schema, "path": self.path, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["schema"], state["path"], state["name"])  # type: ignore[misc]

    # ------------------------------------------------------------------ connections and transactions

    def _conn(self) -> sqlite3.Connection:
        cached = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        if cached is not None:
            # Inherited through fork(): SQLite forbids using, and so closing, it in the child. Keep a
            # reference so garbage collection never closes it here.
            _INHERITED_CONNECTIONS.append(cached[1])
        conn = self._open()
        self._local.conn = (os.getpid(), conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        except (OSError, sqlite3.Error) as exc:
            raise BackendUnavailable(f"cannot open SQLite index file {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # Switching to WAL needs a moment of exclusive access; it persists in the file afterwards.
            self._retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            # FULL: a committed batch survives power loss; the Redis dedup ledger already counts it
            # as claimed, so losing it here would lose those files for good. One fsync per chunk.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: FTS segment merges touch many pages
        except sqlite3.Error as exc:
            conn.close()
            raise BackendUnavailable(f"SQLite index file {self.path} is not usable: {exc}") from exc
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's index object goes away)."""
        cached = getattr(self._local, "conn", None)
        if cached is not None:
            if cached[0] == os.getpid():
                cached[1].close()
            self._local.conn = None

    @staticmethod
    def _retry_busy(action: Callable[[], T]) -> T:
        for attempt in range(BUSY_RETRIES):
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == BUSY_RETRIES - 1:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction, retried as a whole when the file is busy."""

        def attempt() -> T:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            return self._retry_busy(attempt)
        except sqlite3.OperationalError as exc:
            if (missing := self._missing(exc)) is exc:
                raise
            raise missing from exc

    def _missing(self, exc: sqlite3.OperationalError) -> Exception:
        """A clear error for the common mistake of using an index before ``ensure()``."""
        if "no such table" in str(exc):
            return IndexMissing(f"index {self.name!r} does not exist in {self.path}; call ensure() first")
        return exc

    def _read_or_empty(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]] | None:
        """``_read`` for the public reads, where an index that does not exist yet reads as empty:
        ``None`` then, so each caller answers its own empty value."""
        try:
            return self._read(sql, params)
        except IndexMissing:
            return None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._retry_busy(lambda: self._conn().execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            if (missing := self._missing(exc)) is exc:
                raise
            raise missing from exc

    # ------------------------------------------------------------------ lifecycle

    def ping(self) -> None:
        try:
            self._conn().execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            self.close()
            raise BackendUnavailable(f"SQLite index file {self.path} is not usable: {exc}") from exc

    def ensure(self) -> None:
        self._write(self._ensure_in_transaction)

    def _ensure_in_transaction(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (index_name TEXT PRIMARY KEY,"
            " schema_name TEXT NOT NULL, schema_version INTEGER NOT NULL, layout TEXT NOT NULL,"
            " updated_at TEXT NOT NULL)"
        )
        row = conn.execute(
            f"SELECT schema_name, schema_version, layout FROM {META_TABLE} WHERE index_name = ?",
            (self.name,),
        ).fetchone()
        layout = self._layout.signature()
        if row is None:
            self._create_tables(conn, self._table)
        else:
            schema_name, version, stored_layout = row
            if schema_name != self.schema.name:
                raise ValueError(
                    f"index {self.name!r} in {self.path} holds schema {schema_name!r},"
                    f" not {self.schema.name!r}"
                )
            stored_layout_version = json.loads(stored_layout).get("layout", 0)
            if version > self.schema.version or stored_layout_version > LAYOUT_VERSION:
                raise RuntimeError(
                    f"index {self.name!r} in {self.path} was written by a newer CodeLupe (schema v{version});"
                    " refusing to downgrade it"
                )
            if version == self.schema.version and stored_layout == layout:
                self._create_tables(conn, self._table)  # IF NOT EXISTS: repairs a half-deleted index
                return
            self._upgrade(conn)
        conn.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?, ?, ?, ?)",
            (self.name, self.schema.name, self.schema.version, layout, normalise_date(datetime.now(UTC))),
        )

    def _create_tables(self, conn: sqlite3.Connection, table: str) -> None:
        layout = self._layout
        text_cols = ", ".join(f"{_quote(c)} TEXT" for c in layout.fts_columns)
        # Typed columns have no declared type: SQLite then stores each value as given (no coercion),
        # and a list (e.g. topics) is stored as a JSON BLOB that terms() unpacks with json_each.
        typed_cols = ", ".join(_quote(f"f_{n}") for n in layout.typed_fields)
        # Small columns first: a filter or aggregation reads a row only up to the column it needs,
        # so the code text (often in overflow pages) is never loaded by a count or a terms().
        columns = ", ".join(
            c
            for c in (
                "rowid INTEGER PRIMARY KEY",
                "id TEXT NOT NULL UNIQUE",
                "sort_at TEXT NOT NULL",
                typed_cols,
                "doc TEXT NOT NULL",
                text_cols,
            )
            if c
        )
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        bare = table.strip('"')
        conn.execute(f"CREATE INDEX IF NOT EXISTS {_quote(bare + '__sort')} ON {table} (sort_at, id)")
        for name in FILTER_FIELDS:
            if name in layout.typed_fields:
                index_name, column = _quote(f"{bare}__{name}"), _quote(f"f_{name}")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {index_name} ON {table} ({column})")
        if table == self._table and layout.fts_columns:
            self._create_fts(conn)

    def _create_fts(self, conn: sqlite3.Connection) -> None:
        col_list = ", ".join(_quote(c) for c in self._layout.fts_columns)
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {self._fts} USING fts5({col_list}, content={self._table},"
            f" content_rowid='rowid', tokenize='{TOKENIZER}')"
        )

    def _drop_fts(self, conn: sqlite3.Connection) -> None:
        for suffix in ("ai", "ad", "au"):  # layout 1 kept the FTS table in step with triggers
            conn.execute(f"DROP TRIGGER IF EXISTS {_quote(f'{self.name}__fts_{suffix}')}")
        conn.execute(f"DROP TABLE IF EXISTS {self._fts}")

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Rebuild the index under the current layout, keeping every document.

        Upgrades are rare, so the simple way wins: read each stored document back, prepare it as a new
        write would, write it into a fresh table and FTS table, drop the old one. All in the caller's
        transaction: a crash halfway leaves the old index intact.
        """
        staging = _quote(f"{self.name}__upgrading")
        self._drop_fts(conn)
        conn.execute(f"DROP TABLE IF EXISTS {staging}")
        conn.execute(f"ALTER TABLE {self._table} RENAME TO {staging}")
        for suffix in ("__sort", *(f"__{n}" for n in FILTER_FIELDS)):
            conn.execute(f"DROP INDEX IF EXISTS {_quote(self.name + suffix)}")
        self._create_tables(conn, self._table)
        old_columns = [r[1] for r in conn.execute(f"PRAGMA table_info({staging})")]
        text_columns = [c for c in old_columns if c.startswith("t_")]
        kept = lenient = 0
        cursor = conn.execute(
            f"SELECT id, doc, {', '.join(['NULL', *map(_quote, text_columns)])} FROM {staging}"
        )
        while rows := cursor.fetchmany(CHUNK_DOCS):
            prepared = []
            for doc_id, doc_json, _, *texts in rows:
                doc = json.loads(doc_json)
                doc.update({c[2:]: v for c, v in zip(text_columns, texts, strict=True) if v is not None})
                doc["id"] = doc_id
                try:
                    prepared.append(self._prepare(doc))
                except _DocumentRejected:
                    # The document predates a stricter field type; keep it, unfiltered on that field.
                    prepared.append(self._prepare(doc, lenient=True))
                    lenient += 1
            self._apply(conn, prepared)
            kept += len(prepared)
        conn.execute(f"DROP TABLE {staging}")
        log.info(
            "upgraded index %s in %s: %d documents kept (%d with untyped fields)",
            self.name,
            self.path,
            kept,
            lenient,
        )

    def delete(self) -> None:
        def drop(conn: sqlite3.Connection) -> None:
            self._drop_fts(conn)
            conn.execute(f"DROP TABLE IF EXISTS {self._table}")
            conn.execute(f"DROP TABLE IF EXISTS {_quote(self.name + '__upgrading')}")
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (META_TABLE,)
            ).fetchone()
            if exists:
                conn.execute(f"DELETE FROM {META_TABLE} WHERE index_name = ?", (self.name,))

        self._write(drop)

    def delete_ids(self, ids: Sequence[str]) -> int:
        """Remove rows and their FTS terms together, one ``BEGIN IMMEDIATE`` transaction per chunk, so a
        reader never finds a row whose text is no longer searchable or the reverse."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        removed = 0
        for start in range(0, len(unique), CHUNK_DOCS):
            chunk = unique[start : start + CHUNK_DOCS]
            try:
                removed += self._write(lambda conn, chunk=chunk: self._delete_chunk(conn, chunk))
            except IndexMissing:
                return removed  # no index, nothing to delete
        return removed

    def _delete_chunk(self, conn: sqlite3.Connection, ids: list[str]) -> int:
        """The external-content FTS 'delete' needs the exact indexed text, read here in the same
        transaction as the row delete."""
        sql = self._sql
        found = conn.execute(sql["existing"].format(marks=", ".join("?" * len(ids))), ids).fetchall()
        if self._layout.fts_columns and found:
            conn.executemany(sql["fts_delete"], [(rowid, *texts) for rowid, _id, *texts in found])
        conn.executemany(f"DELETE FROM {self._table} WHERE rowid = ?", [(row[0],) for row in found])
        return len(found)

    def refresh(self) -> None:
        """Nothing to do: a committed SQLite transaction is visible to every reader at once."""

    def size_bytes(self) -> int:
        """Bytes of the whole file (page_count * page_size), which all logical indexes in it share.

        Per-table sizes would need the dbstat table, which reads every page — too slow for a status
        call on a large index.
        """
        if not self._read(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.name,)
        ):  # an index that was never created holds nothing, whatever else shares the file
            return 0
        page_count = self._read("PRAGMA page_count")[0][0]
        page_size = self._read("PRAGMA page_size")[0][0]
        return int(page_count * page_size)

    # ------------------------------------------------------------------ writes

    @functools.cached_property
    def _sql(self) -> dict[str, str]:
        """The SQL of one upsert: row insert or update, and the FTS delete/add of changed text."""
        columns = self._layout.row_columns
        fts_cols = ", ".join(map(_quote, self._layout.fts_columns))
        marks = ", ".join("?" * len(self._layout.fts_columns))
        return {
            "insert": f"INSERT INTO {self._table} (rowid, {', '.join(map(_quote, columns))})"
            f" VALUES (?, {', '.join('?' * len(columns))})",
            "update": f"UPDATE {self._table} SET {', '.join(f'{_quote(c)} = ?' for c in columns[1:])}"
            " WHERE rowid = ?",
            "existing": f"SELECT rowid, id{''.join(', ' + _quote(c) for c in self._layout.fts_columns)}"
            f" FROM {self._table} WHERE id IN ({{marks}})",
            "fts_delete": f"INSERT INTO {self._fts} ({self._fts}, rowid, {fts_cols})"
            f" VALUES ('delete', ?, {marks})",
            "fts_add": f"INSERT INTO {self._fts} (rowid, {fts_cols}) VALUES (?, {marks})",
        }

    def _apply(self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Upsert prepared rows and keep the external-content FTS index exact, inside the caller's
        write transaction.

        Done here rather than with triggers (measured 1.5x faster): existing ids are updated in place
        (same rowid), and only text that changed is removed from and re-added to the FTS index —
        with the old values read in this same transaction, as FTS5's 'delete' needs the exact
        indexed text. New rows get rowids after the current maximum, which is safe because
        ``BEGIN IMMEDIATE`` holds the only write lock.
        """
        sql = self._sql
        n_fts = len(self._layout.fts_columns)
        latest = {row[0]: row for row in rows}  # the same id twice in one chunk: the last one wins
        ids = list(latest)
        existing = {
            found[1]: (found[0], tuple(found[2:]))
            for found in conn.execute(sql["existing"].format(marks=", ".join("?" * len(ids))), ids)
        }
        next_rowid = conn.execute(f"SELECT coalesce(max(rowid), 0) + 1 FROM {self._table}").fetchone()[0]
        inserts, updates, fts_delete, fts_add = [], [], [], []
        for doc_id, row in latest.items():
            texts = row[3 : 3 + n_fts]
            if doc_id in existing:
                rowid, old_texts = existing[doc_id]
                updates.append((*row[1:], rowid))
                if old_texts != texts:
                    fts_delete.append((rowid, *old_texts))
                    fts_add.append((rowid, *texts))
            else:
                inserts.append((next_rowid, *row))
                fts_add.append((next_rowid, *texts))
                next_rowid += 1
        if n_fts and fts_delete:
            conn.executemany(sql["fts_delete"], fts_delete)
        conn.executemany(sql["insert"], inserts)
        conn.executemany(sql["update"], updates)
        if n_fts:
            conn.executemany(sql["fts_add"], fts_add)

    def _prepare(
        self,
        doc: dict[str, Any],
        lenient: bool = False,
        known: dict[str, tuple[tuple[str | None, ...], str | None]] | None = None,
    ) -> tuple[Any, ...]:
        """One row for the upsert; raises ``_DocumentRejected`` with a reason a person can act on."""
        if not isinstance(doc, dict):
            raise _DocumentRejected(f"expected a dict, got {type(doc).__name__}")
        doc_id = _doc_id(doc)
        if doc_id is None:
            raise _DocumentRejected("missing 'id'")
        layout = self._layout
        rest = {k: v for k, v in doc.items() if k != "id"}
        texts: list[str | None] = []
        for name in layout.text_fields:
            value = rest.get(name)
            if isinstance(value, str):
                del rest[name]
                texts.append(value)
            elif value is None:
                texts.append(None)
            else:
                raise _DocumentRejected(f"field {name!r}: expected a string, got {type(value).__name__}")
        if layout.has_subwords:
            stored = known.get(doc_id) if known else None
            if stored is not None and stored[0] == tuple(texts):
                texts.append(stored[1])
            else:
                code = [
                    t
                    for n, t in zip(layout.text_fields, texts, strict=True)
                    if t and self.schema.kind_of(n) == "code"
                ]
                texts.append(camel_subwords("\n".join(code)) if code else None)
        sort_at = ""
        if layout.sort_field and rest.get(layout.sort_field) is not None:
            if isinstance(rest[layout.sort_field], list | tuple):
                raise _DocumentRejected(f"field {layout.sort_field!r}: expected one date, got a list")
            sort_at = self._typed(layout.sort_field, "date", rest, lenient) or ""
        typed = [self._typed(n, self.schema.kind_of(n), rest, lenient) for n in layout.typed_fields]
        try:
            doc_json = json.dumps(rest, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise _DocumentRejected(f"not JSON-serializable: {exc}") from exc
        return (doc_id, sort_at, doc_json, *texts, *typed)

    @staticmethod
    def _typed(name: str, kind: Any, rest: dict[str, Any], lenient: bool) -> Any:
        """The SQL value of one filterable field; dates are normalised in the stored document too."""
        value = rest.get(name)
        if value is None:
            return None
        try:
            if isinstance(value, list | tuple):
                return json.dumps(list(value), ensure_ascii=False, allow_nan=False).encode()
            if kind == "date":
                normalised = normalise_date(value)
                if isinstance(value, datetime):
                    rest[name] = value.isoformat()
                return normalised
            if kind in ("int", "float"):
                number = float(value) if isinstance(value, str) else value
                if isinstance(number, bool) or not isinstance(number, int | float):
                    raise TypeError(f"expected a number, got {type(value).__name__}")
                if isinstance(number, float) and not math.isfinite(number):
                    raise ValueError("not a finite number")
                if isinstance(number, int) and not -(2**63) <= number < 2**63:
                    raise ValueError("integer out of 64-bit range")
                return int(number) if kind == "int" and float(number).is_integer() else number
            if kind == "bool":
                if isinstance(value, str) and value.lower() in ("true", "false"):
                    return int(value.lower() == "true")
                if not isinstance(value, bool):
                    raise TypeError(f"expected a boolean, got {type(value).__name__}")
                return int(value)
            if isinstance(value, dict):
                raise TypeError("expected a keyword, got an object")
            return value if isinstance(value, str | int | float) else str(value)
        except (TypeError, ValueError, OverflowError) as exc:
            if lenient:
                return None
            raise _DocumentRejected(f"field {name!r}: {exc}") from exc

    def bulk_upsert(self, docs: Iterable[dict[str, Any]]) -> BulkResult:
        result = BulkResult()
        chunk: list[Any] = []
        chunk_bytes = 0
        for doc in docs:
            chunk.append(doc)
            if isinstance(doc, dict):
                chunk_bytes += sum(
                    len(doc[n]) for n in self._layout.text_fields if isinstance(doc.get(n), str)
                )
            if len(chunk) >= CHUNK_DOCS or chunk_bytes >= CHUNK_BYTES:
                self._upsert_chunk(chunk, result)
                chunk, chunk_bytes = [], 0
        if chunk:
            self._upsert_chunk(chunk, result)
        return result

    def _upsert_chunk(self, docs: list[Any], result: BulkResult) -> None:
        # A retried batch re-sends documents that are already stored: reusing their sub-word column
        # when the text is identical skips the costliest part of preparing them. Reading outside the
        # write transaction is safe because the column is a pure function of the text compared here.
        known = self._stored_subwords([_doc_id(d) for d in docs]) if self._layout.has_subwords else {}
        rows = []
        for doc in docs:
            try:
                rows.append(self._prepare(doc, known=known))
            except _DocumentRejected as exc:
                doc_id = doc.get("id") if isinstance(doc, dict) else None
                result.errors.append(DocError(id=str(doc_id) if doc_id is not None else "", reason=str(exc)))
        if rows:
            self._write_chunk(rows, result)

    def _stored_subwords(self, ids: list[str | None]) -> dict[str, tuple[tuple[str | None, ...], str | None]]:
        wanted = [i for i in ids if i]
        if not wanted:
            return {}
        rows = self._read(
            f"SELECT d.id{self._text_select(self._layout.text_fields)}, d.x_subwords FROM {self._table} d"
            f" WHERE d.id IN ({', '.join('?' * len(wanted))})",
            wanted,
        )
        return {row[0]: (tuple(row[1:-1]), row[-1]) for row in rows}

    def _write_chunk(self, rows: list[tuple[Any, ...]], result: BulkResult) -> None:
        def work(conn: sqlite3.Connection) -> list[DocError]:
            conn.execute("SAVEPOINT chunk")
            try:
                self._apply(conn, rows)
                conn.execute("RELEASE chunk")
                return []
            except (sqlite3.Error, UnicodeEncodeError, OverflowError) as exc:
                if _is_busy(exc) or "no such table" in str(exc):
                    raise
                conn.execute("ROLLBACK TO chunk")
                conn.execute("RELEASE chunk")
            # Some row is bad (e.g. an unencodable surrogate): write the others one at a time, each
            # in its own savepoint, and report the bad ones.
            errors = []
            for row in rows:
                conn.execute("SAVEPOINT one")
                try:
                    self._apply(conn, [row])
                except (sqlite3.Error, UnicodeEncodeError, OverflowError) as exc:
                    if _is_busy(exc):
                        raise
                    conn.execute("ROLLBACK TO one")
                    errors.append(DocError(id=row[0], reason=f"{type(exc).__name__}: {exc}"))
                conn.execute("RELEASE one")
            return errors

        errors = self._write(work)
        result.indexed += len(rows) - len(errors)
        result.errors.extend(errors)

    # ------------------------------------------------------------------ reads

    def _column(self, field: str) -> str:
        if self._layout.sort_field == field:
            return "d.sort_at"
        if field in self._layout.typed_fields:
            return f"d.{_quote('f_' + field)}"
        raise ValueError(
            f"field {field!r} is not a keyword, number, date or bool field of schema {self.schema.name!r}"
        )

    def _where(self, filters: Filters | None) -> tuple[str, list[Any]]:
        """SQL conditions over alias ``d`` for the shared filters."""
        if filters is None:
            return "1", []
        clauses: list[str] = []
        params: list[Any] = []
        if filters.min_quality is not None:
            clauses.append(f"{self._column('quality_score')} >= ?")
            params.append(filters.min_quality)
        if filters.max_quality is not None:
            clauses.append(f"{self._column('quality_score')} < ?")
            params.append(filters.max_quality)
        for field, values in (("language", filters.languages), ("repo", filters.repos)):
            if values:
                clauses.append(f"{self._column(field)} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if filters.indexed_after is not None or filters.indexed_before is not None:
            column = self._column(SORT_FIELD)
            clauses.append(f"{column} != ''")  # like a range query, a missing date matches no range
            if filters.indexed_after is not None:
                clauses.append(f"{column} > ?")
                params.append(normalise_date(filters.indexed_after))
            if filters.indexed_before is not None:
                clauses.append(f"{column} <= ?")
                params.append(normalise_date(filters.indexed_before))
        return (" AND ".join(clauses) or "1"), params

    def _document(
        self, doc_id: str, doc_json: str, texts: Sequence[str | None], text_fields: Sequence[str]
    ) -> dict[str, Any]:
        doc = json.loads(doc_json)
        for name, value in zip(text_fields, texts, strict=True):
            if value is not None:
                doc[name] = value
        doc["id"] = doc_id
        return doc

    def _text_select(self, text_fields: Sequence[str]) -> str:
        return "".join(f", d.{_quote('t_' + n)}" for n in text_fields)

    def get(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        text_fields = self._layout.text_fields
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), CHUNK_DOCS):
            batch = unique[start : start + CHUNK_DOCS]
            rows = self._read_or_empty(
                f"SELECT d.id, d.doc{self._text_select(text_fields)} FROM {self._table} d"
                f" WHERE d.id IN ({', '.join('?' * len(batch))})",
                batch,
            )
            for doc_id, doc_json, *texts in rows or ():
                found[doc_id] = self._document(doc_id, doc_json, texts, text_fields)
        return found

    def count(self, filters: Filters | None = None) -> int:
        where, params = self._where(filters)
        rows = self._read_or_empty(f"SELECT count(*) FROM {self._table} d WHERE {where}", params)
        return int(rows[0][0]) if rows else 0

    def search(self, query: str, filters: Filters | None = None, size: int = 10) -> list[Hit]:
        """Every user word must match (AND), each quoted so no FTS5 syntax gets through; bm25 order.

        A camelCase word matches as written or as its sub-word phrase, so ``HttpRequest`` finds
        ``parseHttpRequest`` the way an Elasticsearch word-delimiter analyzer would. An empty query
        (no word characters) returns nothing.
        """
        layout = self._layout
        if not layout.text_fields:
            raise ValueError(f"schema {self.schema.name!r} has no text fields to search")
        match, words = build_match_query(query)
        if not match or size <= 0:
            return []
        where, params = self._where(filters)
        # Sub-word matches count for half: the whole identifier is the stronger signal.
        weights = ", ".join(["1.0"] * len(layout.text_fields) + (["0.5"] if layout.has_subwords else []))
        snippets = "".join(
            f", snippet({self._fts}, {i}, '{HIGHLIGHT[0]}', '{HIGHLIGHT[1]}', '…', 24)"
            for i in range(len(layout.text_fields))
        )
        sql = (
            f"SELECT d.id, d.doc{self._text_select(layout.text_fields)},"
            f" bm25({self._fts}, {weights}) AS score{snippets}"
            f" FROM {self._fts} JOIN {self._table} d ON d.rowid = {self._fts}.rowid"
            f" WHERE {self._fts} MATCH ? AND {where} ORDER BY score LIMIT ?"
        )
        hits = []
        n_text = len(layout.text_fields)
        for doc_id, doc_json, *rest in self._read_or_empty(sql, [match, *params, size]) or ():
            texts, score, fragments = rest[:n_text], rest[n_text], rest[n_text + 1 :]
            highlights = [f for f in fragments if f and HIGHLIGHT[0] in f]
            if not highlights:  # matched only through camelCase sub-words: mark them in the code
                highlights = _subword_highlights([t for t in texts if t], words)
            hits.append(
                Hit(
                    id=doc_id,
                    score=-float(score),
                    highlights=highlights,
                    doc=self._document(doc_id, doc_json, texts, layout.text_fields),
                )
            )
        return hits

    def quality_histogram(self, filters: Filters | None = None) -> dict[str, int]:
        column = self._column("quality_score")
        where, params = self._where(filters)
        sums = []
        for _label, low, high in QUALITY_BUCKETS:
            conds = [f"{column} >= {float(low)!r}" if low is not None else f"{column} IS NOT NULL"]
            if high is not None:
                conds.append(f"{column} < {float(high)!r}")
            sums.append(f"coalesce(sum({' AND '.join(conds)}), 0)")
        rows = self._read_or_empty(f"SELECT {', '.join(sums)} FROM {self._table} d WHERE {where}", params)
        row = rows[0] if rows else (0,) * len(QUALITY_BUCKETS)
        return {label: int(n) for (label, _, _), n in zip(QUALITY_BUCKETS, row, strict=True)}

    def terms(self, field: str, filters: Filters | None = None, size: int = 20) -> dict[str, int]:
        column = self._column(field)
        where, params = self._where(filters)
        # Scalars group directly; lists (stored as JSON BLOBs) count once per element.
        sql = (
            f"SELECT value, count(*) AS n FROM ("
            f" SELECT {column} AS value FROM {self._table} d"
            f"  WHERE {where} AND {column} IS NOT NULL AND typeof({column}) != 'blob'"
            f" UNION ALL SELECT j.value FROM {self._table} d, json_each(CAST({column} AS TEXT)) j"
            f"  WHERE {where} AND typeof({column}) = 'blob'"
            f") GROUP BY value ORDER BY n DESC, value LIMIT ?"
        )
        rows = self._read_or_empty(sql, [*params, *params, size]) or []
        if self.schema.kind_of(field) == "bool":
            return {bool(value): int(n) for value, n in rows}  # type: ignore[misc]
        return {value: int(n) for value, n in rows}

    def max_value(self, field: str, filters: Filters | None = None) -> Any | None:
        """The largest value; dates come back as timezone-aware ``datetime`` (ready for ``Filters``)."""
        column = self._column(field)
        where, params = self._where(filters)
        rows = self._read_or_empty(
            f"SELECT max({column}) FROM {self._table} d WHERE {where} AND typeof({column}) != 'blob'"
            f" AND {column} IS NOT NULL AND {column} != ''",
            params,
        )
        value = rows[0][0] if rows else None
        if value is None:
            return None
        kind = self.schema.kind_of(field)
        if kind == "date":
            return datetime.fromisoformat(value)
        if kind == "bool":
            return bool(value)
        return value

    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Keyset pages on (sort_at, id): each page is its own short read, so a long iteration never
        holds a snapshot that would stop WAL checkpoints. Rows written behind the cursor are not seen
        and no row is seen twice — unless it is rewritten during the iteration with an ``indexed_at``
        ahead of the cursor, where it shows up again at its new place (a point-in-time snapshot on
        Elasticsearch would not show it).
        """
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        wanted = None if fields is None else set(fields)
        text_fields = [n for n in self._layout.text_fields if wanted is None or n in wanted]
        where, params = self._where(filters)
        op, order = ("<", "DESC") if newest_first else (">", "ASC")
        base = (
            f"SELECT d.id, d.sort_at, d.doc{self._text_select(text_fields)} FROM {self._table} d"
            f" WHERE {where}"
        )
        cursor: tuple[str, str] | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            page = batch_size if remaining is None else min(batch_size, remaining)
            if cursor is None:
                sql, args = base, list(params)
            else:
                sql, args = f"{base} AND (d.sort_at, d.id) {op} (?, ?)", [*params, *cursor]
            ordered = f"{sql} ORDER BY d.sort_at {order}, d.id {order} LIMIT ?"
            rows = self._read_or_empty(ordered, [*args, page])
            if rows is None:  # no index (yet, or no longer): nothing more to yield
                return
            for doc_id, sort_at, doc_json, *texts in rows:
                doc = self._document(doc_id, doc_json, texts, text_fields)
                if wanted is not None:
                    doc = {k: v for k, v in doc.items() if k in wanted or k == "id"}
                yield doc
                cursor = (sort_at, doc_id)
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) < page:
                return


def _doc_id(doc: Any) -> str | None:
    """The document's id as a string; integer ids are accepted, as Elasticsearch accepts them."""
    doc_id = doc.get("id") if isinstance(doc, dict) else None
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    return doc_id if isinstance(doc_id, str) and doc_id else None


def build_match_query(query: str) -> tuple[str, list[str]]:
    """An FTS5 MATCH expression from user words, plus the lowercased words for highlighting.

    Every word becomes a quoted FTS5 string ("…" with inner quotes doubled), so operators, column
    filters and ``*`` typed by a user are searched as text, never parsed as query syntax.
    """
    terms: list[str] = []
    words: list[str] = []
    for word in query.split():
        if not _HAS_WORD.search(word):
            continue  # pure punctuation tokenizes to nothing; an empty phrase would be an error
        whole, parts = query_alternatives(word)
        quoted = '"' + whole.replace('"', '""') + '"'
        if parts:
            quoted = f'({quoted} OR "{" ".join(parts)}")'
            words.extend(parts)
        else:
            words.append(word.lower())
        terms.append(quoted)
    return " AND ".join(terms), words


def _subword_highlights(texts: Sequence[str], words: Sequence[str], limit: int = 3) -> list[str]:
    """Fragments (the matching line) with each query sub-word marked, for sub-word-only matches."""
    fragments: list[str] = []
    for text in texts:
        lowered = text.lower()
        for word in words:
            at = lowered.find(word)
            if at < 0:
                continue
            start = lowered.rfind("\n", 0, at) + 1
            end = lowered.find("\n", at)
            end = len(text) if end < 0 else end
            line = text[start:end]
            offset = at - start
            fragments.append(
                (
                    line[:offset]
                    + HIGHLIGHT[0]
                    + line[offset : offset + len(word)]
                    + HIGHLIGHT[1]
                    + line[offset + len(word) :]
                ).strip()[:400]
            )
            if len(fragments) >= limit:
                return fragments
    return fragments
