"""The search query language, parsed the same way for both backends (docs/search.md).

A query is whitespace-separated parts:

- ``word``: a term; a part with punctuation inside (``os.path.join``, ``foo_bar``) is the phrase of
  its words, and a camelCase word also matches its sub-words as a phrase (``HttpRequest``);
- ``"exact phrase"``: the words in this order, next to each other (punctuation between them is free);
- ``-word`` / ``-"a phrase"``: documents holding it are left out;
- ``path:TEXT`` (the path contains TEXT, any case), ``lang:NAME`` (any case), ``repo:OWNER/NAME``;
  repeating one of them means any of the values.

Anything that looks like another query language's operator is refused with a one-line
``QuerySyntaxError`` instead of being searched as text or silently dropped: ``AND``/``OR``/``NOT``
(terms are OR'ed and ranked, ``--all`` requires them all, ``-word`` excludes), other ``field:value``
prefixes, trailing ``*`` wildcards, and an unclosed ``"``. Everything else (brackets, ``+``, ``::``)
is text. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codelupe_dagster.backends.search.code_tokens import split_identifier

OPERATORS = ("path", "lang", "repo")
_ALIASES = {"language": "lang"}
_WORD = re.compile(r"[^\W_]+")
# A part: an optional "-", then a quoted phrase or a run of non-space characters.
_PART = re.compile(r'(-?)"([^"]*)"|(\S+)')
_FIELD = re.compile(r"^(-?)([A-Za-z][A-Za-z_]*):(.*)$")
_BOOLEAN_WORDS = frozenset({"AND", "OR", "NOT"})
_WILDCARD = re.compile(r"\w\*+$")


class QuerySyntaxError(ValueError):
    """A query the language does not support; the message says what to write instead."""


@dataclass(frozen=True)
class Term:
    """One thing to find: ``words`` in order (one word, or a phrase), lowercased.

    ``alternatives`` are the word sequences that count as a match: the words themselves and, for a
    single camelCase word, its sub-words (``httprequest`` or ``http request``)."""

    text: str
    words: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    @classmethod
    def of(cls, text: str) -> Term | None:
        """The term of one typed part, ``None`` when it has no word characters (``+++``)."""
        runs = _WORD.findall(text)
        if not runs:
            return None
        words = tuple(w.lower() for w in runs)
        alternatives = [words]
        if len(runs) == 1:
            parts = tuple(split_identifier(runs[0]))
            if len(parts) > 1 and parts != words:
                alternatives.append(parts)
        return cls(text=text, words=words, alternatives=tuple(alternatives))


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[Term, ...] = ()
    excluded: tuple[Term, ...] = ()
    paths: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    repos: tuple[str, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def has_filters(self) -> bool:
        return bool(self.paths or self.languages or self.repos)

    @property
    def needs_text_check(self) -> bool:
        """Whether the backends' candidates need the shared text check (``matching``): phrases are
        matched approximately by Elasticsearch, and exclusions must be exact on both."""
        return any(t.is_phrase or len(t.alternatives) > 1 for t in (*self.terms, *self.excluded))


def parse_query(query: str) -> ParsedQuery:
    """Parse ``query``; ``QuerySyntaxError`` for what the language does not support."""
    if query.count('"') % 2:
        raise QuerySyntaxError('unclosed quote (") in the query; close it, or leave quotes out')
    terms: list[Term] = []
    excluded: list[Term] = []
    operators: dict[str, list[str]] = {name: [] for name in OPERATORS}
    for match in _PART.finditer(query):
        negated, quoted, bare = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            term = Term.of(quoted)
            if term is not None:
                (excluded if negated else terms).append(term)
            continue
        _check_bare(bare)
        field_match = _FIELD.match(bare)
        if field_match and field_match.group(3) and not field_match.group(3).startswith((":", "/")):
            negated_field, name, value = field_match.groups()
            name = _ALIASES.get(name.lower(), name.lower())
            if name not in OPERATORS:
                raise QuerySyntaxError(
                    f"unknown operator {field_match.group(2)}: (supported: path:, lang:, repo:);"
                    f' to search the text, quote it: "{bare}"'
                )
            if negated_field:
                raise QuerySyntaxError(f"-{name}: is not supported; only words and phrases can be excluded")
            operators[name].append(value.strip('"'))
            continue
        if bare.startswith("-") and len(bare) > 1 and bare[1] not in "-":
            term = Term.of(bare[1:])
            if term is not None:
                excluded.append(term)
            continue
        term = Term.of(bare)
        if term is not None:
            terms.append(term)
    return ParsedQuery(
        terms=_unique(terms),
        excluded=_unique(excluded),
        paths=tuple(dict.fromkeys(operators["path"])),
        languages=tuple(dict.fromkeys(operators["lang"])),
        repos=tuple(dict.fromkeys(operators["repo"])),
        source=query,
    )


def _check_bare(part: str) -> None:
    if part in _BOOLEAN_WORDS:
        raise QuerySyntaxError(
            f"{part} is not an operator here: words are OR'ed and ranked (all-words matches first);"
            " use --all to require every word and -word to exclude one"
        )
    if _WILDCARD.search(part):
        raise QuerySyntaxError(
            f"wildcards are not supported ({part}); words match whole, camelCase and snake_case"
            " parts included"
        )


def _unique(terms: list[Term]) -> tuple[Term, ...]:
    seen: dict[tuple[str, ...], Term] = {}
    for term in terms:
        seen.setdefault(term.words, term)
    return tuple(seen.values())
