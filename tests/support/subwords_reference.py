"""Frozen copy of `backends/search/code_tokens.camel_subwords` as it was before it was compiled (branch point
of hp-subwords, commit 0df5ff2), the oracle of `tests/backends/search/test_native_subwords.py` and of
`bench/hotpath_speed.py`'s `code_tokens.camel_subwords` row.

Do not "fix" or speed up anything here: the sub-word column is index content (SQLite's extra FTS column,
Elasticsearch's sub-word field, the spool's `content__subwords` hint), so this is the definition of the
string the compiled function must return, line order included (set order of the runs, see the function).
"""

from __future__ import annotations

import functools
import re
from itertools import filterfalse

_CASE_CHANGE = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
_CASE_CHANGE_BYTES = re.compile(_CASE_CHANGE.pattern.encode())

_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

_NON_ALNUM_TO_SPACE = bytes(
    c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else 32 for c in range(256)
)


def camel_subwords(text: str) -> str:
    """The extra FTS column: sub-words of each distinct case-changing identifier, one per line."""
    runs = set(text.encode("utf-8", "surrogatepass").translate(_NON_ALNUM_TO_SPACE).split())
    mixed = filter(_CASE_CHANGE_BYTES.search, filterfalse(bytes.isupper, filterfalse(bytes.islower, runs)))
    return "\n".join(map(_subwords_line, mixed))


@functools.lru_cache(maxsize=65536)
def _subwords_line(run: bytes) -> str:
    return " ".join(_SUBWORD.findall(run.decode("ascii")))
