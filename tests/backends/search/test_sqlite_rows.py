"""How one document's filterable fields become SQL values (``sqlite_rows.prepare_row``): each kind's
accepted values, as stored, and what is rejected, including the values next to the fast paths for
plain keywords, 64-bit integers and finite floats."""

from __future__ import annotations

from typing import Any

import pytest

from codelupe_dagster.backends.search.base import FieldSpec, IndexSchema
from codelupe_dagster.backends.search.sqlite_layout import SqliteLayout
from codelupe_dagster.backends.search.sqlite_rows import DocumentRejected, prepare_row

SCHEMA = IndexSchema(
    name="typed",
    fields=(
        FieldSpec("content", "code"),
        FieldSpec("tag", "keyword"),
        FieldSpec("count", "int"),
        FieldSpec("score", "float"),
        FieldSpec("flag", "bool"),
        FieldSpec("seen_at", "date"),
    ),
)
LAYOUT = SqliteLayout.of(SCHEMA)


def stored(field: str, value: Any) -> Any:
    """The SQL value ``prepare_row`` gives ``field`` when the document holds ``value``."""
    row = prepare_row(SCHEMA, LAYOUT, {"id": "d", "content": "x", field: value})
    return row[LAYOUT.row_columns.index("f_" + field)]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("tag", "python", "python"),
        ("tag", "", ""),
        ("tag", 5, 5),  # a number in a keyword field is kept as a number, as Elasticsearch keeps it
        ("tag", 2.5, 2.5),
        ("tag", True, True),  # stored as given (SQLite stores 1)
        ("tag", ["a", "b"], b'["a", "b"]'),  # lists are JSON BLOBs that terms() unpacks
        ("count", 7, 7),
        ("count", -(2**63), -(2**63)),
        ("count", 2**63 - 1, 2**63 - 1),
        ("count", 7.0, 7),
        ("count", 7.5, 7.5),
        ("count", "7", 7),
        ("score", 0.25, 0.25),
        ("score", 3, 3),
        ("score", "0.5", 0.5),
        ("flag", True, 1),
        ("flag", False, 0),
        ("flag", "TRUE", 1),
        ("seen_at", "2026-11-28T18:00:00+01:00", "2026-11-28T17:00:00.000000+00:00"),
        ("tag", None, None),
        ("count", None, None),
    ],
)
def test_typed_values_are_stored_as_their_kind_allows(field, value, expected):
    got = stored(field, value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("count", 2**63),
        ("count", -(2**63) - 1),
        ("count", True),  # a bool is not a number here, though Python's bool is an int
        ("count", float("inf")),
        ("count", "many"),
        ("score", float("nan")),
        ("score", float("-inf")),
        ("score", False),
        ("flag", 1),
        ("flag", "yes"),
        ("tag", {"nested": "object"}),
        ("seen_at", "yesterday"),
    ],
)
def test_values_a_kind_cannot_hold_reject_the_document(field, value):
    with pytest.raises(DocumentRejected, match=field):
        stored(field, value)


def test_lenient_keeps_the_document_unfiltered_on_a_field_that_no_longer_fits():
    doc = {"id": "d", "content": "x", "count": "many", "flag": "yes", "tag": "t"}
    row = prepare_row(SCHEMA, LAYOUT, doc, lenient=True)
    columns = LAYOUT.row_columns
    assert (row[columns.index("f_count")], row[columns.index("f_flag")]) == (None, None)
    assert row[columns.index("f_tag")] == "t"
    assert '"count":"many"' in row[columns.index("doc")]  # still stored as written
