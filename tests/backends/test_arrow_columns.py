"""`table_from_rows` builds the table `pa.Table.from_pylist` builds (tests/assets/test_score_spool_imports.py:
without pandas)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from codelupe_dagster.backends.arrow_columns import column_array, table_from_rows
from codelupe_dagster.backends.spool import CODE_DOC_SCHEMA

COLUMNS: list[tuple[pa.DataType, list[Any]]] = [
    (pa.string(), ["a", None, "é€𝄞", "", None, "x" * 100]),
    (pa.large_string(), ["def f():\n    pass\n", None, "", "日本語"]),
    (pa.large_string(), [None, None, None]),
    (pa.string(), []),
    (pa.int64(), [0, -1, 2**63 - 1, -(2**63), None, 7]),
    (pa.float64(), [0.0, -1.5, None, float("inf"), 1e-300]),
    (pa.bool_(), [True, False, None, True, True, False, False, True, False, None]),
    (pa.bool_(), [True] * 17),
    # Values outside the fast paths: pyarrow's own conversion.
    (pa.float64(), [1, 2.5, None]),
    (pa.string(), [b"bytes", "str"]),
    (pa.int32(), [1, None, 3]),
]


@pytest.mark.parametrize(("arrow_type", "values"), COLUMNS)
def test_column_equals_pyarrows_own(arrow_type: pa.DataType, values: list[Any]) -> None:
    built = column_array(values, arrow_type)
    built.validate(full=True)
    assert built.equals(pa.array(values, type=arrow_type))
    assert built.to_pylist() == pa.array(values, type=arrow_type).to_pylist()


@pytest.mark.parametrize(
    ("arrow_type", "values"),
    [
        (pa.int64(), [2**64]),
        (pa.int64(), [True, 3]),
        (pa.string(), ["\ud800"]),
        (pa.string(), [3]),
        (pa.bool_(), [1]),
    ],
)
def test_unconvertible_values_raise_as_pyarrow_does(arrow_type: pa.DataType, values: list[Any]) -> None:
    with pytest.raises(Exception) as expected:
        pa.array(values, type=arrow_type)
    with pytest.raises(expected.type):
        column_array(values, arrow_type)


def test_table_equals_from_pylist_on_spool_rows() -> None:
    rows = [
        {
            "id": "1",
            "repo": "o/r",
            "path": "a.py",
            "content": "x = 1\n",
            "size_bytes": 6,
            "quality_score": 0.5,
        },
        {"id": "2", "repo": "o/r", "path": "b.go", "content": "package b\n", "repo_stars": 10, "lines": 1},
        {"id": "3", "path": "ü.js", "content__subwords": "ab cd", "quality_signals": '{"a": 1}'},
    ]
    built = table_from_rows(rows, CODE_DOC_SCHEMA)
    built.validate(full=True)
    assert built.equals(pa.Table.from_pylist(rows, schema=CODE_DOC_SCHEMA))
