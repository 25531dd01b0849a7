"""Which query terms a text holds, the same check for both backends, and the lines that show them.

The backends find candidates and score them (BM25); this module is the one place that decides, from
the text itself, which terms a document holds, so phrases, exclusions, ``--all`` and the ranking tiers
(documents holding more of the terms first) mean the same on SQLite and Elasticsearch. Words are
``[^\\W_]+`` runs, lowercased, as both backends index them; a camelCase identifier's sub-words match
inside that identifier (``http request`` in ``parseHttpRequest``), like the backends' sub-word entries.
Pure: no I/O.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from codelupe_dagster.backends.search.code_tokens import camel_subwords
from codelupe_dagster.backends.search.query_syntax import ParsedQuery, Term

_WORD = re.compile(r"[^\W_]+")
# The sub-word split of code_tokens.split_identifier, with offsets (for marking them in a line).
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_NEWLINE = re.compile("\n")
_CASE_CHANGE = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
MAX_LINE_CHARS = 200

H = TypeVar("H")
_NOTHING = Term(text="", words=(), alternatives=())


class TextWords:
    """The words of a text as two searchable strings: every word in order, and the sub-words of each
    camelCase identifier (kept apart by a separator, so a phrase never spans two identifiers)."""

    def __init__(self, text: str):
        self.text = text
        self.whole = " " + " ".join(_WORD.findall(text.lower())) + " "

    @functools.cached_property
    def sub(self) -> str:
        # code_tokens' fast split (the one the SQLite backend indexes), only when a term needs it.
        return " " + camel_subwords(self.text).lower().replace("\n", " | ") + " "

    def has(self, term: Term) -> bool:
        needles = [" " + " ".join(words) + " " for words in term.alternatives]
        return any(n in self.whole for n in needles) or any(n in self.sub for n in needles)


def rank(
    candidates: Sequence[H], query: ParsedQuery, text_of: Callable[[H], str], match_all: bool, size: int
) -> list[H]:
    """The candidates (best first by the backend's score) that hold no excluded term, hold some term
    (every term with ``match_all``), ordered by how many terms they hold, then as given; at most
    ``size``. Without terms (a filter-only query), candidates keep their order."""
    kept: list[tuple[int, int, H]] = []
    for order, hit in enumerate(candidates):
        words = TextWords(text_of(hit))
        if any(words.has(term) for term in query.excluded):
            continue
        matched = sum(words.has(term) for term in query.terms)
        if query.terms and (matched == 0 or (match_all and matched < len(query.terms))):
            continue
        kept.append((-matched, order, hit))
    kept.sort(key=lambda item: (item[0], item[1]))
    return [hit for _, _, hit in kept[:size]]


@dataclass(frozen=True)
class LineMatch:
    """A numbered line (stripped, cut to ``MAX_LINE_CHARS``) and the ``[start, end)`` spans of the
    query's terms in it."""

    number: int
    text: str
    marks: tuple[tuple[int, int], ...]

    def marked(self, opening: str = "[[", closing: str = "]]") -> str:
        out, at = [], 0
        for start, end in self.marks:
            out += [self.text[at:start], opening, self.text[start:end], closing]
            at = end
        out.append(self.text[at:])
        return "".join(out)


def best_lines(text: str, terms: Sequence[Term], limit: int = 3) -> list[LineMatch]:
    """The ``limit`` lines that hold the most distinct terms (rarer terms in this text count more),
    best first, then in line order. A line qualifies only by whole words or camelCase sub-words, never
    by a substring: ``def foo(`` shows ``def foo(self):``, not a line that merely contains ``food``."""
    if not terms or limit <= 0:
        return []
    firsts = [{words[0] for words in term.alternatives} for term in terms]
    # A line can hold a term only if it holds its first word as a substring: an upper bound on the
    # terms a line holds, found with one str.find per line holding a word; exact spans are then found
    # best line first. Line numbers count "\n" (lower() keeps every "\n", so indexes into `lowered`
    # give the right line even where lowercasing changes a line's length).
    lowered = text.lower()
    starts = [0, *(m.end() for m in _NEWLINE.finditer(lowered))]
    possible_at: dict[int, set[int]] = {}
    for index, first in enumerate(firsts):
        for word in first:
            at = lowered.find(word)
            while at >= 0:
                line_index = bisect.bisect_right(starts, at) - 1
                possible_at.setdefault(line_index, set()).add(index)
                at = lowered.find(word, starts[line_index + 1]) if line_index + 1 < len(starts) else -1
    lines = text.split("\n")
    bounded = [(i + 1, lines[i].rstrip("\r"), frozenset(held)) for i, held in possible_at.items()]
    lines_with = [sum(1 for _, _, possible in bounded if i in possible) or 1 for i in range(len(terms))]

    def weight(number: int, held: Iterable[int]) -> tuple[int, float, int]:
        held = list(held)
        return (-len(held), -sum(1 / lines_with[i] for i in held), number)

    bounded.sort(key=lambda item: weight(item[0], item[2]))
    exact: list[tuple[tuple[int, float, int], int, str, dict[int, list[tuple[int, int]]]]] = []
    for number, line, possible in bounded:
        if len(exact) >= limit and exact[limit - 1][0] <= weight(number, possible):
            break  # no line left can beat the ones found
        spans = _term_spans(line, [terms[i] if i in possible else _NOTHING for i in range(len(terms))])
        if spans:
            exact.append((weight(number, spans), number, line, spans))
            exact.sort(key=lambda item: item[0])
    return [_line_match(number, line, spans) for _, number, line, spans in exact[:limit]]


def _term_spans(line: str, terms: Sequence[Term]) -> dict[int, list[tuple[int, int]]]:
    """Per term index, the spans of its matches in ``line``: runs of whole words, or sub-words inside
    one camelCase identifier."""
    runs = [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(line)]
    words = [word for word, _, _ in runs]
    subs: list[list[tuple[str, int, int]]] = []
    for word, start, _ in runs:
        original = line[start : start + len(word)]
        if _CASE_CHANGE.search(original):
            subs.append(
                [(m.group().lower(), start + m.start(), start + m.end()) for m in _SUBWORD.finditer(original)]
            )
    found: dict[int, list[tuple[int, int]]] = {}
    for index, term in enumerate(terms):
        for alternative in term.alternatives:
            size = len(alternative)
            for at in range(len(words) - size + 1):
                if tuple(words[at : at + size]) == alternative:
                    found.setdefault(index, []).append((runs[at][1], runs[at + size - 1][2]))
            for parts in subs:
                names = [name for name, _, _ in parts]
                for at in range(len(names) - size + 1):
                    if tuple(names[at : at + size]) == alternative:
                        found.setdefault(index, []).append((parts[at][1], parts[at + size - 1][2]))
    return found


def _line_match(number: int, line: str, spans: dict[int, list[tuple[int, int]]]) -> LineMatch:
    marks = _merged(sorted(span for group in spans.values() for span in group))
    lead = len(line) - len(line.lstrip())
    text = line.strip()
    shifted = [(start - lead, end - lead) for start, end in marks]
    cut = 0
    if len(text) > MAX_LINE_CHARS:
        cut = max(0, min(shifted[0][0] - 40, len(text) - MAX_LINE_CHARS))
        text = text[cut : cut + MAX_LINE_CHARS]
    kept = tuple(
        (max(0, start - cut), min(len(text), end - cut)) for start, end in shifted if start - cut < len(text)
    )
    return LineMatch(number=number, text=text, marks=tuple(span for span in kept if span[0] < span[1]))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
