"""The SQL of the SQLite backend's reads: filters, full-text MATCH expressions, aggregations, highlights.

Only SQL text and parameters are built here; ``sqlite_index`` runs them. User input only ever reaches
SQL as a bound parameter (filter values, the MATCH expression), never as SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from codelupe_dagster.backends.search.base import QUALITY_BUCKETS, Filters
from codelupe_dagster.backends.search.code_tokens import query_alternatives
from codelupe_dagster.backends.search.sqlite_layout import SORT_FIELD, SqliteTables, quote
from codelupe_dagster.backends.search.sqlite_rows import normalise_date

HIGHLIGHT = ("<em>", "</em>")
_HAS_WORD = re.compile(r"[^\W_]")


class SqliteQueries:
    """Read SQL over one index's tables; rows are aliased ``d`` throughout."""

    def __init__(self, tables: SqliteTables, schema_name: str):
        self.tables = tables
        self.layout = tables.layout
        self.schema_name = schema_name

    def column(self, field: str) -> str:
        """The SQL column of a filterable field; ``ValueError`` for any other field."""
        if self.layout.sort_field == field:
            return "d.sort_at"
        if field in self.layout.typed_fields:
            return f"d.{quote('f_' + field)}"
        raise ValueError(
            f"field {field!r} is not a keyword, number, date or bool field of schema {self.schema_name!r}"
        )

    def text_select(self, text_fields: Sequence[str]) -> str:
        return "".join(f", d.{quote('t_' + n)}" for n in text_fields)

    def where(self, filters: Filters | None) -> tuple[str, list[Any]]:
        """SQL conditions for the shared filters, and their parameters."""
        if filters is None:
            return "1", []
        clauses: list[str] = []
        params: list[Any] = []
        if filters.min_quality is not None:
            clauses.append(f"{self.column('quality_score')} >= ?")
            params.append(filters.min_quality)
        if filters.max_quality is not None:
            clauses.append(f"{self.column('quality_score')} < ?")
            params.append(filters.max_quality)
        for field, values in (("language", filters.languages), ("repo", filters.repos)):
            if values:
                clauses.append(f"{self.column(field)} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if filters.indexed_after is not None or filters.indexed_before is not None:
            column = self.column(SORT_FIELD)
            clauses.append(f"{column} != ''")  # like a range query, a missing date matches no range
            if filters.indexed_after is not None:
                clauses.append(f"{column} > ?")
                params.append(normalise_date(filters.indexed_after))
            if filters.indexed_before is not None:
                clauses.append(f"{column} <= ?")
                params.append(normalise_date(filters.indexed_before))
        return (" AND ".join(clauses) or "1"), params

    def by_ids(self, count: int, text_fields: Sequence[str]) -> str:
        """id, doc JSON and text columns of ``count`` ids."""
        return (
            f"SELECT d.id, d.doc{self.text_select(text_fields)} FROM {self.tables.table} d"
            f" WHERE d.id IN ({', '.join('?' * count)})"
        )

    def search(self, where: str) -> str:
        """Rows matching ``MATCH ?`` and ``where``, best first (bm25), then ``LIMIT ?``: id, doc, the
        text columns, the score and one snippet per text field."""
        layout, fts = self.layout, self.tables.fts
        # Sub-word matches count for half: the whole identifier is the stronger signal.
        weights = ", ".join(["1.0"] * len(layout.text_fields) + (["0.5"] if layout.has_subwords else []))
        snippets = "".join(
            f", snippet({fts}, {i}, '{HIGHLIGHT[0]}', '{HIGHLIGHT[1]}', '…', 24)"
            for i in range(len(layout.text_fields))
        )
        return (
            f"SELECT d.id, d.doc{self.text_select(layout.text_fields)}, bm25({fts}, {weights}) AS score"
            f"{snippets} FROM {fts} JOIN {self.tables.table} d ON d.rowid = {fts}.rowid"
            f" WHERE {fts} MATCH ? AND {where} ORDER BY score LIMIT ?"
        )

    def quality_histogram(self, where: str) -> str:
        """One row: the count per ``QUALITY_BUCKETS`` bucket, in bucket order."""
        column = self.column("quality_score")
        sums = []
        for _label, low, high in QUALITY_BUCKETS:
            conds = [f"{column} >= {float(low)!r}" if low is not None else f"{column} IS NOT NULL"]
            if high is not None:
                conds.append(f"{column} < {float(high)!r}")
            sums.append(f"coalesce(sum({' AND '.join(conds)}), 0)")
        return f"SELECT {', '.join(sums)} FROM {self.tables.table} d WHERE {where}"

    def terms(self, field: str, where: str) -> str:
        """(value, count) most frequent first, then ``LIMIT ?``; takes the filter parameters twice.

        Scalars group directly; lists (stored as JSON BLOBs) count once per element."""
        column, table = self.column(field), self.tables.table
        return (
            f"SELECT value, count(*) AS n FROM ("
            f" SELECT {column} AS value FROM {table} d"
            f"  WHERE {where} AND {column} IS NOT NULL AND typeof({column}) != 'blob'"
            f" UNION ALL SELECT j.value FROM {table} d, json_each(CAST({column} AS TEXT)) j"
            f"  WHERE {where} AND typeof({column}) = 'blob'"
            f") GROUP BY value ORDER BY n DESC, value LIMIT ?"
        )

    def max_value(self, field: str, where: str) -> str:
        column = self.column(field)
        return (
            f"SELECT max({column}) FROM {self.tables.table} d WHERE {where}"
            f" AND typeof({column}) != 'blob' AND {column} IS NOT NULL AND {column} != ''"
        )

    def page(self, where: str, text_fields: Sequence[str], after_cursor: bool, newest_first: bool) -> str:
        """One keyset page on (sort_at, id), ``LIMIT ?``; after the filter parameters come the cursor's
        two values when ``after_cursor``."""
        op, order = ("<", "DESC") if newest_first else (">", "ASC")
        sql = (
            f"SELECT d.id, d.sort_at, d.doc{self.text_select(text_fields)} FROM {self.tables.table} d"
            f" WHERE {where}"
        )
        if after_cursor:
            sql += f" AND (d.sort_at, d.id) {op} (?, ?)"
        return f"{sql} ORDER BY d.sort_at {order}, d.id {order} LIMIT ?"


def build_match_query(query: str) -> tuple[str, list[str]]:
    """An FTS5 MATCH expression from user words, plus the lowercased words for highlighting.

    Every word becomes a quoted FTS5 string ("…" with inner quotes doubled), so operators, column
    filters and ``*`` typed by a user are searched as text, never parsed as query syntax. A camelCase
    word matches as written or as its sub-word phrase.
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


def subword_highlights(texts: Sequence[str], words: Sequence[str], limit: int = 3) -> list[str]:
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
            marked = line[:offset] + HIGHLIGHT[0] + line[offset : offset + len(word)] + HIGHLIGHT[1]
            fragments.append((marked + line[offset + len(word) :]).strip()[:400])
            if len(fragments) >= limit:
                return fragments
    return fragments
