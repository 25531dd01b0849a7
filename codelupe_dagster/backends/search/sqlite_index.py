"""The embedded search backend: one SQLite file, FTS5 full text, filters and aggregations in SQL.

How the pieces divide the work:

- ``sqlite_connection``: per-thread, per-process connections; WAL; short ``BEGIN IMMEDIATE`` writes
  retried while the file is busy — Dagster runs steps in several processes sharing the file.
- ``sqlite_layout``: the tables of one logical index (row table, FTS5 table, meta row), derived from
  its schema; several logical indexes live side by side in ``DATA_DIR/index.sqlite``.
- ``sqlite_rows``: documents to rows (validation, typed filter columns, normalised dates) and back.
- ``sqlite_writes``: chunked upserts and deletes that keep the FTS table exact.
- ``sqlite_query``: the SQL of filters, searches and aggregations.
- here: the ``SearchIndex`` itself — lifecycle (ensure, upgrade, delete) and the reads.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.search.base import (
    QUALITY_BUCKETS,
    BackendUnavailable,
    BulkResult,
    Filters,
    Hit,
    IndexSchema,
    SearchIndex,
)
from codelupe_dagster.backends.search.query_syntax import ParsedQuery
from codelupe_dagster.backends.search.sqlite_connection import IndexMissing, SqliteFile
from codelupe_dagster.backends.search.sqlite_layout import (
    LAYOUT_VERSION,
    META_TABLE,
    SqliteLayout,
    SqliteTables,
    quote,
)
from codelupe_dagster.backends.search.sqlite_query import (
    SqliteQueries,
    build_match_query,
    term_match,
)
from codelupe_dagster.backends.search.sqlite_rows import DocumentRejected, normalise_date, row_document
from codelupe_dagster.backends.search.sqlite_writes import CHUNK_DOCS, SqliteWriter

__all__ = [
    "CHUNK_DOCS",
    "META_TABLE",
    "IndexMissing",
    "SqliteSearchIndex",
    "build_match_query",
]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,120}$")


class SqliteSearchIndex(SearchIndex):
    """One logical index in a shared SQLite file; safe to use from many processes and threads."""

    def __init__(self, schema: IndexSchema, path: Path, name: str):
        if not _NAME.match(name):
            raise ValueError(f"index name {name!r}: use letters, digits, '.', '_' and '-'")
        self.schema = schema
        self.path = Path(path)
        self.name = name
        self._layout = SqliteLayout.of(schema)
        self._tables = SqliteTables(name, self._layout)
        self._file = SqliteFile(self.path, name)
        self._queries = SqliteQueries(self._tables, schema.name)
        self._writer = SqliteWriter(self._file, self._tables, schema)

    def __repr__(self) -> str:
        return f"SqliteSearchIndex({self.name!r}, path={str(self.path)!r})"

    # Connections are per thread and per process: only the arguments travel to another process.
    def __getstate__(self) -> dict[str, Any]:
        return {"schema": self.schema, "path": self.path, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["schema"], state["path"], state["name"])  # type: ignore[misc]

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's index object goes away)."""
        self._file.close()

    # ------------------------------------------------------------------ lifecycle

    def ping(self) -> None:
        try:
            self._file.connection().execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            self.close()
            raise BackendUnavailable(f"SQLite index file {self.path} is not usable: {exc}") from exc

    def ensure(self) -> None:
        self._file.write(self._ensure_in_transaction)

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
            self._tables.create(conn)
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
                self._tables.create(conn)  # IF NOT EXISTS: repairs a half-deleted index
                return
            self._upgrade(conn)
        conn.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?, ?, ?, ?)",
            (self.name, self.schema.name, self.schema.version, layout, normalise_date(datetime.now(UTC))),
        )

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Rebuild the index under the current layout, keeping every document.

        Upgrades are rare, so the simple way wins: read each stored document back, prepare it as a new
        write would, write it into a fresh table and FTS table, drop the old one. All in the caller's
        transaction: a crash halfway leaves the old index intact.
        """
        tables, staging = self._tables, self._tables.staging
        tables.drop_fts(conn)
        conn.execute(f"DROP TABLE IF EXISTS {staging}")
        conn.execute(f"ALTER TABLE {tables.table} RENAME TO {staging}")
        tables.drop_btree_indexes(conn)
        tables.create(conn)
        old_columns = [r[1] for r in conn.execute(f"PRAGMA table_info({staging})")]
        text_columns = [c for c in old_columns if c.startswith("t_")]
        kept = lenient = 0
        cursor = conn.execute(
            f"SELECT id, doc, {', '.join(['NULL', *map(quote, text_columns)])} FROM {staging}"
        )
        while rows := cursor.fetchmany(CHUNK_DOCS):
            prepared = []
            for doc_id, doc_json, _, *texts in rows:
                doc = row_document(doc_id, doc_json, texts, [c[2:] for c in text_columns])
                try:
                    prepared.append(self._writer.prepare(doc))
                except DocumentRejected:
                    # The document predates a stricter field type; keep it, unfiltered on that field.
                    prepared.append(self._writer.prepare(doc, lenient=True))
                    lenient += 1
            self._writer.apply(conn, prepared)
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
        self._file.write(self._tables.drop)

    def refresh(self) -> None:
        """Nothing to do: a committed SQLite transaction is visible to every reader at once."""

    def size_bytes(self) -> int:
        """Bytes of the whole file (page_count * page_size), which all logical indexes in it share.

        Per-table sizes would need the dbstat table, which reads every page — too slow for a status
        call on a large index.
        """
        if not self._file.read(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.name,)
        ):  # an index that was never created holds nothing, whatever else shares the file
            return 0
        page_count = self._file.read("PRAGMA page_count")[0][0]
        page_size = self._file.read("PRAGMA page_size")[0][0]
        return int(page_count * page_size)

    # ------------------------------------------------------------------ writes

    def bulk_upsert(self, docs: Iterable[dict[str, Any]]) -> BulkResult:
        return self._writer.upsert(docs)

    def delete_ids(self, ids: Sequence[str]) -> int:
        return self._writer.delete_ids(ids)

    # ------------------------------------------------------------------ reads

    def get(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        wanted = None if fields is None else {*fields, "id"}
        # Text fields live in their own columns: only the wanted ones are read.
        text_fields = [n for n in self._layout.text_fields if wanted is None or n in wanted]
        unique = list(dict.fromkeys(ids))
        keywords = self._keyword_fields(wanted)
        for start in range(0, len(unique), CHUNK_DOCS):
            batch = unique[start : start + CHUNK_DOCS]
            if keywords:
                self._get_keywords(batch, keywords, found)
                continue
            rows = self._file.read_or_empty(self._queries.by_ids(len(batch), text_fields), batch)
            for doc_id, doc_json, *texts in rows or ():
                doc = row_document(doc_id, doc_json, texts, text_fields)
                found[doc_id] = doc if wanted is None else {k: v for k, v in doc.items() if k in wanted}
        return found

    def _keyword_fields(self, wanted: set[str] | None) -> tuple[str, ...]:
        """The wanted fields, when they are all keyword fields with a typed column (a check reading the
        ``batch`` of every document of a batch); else none."""
        names = sorted((wanted or set()) - {"id"})
        layout = self._layout
        kinds = dict(zip(layout.typed_fields, layout.typed_kinds, strict=True))
        return tuple(names) if names and all(kinds.get(n) == "keyword" for n in names) else ()

    def _get_keywords(
        self, ids: Sequence[str], names: tuple[str, ...], found: dict[str, dict[str, Any]]
    ) -> None:
        """`get` of keyword fields from their typed columns, without parsing each document's JSON: a
        keyword column holds a string exactly when the document holds that string (`typed_value`); a
        row with anything else there (no value, a list, a number) is read from its JSON."""
        rows = self._file.read_or_empty(self._queries.typed_by_ids(len(ids), names), ids)
        for doc_id, doc_json, *values in rows or ():
            if all(type(value) is str for value in values):
                found[doc_id] = {"id": doc_id, **dict(zip(names, values, strict=True))}
            else:
                doc = row_document(doc_id, doc_json, [], [])
                found[doc_id] = {k: v for k, v in doc.items() if k == "id" or k in names}

    def count(self, filters: Filters | None = None) -> int:
        where, params = self._queries.where(filters)
        rows = self._file.read_or_empty(f"SELECT count(*) FROM {self._tables.table} d WHERE {where}", params)
        return int(rows[0][0]) if rows else 0

    def _candidates(self, query: ParsedQuery, filters: Filters, size: int, match_all: bool) -> list[Hit]:
        """One FTS5 query: terms OR'ed (AND'ed with ``match_all``) as quoted phrases, so no FTS5 syntax
        typed by a user gets through; the number of terms a row holds, then bm25, orders the rows."""
        text_fields = self._layout.text_fields
        where, params = self._queries.where(filters)
        excluded = build_match_query(query.excluded, match_all=False)
        exclusion = [excluded] if excluded else []
        if query.terms:
            tiers = [] if match_all or len(query.terms) < 2 else [term_match(t) for t in query.terms]
            sql = self._queries.search(where, len(tiers), bool(excluded))
            bound = [build_match_query(query.terms, match_all), *params, *exclusion, *tiers, size]
        else:
            sql = self._queries.listing(where, bool(excluded))
            bound = [*params, *exclusion, size]
        rows = self._file.read_or_empty(sql, bound)
        n_text = len(text_fields)
        return [
            Hit(
                id=doc_id,
                score=-float(rest[n_text]),
                doc=row_document(doc_id, doc_json, rest[:n_text], text_fields),
                highlights=[],
            )
            for doc_id, doc_json, *rest in rows or ()
        ]

    def quality_histogram(self, filters: Filters | None = None) -> dict[str, int]:
        where, params = self._queries.where(filters)
        rows = self._file.read_or_empty(self._queries.quality_histogram(where), params)
        row = rows[0] if rows else (0,) * len(QUALITY_BUCKETS)
        return {label: int(n) for (label, _, _), n in zip(QUALITY_BUCKETS, row, strict=True)}

    def terms(self, field: str, filters: Filters | None = None, size: int = 20) -> dict[str, int]:
        where, params = self._queries.where(filters)
        rows = self._file.read_or_empty(self._queries.terms(field, where), [*params, *params, size]) or []
        if self.schema.kind_of(field) == "bool":
            return {bool(value): int(n) for value, n in rows}  # type: ignore[misc]
        return {value: int(n) for value, n in rows}

    def max_value(self, field: str, filters: Filters | None = None) -> Any | None:
        """The largest value; dates come back as timezone-aware ``datetime`` (ready for ``Filters``)."""
        where, params = self._queries.where(filters)
        rows = self._file.read_or_empty(self._queries.max_value(field, where), params)
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
        where, params = self._queries.where(filters)
        cursor: tuple[str, str] | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            page = batch_size if remaining is None else min(batch_size, remaining)
            sql = self._queries.page(where, text_fields, cursor is not None, newest_first)
            rows = self._file.read_or_empty(sql, [*params, *(cursor or ()), page])
            if rows is None:  # no index (yet, or no longer): nothing more to yield
                return
            for doc_id, sort_at, doc_json, *texts in rows:
                doc = row_document(doc_id, doc_json, texts, text_fields)
                if wanted is not None:
                    doc = {k: v for k, v in doc.items() if k in wanted or k == "id"}
                yield doc
                cursor = (sort_at, doc_id)
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) < page:
                return
