"""Arrow tables from rows of plain Python values, without importing pandas.

`pa.Table.from_pylist` (and `pa.array` on a list) asks pyarrow's pandas shim whether each column is a
pandas object, and the shim answers by importing pandas: ~0.25 s of CPU in every fresh step process
(issue 12 profiled it as the scoring step's largest cost after SQLite). A spool part's columns are only
strings, integers, floats and booleans, whose Arrow layout is a validity bitmap plus one or two plain
buffers, so this module lays those out itself and hands them to `pa.Array.from_buffers`, which never
consults pandas.

A column whose values are not exactly what its type holds (an int in a float column, bytes in a string
column, an int past 64 bits, a string that cannot be encoded), or a type not listed below, goes through
`pa.array` instead: the same values and the same errors as `from_pylist`, at the old cost, for the rare
batch that has one.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from itertools import accumulate
from typing import Any

import numpy as np
import pyarrow as pa

_INT32_MAX = 2**31 - 1


def table_from_rows(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """The table `pa.Table.from_pylist(rows, schema=schema)` builds: a missing key reads as null."""
    arrays = [column_array([row.get(field.name) for row in rows], field.type) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def column_array(values: list[Any], arrow_type: pa.DataType) -> pa.Array:
    """One column as `pa.array(values, type=arrow_type)` builds it."""
    build = _BUILDERS.get(arrow_type)
    built = build(values, arrow_type) if build is not None else None
    return built if built is not None else pa.array(values, type=arrow_type)


def _only(values: list[Any], kind: type) -> bool:
    """Every value is exactly `kind` (no subclass: a bool is not an int here) or None."""
    return set(map(type, values)) <= {kind, type(None)}


def _validity(values: list[Any]) -> tuple[pa.Buffer | None, int]:
    """Arrow's validity bitmap (bit i set: value i is not null) and the null count; no bitmap when
    nothing is null, as Arrow allows."""
    nulls = values.count(None)
    if not nulls:
        return None, 0
    return _bitmap([value is not None for value in values]), nulls


def _bitmap(bits: list[bool]) -> pa.Buffer:
    """Booleans packed least significant bit first, Arrow's bit order."""
    return pa.py_buffer(np.packbits(np.array(bits, dtype=np.bool_), bitorder="little"))


def _strings(values: list[Any], arrow_type: pa.DataType) -> pa.Array | None:
    if not _only(values, str):
        return None
    try:
        encoded = [b"" if value is None else value.encode("utf-8") for value in values]
    except UnicodeEncodeError:
        return None  # pa.array raises its own error for it
    offsets = array("q", accumulate(map(len, encoded), initial=0))
    if arrow_type == pa.string():
        if offsets[-1] > _INT32_MAX:
            return None
        offsets = array("i", offsets)
    validity, nulls = _validity(values)
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(arrow_type, len(values), buffers, null_count=nulls)


def _numbers(kind: type, typecode: str) -> Callable[[list[Any], pa.DataType], pa.Array | None]:
    def build(values: list[Any], arrow_type: pa.DataType) -> pa.Array | None:
        if not _only(values, kind):
            return None
        try:
            data = array(typecode, [kind() if value is None else value for value in values])
        except OverflowError:
            return None
        validity, nulls = _validity(values)
        buffers = [validity, pa.py_buffer(data)]
        return pa.Array.from_buffers(arrow_type, len(values), buffers, null_count=nulls)

    return build


def _booleans(values: list[Any], arrow_type: pa.DataType) -> pa.Array | None:
    if not _only(values, bool):
        return None
    validity, nulls = _validity(values)
    data = _bitmap([value is True for value in values])
    return pa.Array.from_buffers(arrow_type, len(values), [validity, data], null_count=nulls)


_BUILDERS: dict[pa.DataType, Callable[[list[Any], pa.DataType], pa.Array | None]] = {
    pa.string(): _strings,
    pa.large_string(): _strings,
    pa.int64(): _numbers(int, "q"),
    pa.float64(): _numbers(float, "d"),
    pa.bool_(): _booleans,
}
