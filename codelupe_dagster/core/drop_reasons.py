"""The reason codes a hard filter drops a file with (`core.filters`): the exact strings stored in counters,
metadata and the dropped-file samples.

A module of their own so a reader of those records (`codelupe dropped`) gets the names without importing the
filters, which load the native extension and the language tables (a third of that command's start-up).
"""

from __future__ import annotations

BINARY = "binary"
UNDECODABLE = "undecodable"
EMPTY = "empty"
TOO_LARGE = "too_large"
VENDORED = "vendored"
GENERATED = "generated"
MINIFIED = "minified"
LOCK_FILE = "lock_file"
DATA_AS_CODE = "data_as_code"
MAX_LINE_LENGTH = "max_line_length"
MEAN_LINE_LENGTH = "mean_line_length"
ALNUM_FRACTION = "alnum_fraction"
UNKNOWN_LANGUAGE = "unknown_language"
LOW_QUALITY = "low_quality"

REASONS: tuple[str, ...] = (
    BINARY, UNDECODABLE, EMPTY, TOO_LARGE, VENDORED, GENERATED, MINIFIED, LOCK_FILE, DATA_AS_CODE,
    MAX_LINE_LENGTH, MEAN_LINE_LENGTH, ALNUM_FRACTION, UNKNOWN_LANGUAGE, LOW_QUALITY,
)  # fmt: skip
