"""Code-aware word splitting shared by the search backends and their tests (DESIGN §4).

The analyzer splits on non-word characters and on camelCase and snake_case boundaries, lowercases, and
keeps whole identifiers too, so ``parseHttpRequest`` is found by ``parsehttprequest``, ``http`` and
``request``. SQLite FTS5 cannot load a Python tokenizer through the stdlib driver, so the SQLite backend
lets FTS5's fast built-in ``unicode61`` tokenizer handle the whole words (it already splits on ``_``)
and indexes one extra column holding :func:`camel_subwords` — the sub-words of only those identifiers
that change case, which keeps the extra tokenizing cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from codelupe_dagster._native import camel_subwords as _compiled_camel_subwords

# Sub-words of one identifier: an acronym before a capitalised word ("HTTP" in "HTTPServer"), a
# capitalised or lowercase word, an all-caps run, or digits — split off like Elasticsearch's
# word_delimiter does, so "request" finds "parseRequest2".
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

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

    Compiled (``native/src/subwords.rs``): an identifier is a run of ASCII letters and digits of the
    text's UTF-8 (``surrogatepass``) bytes, so every non-ASCII character separates identifiers; a run
    is kept when it changes case inside (``[a-z0-9][A-Z]`` or ``[A-Z][A-Z][a-z]``, as ``parseHttp``
    and ``HTTPServer``; underscores end an identifier because unicode61 already splits snake_case) and
    split like Elasticsearch's word_delimiter (``[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+``,
    not lowercased). Lines come in order of first occurrence, the same in every process (the Python it
    replaced, ``tests/support/subwords_reference.py``, emitted the same lines in the order of a set
    of ``bytes``, which changes with each process's hash seed); the order changes no match.
    """
    return _compiled_camel_subwords(text)


def query_alternatives(word: str) -> tuple[str, list[str]]:
    """For one user word: the word itself and, when it has camelCase or digit boundaries that a plain
    word tokenizer would not split, its sub-words (to search as a phrase)."""
    parts = split_identifier(word)
    plain = [w.lower() for w in _WORD.findall(word)]
    return word, parts if len(parts) > 1 and parts != plain else []
