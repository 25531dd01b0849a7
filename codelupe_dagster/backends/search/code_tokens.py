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

# An alphanumeric run with a case change inside: lower→Upper ("parseHttp") or an acronym followed by a
# word ("HTTPServer"). Underscores end the run, because unicode61 already splits snake_case there.
_CASE_CHANGING_RUN = re.compile(r"[A-Za-z0-9]*(?:[a-z0-9][A-Z]|[A-Z][A-Z][a-z])[A-Za-z0-9]*")

# Sub-words of one identifier: an acronym before a capitalised word ("HTTP" in "HTTPServer"), a
# capitalised or lowercase word with its trailing digits ("utf8"), an all-caps run, or bare digits.
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")

_WORD = re.compile(r"[^\W_]+")


def split_identifier(identifier: str) -> list[str]:
    """``"parseHTTPRequest2"`` → ``["parse", "http", "request2"]``; snake_case parts are split too."""
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


def camel_subwords(text: str) -> str:
    """The extra FTS column: sub-words of each distinct case-changing identifier, in first-seen order.

    Identifiers are deduplicated because the column only has to make sub-words findable; repeating
    them would cost tokenizing time and inflate term frequencies for bm25. Sub-words of one identifier
    stay adjacent, so a phrase query ``"http request"`` matches ``parseHttpRequest``.
    """
    seen: dict[str, None] = dict.fromkeys(_CASE_CHANGING_RUN.findall(text))
    return "\n".join(" ".join(_SUBWORD.findall(identifier)) for identifier in seen)


def query_alternatives(word: str) -> tuple[str, list[str]]:
    """For one user word: the word itself and, if it changes case, its sub-words (for a phrase)."""
    parts = split_identifier(word) if _CASE_CHANGING_RUN.search(word) else []
    return word, parts if len(parts) > 1 else []
