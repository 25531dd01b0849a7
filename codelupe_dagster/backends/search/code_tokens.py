"""Code-aware word splitting shared by the search backends and their tests (DESIGN §4).

The analyzer splits on non-word characters and on camelCase and snake_case boundaries, lowercases, and
keeps whole identifiers too, so ``parseHttpRequest`` is found by ``parsehttprequest``, ``http`` and
``request``. SQLite FTS5 cannot load a Python tokenizer through the stdlib driver, so the SQLite backend
lets FTS5's fast built-in ``unicode61`` tokenizer handle the whole words (it already splits on ``_``)
and indexes one extra column holding :func:`camel_subwords` — the sub-words of only those identifiers
that change case, which keeps the extra tokenizing cheap.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from itertools import filterfalse
from typing import Any

# A case change inside one identifier: lower→Upper ("parseHttp") or an acronym followed by a word
# ("HTTPServer"). Underscores end an identifier here, because unicode61 already splits snake_case.
_CASE_CHANGE = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
_CASE_CHANGE_BYTES = re.compile(_CASE_CHANGE.pattern.encode())

# Sub-words of one identifier: an acronym before a capitalised word ("HTTP" in "HTTPServer"), a
# capitalised or lowercase word, an all-caps run, or digits — split off like Elasticsearch's
# word_delimiter does, so "request" finds "parseRequest2".
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# bytes.translate + split finds ASCII alphanumeric runs ~5x faster than any `re` scan (measured on
# CPython's Lib: 49 MB/s against 9-10 MB/s), which matters because this runs on every indexed byte.
_NON_ALNUM_TO_SPACE = bytes(
    c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else 32 for c in range(256)
)

_WORD = re.compile(r"[^\W_]+")


def split_identifier(identifier: str) -> list[str]:
    """``"parseHTTPRequest2"`` → ``["parse", "http", "request", "2"]``; snake_case parts are split too."""
    return [part.lower() for part in _SUBWORD.findall(identifier)]


def code_words(text: str) -> list[str]:
    """The DESIGN §4 analyzer as a reference: whole words plus their camelCase sub-words, lowercased.

    Each word is followed by its sub-words when it has more than one, mirroring what an Elasticsearch
    ``word_delimiter_graph`` filter with ``preserve_original`` emits.
    """
    words: list[str] = []
    for word in _WORD.findall(text):
        words.append(word.lower())
        parts = split_identifier(word)
        if len(parts) > 1:
            words.extend(parts)
    return words


# The indexing hint of a searched field ``f``: ``f__subwords`` holds ``camel_subwords`` of its text,
# computed where the text was made (the scoring workers) so that the indexing process does not tokenize
# it again. Not a document field: the spool carries it next to the document, both backends read and
# drop it (never stored, never returned), and compute the sub-words themselves when it is absent.
SUBWORDS_HINT_SUFFIX = "__subwords"


def subwords_hint_key(field: str) -> str:
    """The document key of ``field``'s sub-word hint."""
    return field + SUBWORDS_HINT_SUFFIX


def hinted_subwords(doc: Mapping[str, Any], field: str, text: str) -> str:
    """``camel_subwords(text)`` for ``doc[field] == text``: the document's hint when it has one."""
    hint = doc.get(field + SUBWORDS_HINT_SUFFIX)
    return hint if isinstance(hint, str) else camel_subwords(text)


def camel_subwords(text: str) -> str:
    """The extra FTS column: sub-words of each distinct case-changing identifier, one per line.

    Identifiers are deduplicated because the column only has to make sub-words findable; repeating
    them would cost tokenizing time and inflate term frequencies for bm25. Sub-words of one identifier
    stay adjacent, so a phrase query ``"http request"`` matches ``parseHttpRequest``.
    """
    runs = set(text.encode("utf-8", "surrogatepass").translate(_NON_ALNUM_TO_SPACE).split())
    # The filter chain runs in C: dropping the all-lower and all-upper runs (most of them) without a
    # Python-level loop doubled the throughput. Line order is arbitrary (set order); it changes no
    # match, and the SQLite backend reuses the stored column when the text is unchanged.
    mixed = filter(_CASE_CHANGE_BYTES.search, filterfalse(bytes.isupper, filterfalse(bytes.islower, runs)))
    return "\n".join(map(_subwords_line, mixed))


@functools.lru_cache(maxsize=65536)
def _subwords_line(run: bytes) -> str:
    # Identifiers repeat across files (self, getLogger, assertEqual), so caching the split pays.
    return " ".join(_SUBWORD.findall(run.decode("ascii")))


def query_alternatives(word: str) -> tuple[str, list[str]]:
    """For one user word: the word itself and, when it has camelCase or digit boundaries that a plain
    word tokenizer would not split, its sub-words (to search as a phrase)."""
    parts = split_identifier(word)
    plain = [w.lower() for w in _WORD.findall(word)]
    return word, parts if len(parts) > 1 and parts != plain else []
