"""The SQL of the SQLite backend's reads: filters, full-text MATCH expressions, aggregations, highlights.

Only SQL text and parameters are built here; ``sqlite_index`` runs them. User input only ever reaches
SQL as a bound parameter (filter values, the MATCH expression), never as SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codelupe_dagster.backends.search.base import QUALITY_BUCKETS, Filters
from codelupe_dagster.backends.search.query_syntax import Term
from codelupe_dagster.backends.search.sqlite_layout import SORT_FIELD, SqliteTables, quote
from codelupe_dagster.backends.search.sqlite_rows import normalise_date


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
        if filters.languages:  # any case: "Python" finds "python"
            clauses.append(f"lower({self.column('language')}) IN ({', '.join('?' * len(filters.languages))})")
            params.extend(value.lower() for value in filters.languages)
        if filters.repos:
            clauses.append(f"{self.column('repo')} IN ({', '.join('?' * len(filters.repos))})")
            params.extend(filters.repos)
        if filters.ids:
            clauses.append(f"d.id IN ({', '.join('?' * len(filters.ids))})")
            params.extend(filters.ids)
        if filters.batches:
            clauses.append(f"{self.column('batch')} IN ({', '.join('?' * len(filters.batches))})")
            params.extend(filters.batches)
        if filters.paths:
            column = self.column("path")
            clauses.append("(" + " OR ".join([f"instr(lower({column}), ?) > 0"] * len(filters.paths)) + ")")
            params.extend(value.lower() for value in filters.paths)
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

    def typed_by_ids(self, count: int, names: Sequence[str]) -> str:
        """id, doc JSON and the typed columns of ``names`` of ``count`` ids."""
        columns = "".join(f", d.{quote('f_' + n)}" for n in names)
        marks = ", ".join("?" * count)
        return f"SELECT d.id, d.doc{columns} FROM {self.tables.table} d WHERE d.id IN ({marks})"

    def search(self, where: str, tiers: int, exclude: bool) -> str:
        """Rows matching ``MATCH ?`` and ``where``, then ``LIMIT ?``: id, doc, the text columns and the
        bm25 score (lower is better). Parameters: the MATCH expression, the filters', with ``exclude``
        one more MATCH expression (rows matching it are left out), with ``tiers`` one MATCH expression
        per term (rows holding more terms come first), and the limit."""
        layout, fts = self.layout, self.tables.fts
        # Sub-word matches count for half: the whole identifier is the stronger signal.
        weights = ", ".join(["1.0"] * len(layout.text_fields) + (["0.5"] if layout.has_subwords else []))
        matched = " + ".join([f"(d.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?))"] * tiers)
        order = f"{matched} DESC, score" if tiers else "score"
        return (
            f"SELECT d.id, d.doc{self.text_select(layout.text_fields)}, bm25({fts}, {weights}) AS score"
            f" FROM {fts} JOIN {self.tables.table} d ON d.rowid = {fts}.rowid"
            f" WHERE {fts} MATCH ? AND {where}{self._excluding() if exclude else ''}"
            f" ORDER BY {order} LIMIT ?"
        )

    def listing(self, where: str, exclude: bool) -> str:
        """Rows matching ``where`` only (no words), best quality first, then ``LIMIT ?``."""
        order = (
            f"{self.column('quality_score')} DESC, d.id"
            if "quality_score" in self.layout.typed_fields
            else "d.sort_at DESC, d.id"
        )
        return (
            f"SELECT d.id, d.doc{self.text_select(self.layout.text_fields)}, 0.0 FROM {self.tables.table} d"
            f" WHERE {where}{self._excluding() if exclude else ''} ORDER BY {order} LIMIT ?"
        )

    def _excluding(self) -> str:
        fts = self.tables.fts
        return f" AND d.rowid NOT IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)"

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


def term_match(term: Term) -> str:
    """One term as an FTS5 expression: each alternative (the words, or a camelCase word's sub-words)
    a quoted phrase. Words are ``[^\\W_]+`` runs, so no quote or FTS5 syntax can be inside."""
    phrases = ['"' + " ".join(words) + '"' for words in term.alternatives]
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


def build_match_query(terms: Sequence[Term], match_all: bool) -> str:
    """The FTS5 MATCH expression of some terms: all of them, or any."""
    return (" AND " if match_all else " OR ").join(term_match(term) for term in terms)
