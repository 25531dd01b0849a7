"""The tables of one logical index in the SQLite file, derived from its schema (DDL and statements).

Layout per logical index ``<name>`` (several live side by side in ``DATA_DIR/index.sqlite``):

- ``"<name>"`` — one row per document: ``id`` (unique), ``sort_at`` (normalised ``indexed_at``, ``''``
  when absent, the keyset-pagination key together with ``id``), ``doc`` (JSON of every field except
  ``id`` and the searched fields, so code is stored once), one ``t_<field>`` column per searched field,
  ``x_subwords`` (camelCase sub-words, see ``code_tokens``) and one ``f_<field>`` column per
  filterable field so ``terms()``, ``max_value()`` and filters run in SQL.
- ``"<name>__fts"`` — an external-content FTS5 table over the text columns, kept exact by the write
  path itself (``sqlite_writes``), not by triggers.
- ``codelupe_index_meta`` — schema and layout version per index, for upgrades.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from functools import cached_property

from codelupe_dagster.backends.search.base import FieldKind, IndexSchema

# Bump when the table layout or the tokenization changes; ensure() then rebuilds the index in place.
LAYOUT_VERSION = 2
# Plain unicode61 (diacritics folded as by default): code is mostly ASCII; folding more cost ~10%.
TOKENIZER = "unicode61"
META_TABLE = "codelupe_index_meta"
SORT_FIELD = "indexed_at"
# Filtered counts (the training sensor's "new files above the quality bar") use this b-tree index;
# language and repo filters scan the small leading columns instead, since each extra index cost ~7%
# of bulk-indexing time.
BTREE_FIELDS = ("quality_score",)

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote(identifier: str) -> str:
    """An SQL identifier, quoted (index names come from configuration)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class SqliteLayout:
    """Column names derived from a schema; identical schemas give identical layouts."""

    text_fields: tuple[str, ...]
    code_fields: tuple[str, ...]
    typed_fields: tuple[str, ...]
    # The kind of each typed field, in ``typed_fields`` order: looked up once, not per document.
    typed_kinds: tuple[FieldKind | None, ...]
    sort_field: str | None

    @classmethod
    def of(cls, schema: IndexSchema) -> SqliteLayout:
        for name in schema.names():
            if not _FIELD.match(name):
                raise ValueError(f"field name {name!r} of schema {schema.name!r} is not an identifier")
        sort_field = SORT_FIELD if schema.kind_of(SORT_FIELD) == "date" else None
        typed_fields = tuple(n for n in schema.filterable() if n != sort_field)
        return cls(
            text_fields=schema.searched(),
            code_fields=schema.names("code"),
            typed_fields=typed_fields,
            typed_kinds=tuple(schema.kind_of(n) for n in typed_fields),
            sort_field=sort_field,
        )

    @property
    def has_subwords(self) -> bool:
        return bool(self.code_fields)

    @property
    def fts_columns(self) -> tuple[str, ...]:
        return tuple(f"t_{n}" for n in self.text_fields) + (("x_subwords",) if self.has_subwords else ())

    @property
    def row_columns(self) -> tuple[str, ...]:
        """The columns a prepared row fills, in the order ``sqlite_rows.prepare_row`` gives them."""
        return ("id", "sort_at", "doc", *self.fts_columns, *(f"f_{n}" for n in self.typed_fields))

    def signature(self) -> str:
        """What the meta table records; a change means the index must be rebuilt."""
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


