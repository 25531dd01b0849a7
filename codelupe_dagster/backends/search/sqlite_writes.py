"""Upserts and deletes on one SQLite index, keeping its external-content FTS5 table exact.

Done in the write path rather than with triggers (measured 1.5x faster): an existing id is updated in
place (same rowid), its old terms removed and the new ones added only when its text changed, so a
retried batch re-tokenizes nothing. Every chunk is one short ``BEGIN IMMEDIATE`` transaction: small
enough that other processes wait milliseconds, not seconds.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from codelupe_dagster.backends.search.base import BulkResult, DocError, IndexSchema
from codelupe_dagster.backends.search.sqlite_connection import (
    IndexMissing,
    SqliteFile,
    is_busy,
    no_such_table,
)
from codelupe_dagster.backends.search.sqlite_layout import SqliteTables
from codelupe_dagster.backends.search.sqlite_query import SqliteQueries
from codelupe_dagster.backends.search.sqlite_rows import DocumentRejected, StoredText, doc_id, prepare_row

CHUNK_DOCS = 500
CHUNK_BYTES = 16 << 20
# What makes one row of a chunk unwritable (e.g. an unencodable surrogate), as opposed to the file.
_ROW_ERRORS = (sqlite3.Error, UnicodeEncodeError, OverflowError)


class SqliteWriter:
    """The write path of one index: ``upsert`` and ``delete_ids`` in chunked transactions."""

    def __init__(self, file: SqliteFile, tables: SqliteTables, schema: IndexSchema):
        self.file = file
        self.tables = tables
        self.layout = tables.layout
        self.schema = schema
        self._queries = SqliteQueries(tables, schema.name)

    def upsert(self, docs: Iterable[object]) -> BulkResult:
        result = BulkResult()
        chunk: list[object] = []
        chunk_bytes = 0
        for doc in docs:
            chunk.append(doc)
            if isinstance(doc, dict):
                chunk_bytes += sum(
                    len(doc[n]) for n in self.layout.text_fields if isinstance(doc.get(n), str)
                )
            if len(chunk) >= CHUNK_DOCS or chunk_bytes >= CHUNK_BYTES:
                self._upsert_chunk(chunk, result)
                chunk, chunk_bytes = [], 0
        if chunk:
            self._upsert_chunk(chunk, result)
        return result

    def prepare(
        self, doc: object, lenient: bool = False, known: dict[str, StoredText] | None = None
    ) -> tuple[Any, ...]:
        return prepare_row(self.schema, self.layout, doc, lenient=lenient, known=known)

    def _upsert_chunk(self, docs: list[object], result: BulkResult) -> None:
        # A retried batch re-sends documents that are already stored: reusing their sub-word column
        # when the text is identical skips the costliest part of preparing them. Reading outside the
        # write transaction is safe because the column is a pure function of the text compared here.
        known = self._stored_subwords([doc_id(d) for d in docs]) if self.layout.has_subwords else {}
        rows = []
        for doc in docs:
            try:
                rows.append(self.prepare(doc, known=known))
            except DocumentRejected as exc:
                the_id = doc.get("id") if isinstance(doc, dict) else None
                result.errors.append(DocError(id=str(the_id) if the_id is not None else "", reason=str(exc)))
        if rows:
            self._write_chunk(rows, result)

    def _stored_subwords(self, ids: list[str | None]) -> dict[str, StoredText]:
        wanted = [i for i in ids if i]
        if not wanted:
            return {}
        text_fields = self.layout.text_fields
        sql = (
            f"SELECT d.id{self._queries.text_select(text_fields)}, d.x_subwords FROM {self.tables.table} d"
            f" WHERE d.id IN ({', '.join('?' * len(wanted))})"
        )
        return {row[0]: (tuple(row[1:-1]), row[-1]) for row in self.file.read(sql, wanted)}

    def _write_chunk(self, rows: list[tuple[Any, ...]], result: BulkResult) -> None:
        def work(conn: sqlite3.Connection) -> list[DocError]:
            conn.execute("SAVEPOINT chunk")
            try:
                self.apply(conn, rows)
                conn.execute("RELEASE chunk")
                return []
            except _ROW_ERRORS as exc:
                if is_busy(exc) or no_such_table(exc):
                    raise
                conn.execute("ROLLBACK TO chunk")
                conn.execute("RELEASE chunk")
            # Some row is bad: write the others one at a time, each in its own savepoint, and report
            # the bad ones.
            errors = []
            for row in rows:
                conn.execute("SAVEPOINT one")
                try:
                    self.apply(conn, [row])
                except _ROW_ERRORS as exc:
                    if is_busy(exc):
                        raise
                    conn.execute("ROLLBACK TO one")
                    errors.append(DocError(id=row[0], reason=f"{type(exc).__name__}: {exc}"))
                conn.execute("RELEASE one")
            return errors

        errors = self.file.write(work)
        result.indexed += len(rows) - len(errors)
        result.errors.extend(errors)

    def apply(self, conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Upsert prepared rows and keep the FTS index exact, inside the caller's write transaction.

        The old text is read in this same transaction, as FTS5's 'delete' needs the exact indexed
        text. New rows get rowids after the current maximum, which is safe because ``BEGIN IMMEDIATE``
        holds the only write lock.
        """
        tables = self.tables
        n_fts = len(self.layout.fts_columns)
        latest = {row[0]: row for row in rows}  # the same id twice in one chunk: the last one wins
        ids = list(latest)
        existing = {
            found[1]: (found[0], tuple(found[2:]))
            for found in conn.execute(tables.existing_sql(len(ids)), ids)
        }
        next_rowid = conn.execute(f"SELECT coalesce(max(rowid), 0) + 1 FROM {tables.table}").fetchone()[0]
        inserts, updates, fts_delete, fts_add = [], [], [], []
        for the_id, row in latest.items():
            texts = row[3 : 3 + n_fts]
            if the_id in existing:
                rowid, old_texts = existing[the_id]
                updates.append((*row[1:], rowid))
                if old_texts != texts:
                    fts_delete.append((rowid, *old_texts))
                    fts_add.append((rowid, *texts))
            else:
                inserts.append((next_rowid, *row))
                fts_add.append((next_rowid, *texts))
                next_rowid += 1
        if n_fts and fts_delete:
            conn.executemany(tables.fts_delete_sql, fts_delete)
        conn.executemany(tables.insert_sql, inserts)
        conn.executemany(tables.update_sql, updates)
        if n_fts:
            conn.executemany(tables.fts_add_sql, fts_add)

    def delete_ids(self, ids: Sequence[str]) -> int:
        """Remove rows and their FTS terms together, one transaction per chunk, so a reader never
        finds a row whose text is no longer searchable or the reverse."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        removed = 0
        for start in range(0, len(unique), CHUNK_DOCS):
            chunk = unique[start : start + CHUNK_DOCS]
            try:
                removed += self.file.write(functools.partial(self._delete_chunk, ids=chunk))
            except IndexMissing:
                return removed  # no index, nothing to delete
        return removed

    def _delete_chunk(self, conn: sqlite3.Connection, ids: list[str]) -> int:
        """The external-content FTS 'delete' needs the exact indexed text, read here in the same
        transaction as the row delete."""
        tables = self.tables
        found = conn.execute(tables.existing_sql(len(ids)), ids).fetchall()
        if self.layout.fts_columns and found:
            conn.executemany(tables.fts_delete_sql, [(rowid, *texts) for rowid, _id, *texts in found])
        conn.executemany(f"DELETE FROM {tables.table} WHERE rowid = ?", [(row[0],) for row in found])
        return len(found)