class SqliteTables:
    """The tables of the index ``name`` under ``layout``: their DDL and the SQL that writes them."""

    def __init__(self, name: str, layout: SqliteLayout):
        self.name = name
        self.layout = layout
        self.table = quote(name)
        self.fts = quote(f"{name}__fts")
        self.staging = quote(f"{name}__upgrading")

    def create(self, conn: sqlite3.Connection) -> None:
        """Create what is missing (``IF NOT EXISTS``), which also repairs a half-deleted index."""
        layout = self.layout
        text_cols = ", ".join(f"{quote(c)} TEXT" for c in layout.fts_columns)
        # Typed columns have no declared type: SQLite then stores each value as given (no coercion),
        # and a list (e.g. topics) is stored as a JSON BLOB that terms() unpacks with json_each.
        typed_cols = ", ".join(quote(f"f_{n}") for n in layout.typed_fields)
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
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})")
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(self.name + '__sort')} ON {self.table} (sort_at, id)"
        )
        for name in BTREE_FIELDS:
            if name in layout.typed_fields:
                index_name, column = quote(f"{self.name}__{name}"), quote(f"f_{name}")
                conn.execute(f"CREATE INDEX IF NOT EXISTS {index_name} ON {self.table} ({column})")
        if layout.fts_columns:
            # FTS5's defaults, measured against the alternatives (issue 12, CPython stdlib): tokenizing
            # is most of the write, so detail=column/none saved <20% of it while phrase queries stop
            # working and bm25 re-tokenizes every matched row (a common word: 10 ms -> 370 ms);
            # columnsize=0 costs the same at query time; pgsz, automerge and crisismerge changed
            # nothing beyond the noise.
            col_list = ", ".join(quote(c) for c in layout.fts_columns)
            conn.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.fts} USING fts5({col_list},"
                f" content={self.table}, content_rowid='rowid', tokenize='{TOKENIZER}')"
            )

    def drop_fts(self, conn: sqlite3.Connection) -> None:
        for suffix in ("ai", "ad", "au"):  # layout 1 kept the FTS table in step with triggers
            conn.execute(f"DROP TRIGGER IF EXISTS {quote(f'{self.name}__fts_{suffix}')}")
        conn.execute(f"DROP TABLE IF EXISTS {self.fts}")

    def drop_btree_indexes(self, conn: sqlite3.Connection) -> None:
        for suffix in ("__sort", *(f"__{n}" for n in BTREE_FIELDS)):
            conn.execute(f"DROP INDEX IF EXISTS {quote(self.name + suffix)}")

    def drop(self, conn: sqlite3.Connection) -> None:
        """Remove the index's tables and its meta row; other indexes in the file stay."""
        self.drop_fts(conn)
        conn.execute(f"DROP TABLE IF EXISTS {self.table}")
        conn.execute(f"DROP TABLE IF EXISTS {self.staging}")
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (META_TABLE,)
        ).fetchone()
        if exists:
            conn.execute(f"DELETE FROM {META_TABLE} WHERE index_name = ?", (self.name,))

    # ------------------------------------------------------------------ statements of one upsert

    @cached_property
    def insert_sql(self) -> str:
        columns = self.layout.row_columns
        return (
            f"INSERT INTO {self.table} (rowid, {', '.join(map(quote, columns))})"
            f" VALUES (?, {', '.join('?' * len(columns))})"
        )

    @cached_property
    def update_sql(self) -> str:
        columns = self.layout.row_columns
        return f"UPDATE {self.table} SET {', '.join(f'{quote(c)} = ?' for c in columns[1:])} WHERE rowid = ?"

    def existing_sql(self, count: int) -> str:
        """rowid, id and the indexed text of ``count`` ids: what an FTS5 'delete' needs."""
        texts = "".join(", " + quote(c) for c in self.layout.fts_columns)
        return f"SELECT rowid, id{texts} FROM {self.table} WHERE id IN ({', '.join('?' * count)})"

    @cached_property
    def fts_delete_sql(self) -> str:
        fts_cols = ", ".join(map(quote, self.layout.fts_columns))
        marks = ", ".join("?" * len(self.layout.fts_columns))
        return f"INSERT INTO {self.fts} ({self.fts}, rowid, {fts_cols}) VALUES ('delete', ?, {marks})"

    @cached_property
    def fts_add_sql(self) -> str:
        fts_cols = ", ".join(map(quote, self.layout.fts_columns))
        marks = ", ".join("?" * len(self.layout.fts_columns))
        return f"INSERT INTO {self.fts} (rowid, {fts_cols}) VALUES (?, {marks})"
