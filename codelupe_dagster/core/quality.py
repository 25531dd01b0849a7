"""Quality scores of source files: the original `seed_v1` and the language-aware `v2`.

Both combine four signals with the same weights (DESIGN §5): length 0.3, comment ratio 0.3,
docstrings 0.2, complexity 0.2.

- `seed_v1` is the old pipeline's score, kept for comparability. Its thresholds are exactly the
  old ones; the reference documents only the thresholds, so the signal definitions are the
  plainest reading of DESIGN §5: comment lines are non-blank lines *starting* with the
  language's comment marker, complexity counts lines containing a branch or loop keyword.
- `v2` (default) reads each file with a small lexical scanner driven by the language's `Syntax`
  (comment syntax, block comments, Python docstrings, doc comments such as `/** */`, `///`, a
  comment directly above `func`/`def`), and
  * does not credit license headers (the leading comment block when it mentions a license or
    copyright) nor commented-out code as comments, but credits docstring lines;
  * measures complexity over code lines only, so documentation does not dilute it;
  * replaces seed_v1's step functions with piecewise-linear ramps around the same plateaus, so
    one more line or comment never moves the score by 0.3 at once.
  A real parser (tree-sitter) would be more exact but costs ~1 ms per file (DESIGN §5), half
  the per-file budget; this scanner costs ~25 us per KB of source.

Every per-language fact (syntax, seed_v1's comment and docstring markers) comes from the language
table (`core.languages`); each function takes `languages=` to read another registry.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import chain, compress, count, repeat
from operator import contains, ge, not_, or_
from typing import Protocol

import hyperscan

from codelupe_dagster.core.filters import TextStats
from codelupe_dagster.core.language_registry import LanguageRegistry
from codelupe_dagster.core.languages import REGISTRY
from codelupe_dagster.core.syntax import Syntax, keywords

# Signal name -> value (line counts, ratios, flags), stored with each indexed file.
Signals = dict[str, int | float | bool]


@dataclass(frozen=True)
class QualityResult:
    score: float
    signals: Signals = field(default_factory=dict)


class Scorer(Protocol):
    def __call__(
        self, text: str, language: str | None, *, stats: TextStats | None = None
    ) -> QualityResult: ...


# --------------------------------------------------------------------------- lexical scanner

_LICENSE_WORDS = re.compile(
    r"licen[cs]e|copyright|spdx|all rights reserved|permission is hereby granted|\(c\)\s*\d{4}|"
    r"warranty|redistribut",
    re.IGNORECASE,
)
# A comment whose body reads as a statement: commented-out code, not an explanation. Checked with
# str methods first; the regex (an assignment) only runs on what is left.
_CODE_ENDINGS = (";", "{", "}", "):", ");", ")")
_CODE_STARTS = (
    "import ", "from ", "#include", "return ", "return;", "print(", "console.", "var ", "let ", "const ",
    "def ", "fn ", "func ", "if (", "if(", "for (", "for(", "while (", "while(", "else", "elif ", "break;",
    "continue;", "self.", "this.",
)  # fmt: skip
_ASSIGNMENT_LIKE = re.compile(r"[\w.\[\]\"']+\s*(?:[-+*/%|&^]?=|:=|<-)\s*[^=\s]")
_PY_DEF_STARTS = ("def ", "class ", "async def ")
_PY_STRING_START = re.compile(r"[rRuUbBfF]{0,2}(\"\"\"|''')")
_PRAGMA_STARTS = (
    "#!",
    "# -*-",
    "#-*-",
    "# vim",
    "# type:",
    "# noqa",
    "# pylint",
    "# pragma",
    "# fmt",
    "//go:",
    "// +build",
    "//go",
    "// eslint",
    "// @ts-",
    "//nolint",
    "// #",
)
# Bytes that can be part of a word: keyword lines are found by splitting each line into words.
_WORD_BYTES = (
    set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$") | set(range(128, 256)) | {0x0A}
)
_WORD_MASK = bytes(c if c in _WORD_BYTES else 0x20 for c in range(256))
_KEYWORD_MARK = b"\x01"  # not a word byte: no masked text holds it
_NOT_MARK_OR_BREAK = bytes(c for c in range(256) if c not in b"\x01\n")


def _word_lines(text: str, ignore_case: bool) -> list[bytes]:
    """Each line of `text` (split on "\\n") with non-word characters turned into spaces.

    `keywords.isdisjoint(line.split())` then tests for whole-word keywords at C speed (seed_v1).
    """
    data = text.encode("utf-8", "surrogatepass")
    if ignore_case:
        data = data.lower()
    return data.translate(_WORD_MASK).split(b"\n")


def _is_commented_code(body: str) -> bool:
    if len(body) < 2:
        return False
    return (
        body.endswith(_CODE_ENDINGS)
        or body.startswith(_CODE_STARTS)
        or _ASSIGNMENT_LIKE.match(body) is not None
    )


@dataclass(frozen=True)
class _Counts:
    non_blank: int = 0
    comment: int = 0  # every comment line, the way seed_v1 would see them
    doc: int = 0  # docstring / doc comment lines
    code: int = 0
    keyword: int = 0
    license: int = 0
    commented_code: int = 0
    docstrings: int = 0  # documented units (docstrings or doc comment blocks)
    definitions: int = 0


def _opened_triple_quote(s: str) -> str | None:
    """The triple-quote delimiter a code line leaves open (an odd count of it), if any."""
    for delim in ('"""', "'''"):
        if s.count(delim) % 2 == 1:
            return delim
    return None


@dataclass(frozen=True)
class _Plan:
    """What the scanners derive from a `Syntax`, built once per syntax (`_plan`)."""

    # Line starts that need the line-by-line logic: comments and block-comment openings. Every
    # other non-blank line outside a block comment is a code line, counted in bulk.
    event_starts: tuple[str, ...]
    # Whether a line can start both with a definition prefix and with an event start (no language
    # today): only then must each comment line be tested for a definition prefix.
    definitions_overlap: bool
    keywords: _KeywordFinder | None  # None: the syntax has no keyword that can match


def _literal(word: bytes) -> bytes:
    """`word` as a Hyperscan expression that matches it literally."""
    return b"".join(b"\\x%02x" % byte for byte in word)


class _KeywordFinder:
    """Finds the lines that hold a branch keyword as a whole word, with Hyperscan.

    Words are those of `_word_lines` (the masked text split on spaces): in the masked text padded
    with a space at both ends, a keyword is a whole word exactly where it sits between two bytes
    from {space, line break}. One Hyperscan pass (SIMD, in C) reports each such place; the callback
    marks it in a copy of the text, and deleting every byte but the marks and the line breaks leaves
    one non-empty line per line with a keyword. A regex alternation over the text cost ~2x more.
    """

    def __init__(self, words: list[bytes]) -> None:
        self.lengths = [len(word) for word in words]
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.database.compile(
            expressions=[
                rb"[ \n]" + b"".join(b"\\x%02x" % byte for byte in word) + rb"[ \n]" for word in words
            ],
            ids=list(range(len(words))),
            elements=len(words),
        )
        # Hyperscan's scratch space may not be shared by two scans at once: one per thread (see secrets.py).
        self.scratch: ContextVar[hyperscan.Scratch | None] = ContextVar(f"keywords_{id(self)}", default=None)

    def line_flags(self, text: str, ignore_case: bool) -> list[bytes]:
        """One item per line of `text.split("\\n")`: empty when the line holds no keyword."""
        data = text.encode("utf-8", "surrogatepass")
        if ignore_case:
            data = data.lower()
        padded = b" " + data.translate(_WORD_MASK) + b" "
        marks = bytearray(padded)
        lengths = self.lengths

        def on_match(word: int, _start: int, end: int, _flags: int, _context: object) -> None:
            marks[end - 1 - lengths[word]] = 1  # the keyword's first byte: on its own line

        scratch = self.scratch.get()
        if scratch is None:
            scratch = hyperscan.Scratch(self.database)
            self.scratch.set(scratch)
        self.database.scan(padded, match_event_handler=on_match, scratch=scratch)
        return bytes(marks).translate(None, _NOT_MARK_OR_BREAK).split(b"\n")


@functools.cache
def _plan(syntax: Syntax) -> _Plan:
    # A keyword is compared with the words of a masked line: one with a byte that the mask turns into
    # a space, or (when case is ignored) with an upper-case letter, never matches; leaving it out keeps that.
    usable = sorted(
        word
        for word in syntax.keywords
        if word
        and all(byte in _WORD_BYTES and byte != 0x0A for byte in word)
        and not (syntax.keywords_ignore_case and word != word.lower())
    )
    starts = syntax.line_comments + tuple(start for start, _ in syntax.block_comments)
    overlap = any(d.startswith(s) or s.startswith(d) for d in syntax.definition for s in starts)
    return _Plan(
        event_starts=starts,
        definitions_overlap=overlap,
        keywords=_KeywordFinder(usable) if usable else None,
    )


def _keyword_flags(text: str, syntax: Syntax) -> list[bytes] | None:
    """Per line, empty unless it holds a keyword (`_KeywordFinder`); None when the syntax has none."""
    finder = _plan(syntax).keywords
    return None if finder is None else finder.line_flags(text, syntax.keywords_ignore_case)


def _flagged(flags: list[bytes] | None, start: int, stop: int) -> int:
    """How many lines in [start, stop) hold a keyword."""
    if flags is None or start >= stop:
        return 0
    part = flags[start:stop]
    return len(part) - part.count(b"")


def _flagged_at(flags: list[bytes] | None, lines: list[int]) -> int:
    """How many of `lines` hold a keyword."""
    if flags is None or not lines:
        return 0
    return len(lines) - list(map(flags.__getitem__, lines)).count(b"")


def _not_pragmas(stripped: list[str], lines: list[int]) -> list[int]:
    """The `lines` that are not pragmas (`# noqa`, `//go:` ...)."""
    pragma = map(str.startswith, map(stripped.__getitem__, lines), repeat(_PRAGMA_STARTS))
    return list(compress(lines, map(not_, pragma)))


def _indices(flags: Iterable[object]) -> list[int]:
    """Positions of the true items, found at C speed."""
    return list(compress(count(), flags))


def _commented_code(stripped: list[str], indices: list[int], marker_chars: str) -> int:
    """How many of the comment lines at `indices` read as disabled code once their markers are removed.

    `_is_commented_code` for all of them with C-level `map`s (a Python call per comment line cost as
    much as the rest of the scan); the regex runs only on the bodies the str tests leave.
    """
    bodies = list(map(str.lstrip, map(stripped.__getitem__, indices), repeat(marker_chars)))
    bodies = list(compress(bodies, map(ge, map(len, bodies), repeat(2))))
    ends = map(str.endswith, bodies, repeat(_CODE_ENDINGS))
    by_str = map(or_, ends, map(str.startswith, bodies, repeat(_CODE_STARTS)))
    rest = list(compress(bodies, map(not_, by_str)))
    return len(bodies) - list(map(_ASSIGNMENT_LIKE.match, rest)).count(None)


def _is_license(lines: Iterable[str]) -> bool:
    return any(_LICENSE_WORDS.search(line) is not None for line in lines)


def _block_end(stripped: list[str], opening: int, end: str, closing: dict[str, list[int]]) -> tuple[int, int]:
    """The line that closes a block (comment or string) opened on line `opening`, the last line when none
    does, and the number of non-blank lines after the opening one up to it.

    `closing` caches, per end marker, the lines holding it.
    """
    holding = closing.get(end)
    if holding is None:
        holding = closing[end] = _indices(map(contains, stripped, repeat(end)))
    after = bisect_right(holding, opening)
    last = holding[after] if after < len(holding) else len(stripped) - 1
    return last, last - opening - stripped[opening + 1 : last + 1].count("")


def _run_after_block(stripped: list[str], opening: int, last: int, run: int) -> int:
    """The comment run after a block comment spanning lines opening..last: blank lines reset it."""
    inside = stripped[opening + 1 : last + 1]
    if "" in inside:
        return inside[::-1].index("")
    return run + 1 + last - opening


def _scan_generic(text: str, syntax: Syntax) -> _Counts:
    """Line counts of a non-Python file.

    The scan's state changes only on comment lines and block comments ("events"), so only those are
    visited one by one, found at C speed (`map` over the stripped lines). Code lines are counted by
    difference: every non-blank line that is not a comment is code; keyword and definition lines
    likewise (all of them, less those inside comments).
    """
    stripped = list(map(str.strip, text.split("\n")))
    n = len(stripped)
    non_blank = n - stripped.count("")
    plan = _plan(syntax)
    flags = _keyword_flags(text, syntax)
    all_keywords = 0 if flags is None else n - flags.count(b"")
    definition = syntax.definition
    definition_lines = _indices(map(str.startswith, stripped, repeat(definition))) if definition else []
    events = _indices(map(str.startswith, stripped, repeat(plan.event_starts))) if plan.event_starts else []
    if not events:  # all code: no comment, hence no header, doc comment or disabled code
        return _Counts(
            non_blank=non_blank, code=non_blank, keyword=all_keywords, definitions=len(definition_lines)
        )
    line_comments, doc_lines = syntax.line_comments, syntax.doc_line_prefixes
    closing: dict[str, list[int]] = {}
    not_code = keyword_comments = definition_comments = (
        0  # comment lines, and those with a keyword/definition
    )
    comments = doc = docstrings = header_lines = 0
    header_is_license = False
    plain: list[int] = []  # explanatory comment lines after the header: tested for disabled code at the end
    in_header = True  # no code yet: leading comments may be a license header
    comment_run = 0  # consecutive comment lines just above the current line
    run_is_doc = False
    done = -1  # the last line already counted
    for i in chain(events, (n,)):
        if i <= done:
            continue  # inside a block comment counted already
        if i > done + 1:  # code and blank lines in between
            k = done + 1
            while k < i and not stripped[k]:
                k += 1
            if k < i:  # line k is code: the first since the last comment
                if k > done + 1:
                    comment_run = 0
                if in_header:
                    in_header = False
                    if header_is_license:
                        comment_run = 0  # the license block is not the first definition's doc
                if comment_run and not run_is_doc and definition and stripped[k].startswith(definition):
                    docstrings += 1
                    doc += comment_run
                run_is_doc = False
            comment_run = 0
        if i == n:
            break
        done = i
        not_code += 1
        if flags is not None and flags[i]:
            keyword_comments += 1
        s = stripped[i]
        if plan.definitions_overlap and s.startswith(definition):
            definition_comments += 1
        if line_comments and s.startswith(line_comments):
            if s.startswith(_PRAGMA_STARTS):
                continue
            comments += 1
            if doc_lines and s.startswith(doc_lines):
                doc += 1
                if not run_is_doc:
                    docstrings += 1
                run_is_doc = True
            elif in_header:
                header_lines += 1
                header_is_license = header_is_license or _LICENSE_WORDS.search(s) is not None
            else:
                plain.append(i)
            comment_run += 1
            continue
        # A block comment opens.
        start, end = next(pair for pair in syntax.block_comments if s.startswith(pair[0]))
        is_doc = bool(syntax.doc_block_starts) and s.startswith(syntax.doc_block_starts)
        comments += 1
        if is_doc:
            doc += 1
            docstrings += 1
            run_is_doc = True
        elif in_header:
            header_lines += 1
            header_is_license = header_is_license or _LICENSE_WORDS.search(s) is not None
        if end in s[len(start) :]:
            comment_run += 1
            continue
        last, inside = _block_end(stripped, i, end, closing)
        comments += inside
        not_code += inside
        keyword_comments += _flagged(flags, i + 1, last + 1)
        if definition:
            definition_comments += bisect_right(definition_lines, last) - bisect_right(definition_lines, i)
        if is_doc:
            doc += inside
        elif in_header and inside:
            header_lines += inside
            header_is_license = header_is_license or _is_license(stripped[i + 1 : last + 1])
        comment_run = _run_after_block(stripped, i, last, comment_run)
        done = last
    return _Counts(
        non_blank=non_blank,
        comment=comments,
        doc=doc,
        code=non_blank - not_code,
        keyword=all_keywords - keyword_comments,
        license=header_lines if header_is_license else 0,
        commented_code=_commented_code(stripped, plain, "#/-;%! "),
        docstrings=docstrings,
        definitions=len(definition_lines) - definition_comments,
    )


def _lines_holding(text: str, marker: str) -> list[int]:
    """Indices of the lines (split on "\\n") holding `marker`, found with str.find: the marker is rare
    next to the lines, so this beats testing every line."""
    found = []
    line = scanned = 0
    position = text.find(marker)
    while position != -1:
        line += text.count("\n", scanned, position)
        found.append(line)
        scanned = text.find("\n", position)
        if scanned == -1:
            break
        position = text.find(marker, scanned)
    return found


def _scan_python(text: str, syntax: Syntax) -> _Counts:
    """Line counts of a Python file.

    Only the lines that can change the scan's state are visited one by one: lines with a triple
    quote, `def`/`class` lines, the line that ends a multi-line signature and the first line after a
    signature (a docstring?). Strings spanning lines are skipped to the line that closes them.
    Comment lines are sorted out in bulk afterwards (those outside strings are comments), and code
    and keyword lines are counted by difference.
    """
    stripped = list(map(str.strip, text.split("\n")))
    n = len(stripped)
    non_blank = n - stripped.count("")
    flags = _keyword_flags(text, syntax)
    starts = _indices(map(str.startswith, stripped, repeat(("#", *_PY_DEF_STARTS))))
    comment_lines = [i for i in starts if stripped[i][0] == "#"]
    closing = {delim: _lines_holding(text, delim) for delim in ('"""', "'''")}
    definitions = [i for i in starts if stripped[i][0] != "#"] if len(comment_lines) < len(starts) else []
    events = sorted(chain(definitions, closing['"""'], closing["'''"]))
    colon_lines: list[int] | None = None  # built when a signature spans lines
    strings: list[tuple[int, int]] = []  # (first, last) line inside each string spanning lines
    n_definitions = doc = docstrings = 0
    not_checked = 0  # docstring and string lines holding a keyword: those do not count
    expect_docstring = True  # module docstring
    pending_def = False  # a def/class whose signature spans lines
    done = -1  # the last line already counted
    position = 0  # in `events`
    while True:
        while position < len(events) and events[position] <= done:
            position += 1
        i = events[position] if position < len(events) else n
        if pending_def:
            if colon_lines is None:
                colon_lines = _indices(map(str.endswith, stripped, repeat(":")))
            after = bisect_right(colon_lines, done)
            if after < len(colon_lines) and colon_lines[after] < i:
                i = colon_lines[after]
        if expect_docstring:  # the next line that is neither blank nor a comment
            k = done + 1
            while k < i and (not stripped[k] or stripped[k][0] == "#"):
                k += 1
            i = k
        if i >= n:
            break
        done = i
        s = stripped[i]
        if s[0] == "#":
            continue  # a comment, counted below
        if expect_docstring:
            expect_docstring = False
            string_start = _PY_STRING_START.match(s)
            if string_start is not None:
                delim = string_start.group(1)
                doc += 1
                docstrings += 1
                not_checked += _flagged(flags, i, i + 1)
                if s.count(delim) == 1:  # a docstring spanning lines: skip to its end
                    done, inside = _block_end(stripped, i, delim, closing)
                    doc += inside
                    strings.append((i + 1, done))
                continue
        if s.startswith(_PY_DEF_STARTS):
            n_definitions += 1
            pending_def = True
        if pending_def and s.endswith(":"):
            pending_def, expect_docstring = False, True
        if '"""' in s or "'''" in s:
            delim = _opened_triple_quote(s)
            if delim is not None:  # a string spanning lines: code, but its keywords do not count
                done, _ = _block_end(stripped, i, delim, closing)
                strings.append((i + 1, done))
    for first, last in strings:
        not_checked += _flagged(flags, first, last + 1)
    if strings:  # comment markers inside strings are string text
        in_strings: set[int] = set()
        for first, last in strings:
            in_strings.update(
                comment_lines[bisect_left(comment_lines, first) : bisect_right(comment_lines, last)]
            )
        comment_lines = [i for i in comment_lines if i not in in_strings]
    # Comments before the first code line may be a license header; the others may be disabled code.
    first_code = 0
    while first_code < n and (not stripped[first_code] or stripped[first_code][0] == "#"):
        first_code += 1
    split = bisect_left(comment_lines, first_code)
    header = _not_pragmas(stripped, comment_lines[:split])
    header_is_license = _is_license(map(stripped.__getitem__, header))
    body_comments = _not_pragmas(stripped, comment_lines[split:])
    keyword_comments = _flagged_at(flags, comment_lines)
    return _Counts(
        non_blank=non_blank,
        comment=len(header) + len(body_comments),
        doc=doc,
        code=non_blank - len(comment_lines) - doc,
        keyword=(0 if flags is None else n - flags.count(b"")) - not_checked - keyword_comments,
        license=len(header) if header_is_license else 0,
        commented_code=_commented_code(stripped, body_comments, "# "),
        docstrings=docstrings,
        definitions=n_definitions,
    )


def scan(text: str, language: str | None, *, languages: LanguageRegistry = REGISTRY) -> _Counts:
    """Line counts of a file read with its language's syntax (see `Syntax`)."""
    return _scan(text, languages.syntax_for(language))


def _scan(text: str, syntax: Syntax) -> _Counts:
    if syntax.python_docstrings:
        return _scan_python(text, syntax)
    return _scan_generic(text, syntax)


# --------------------------------------------------------------------------- seed_v1

_SEED_KEYWORDS = keywords(
    "if", "elif", "else", "for", "foreach", "while", "switch", "case", "try", "except", "catch"
)


def _round(value: float) -> float:
    return round(value, 4)


def _text_signals(stats: TextStats) -> Signals:
    return {
        "max_line_length": stats.max_line_length,
        "mean_line_length": _round(stats.mean_line_length),
        "alnum_fraction": _round(stats.alnum_fraction),
    }


def score_seed_v1(
    text: str,
    language: str | None,
    *,
    stats: TextStats | None = None,
    languages: LanguageRegistry = REGISTRY,
) -> QualityResult:
    """The old pipeline's score, thresholds unchanged (see the module docstring)."""
    lines = text.splitlines()
    seed = languages.seed_syntax_for(language)
    # Whole-text counts with C-level `map`s: no Python loop over the lines.
    stripped = list(map(str.strip, text.split("\n")))
    non_blank = len(stripped) - stripped.count("")
    comment_lines = sum(
        map(str.startswith, stripped, repeat(seed.comment_prefixes))
    )  # "" starts with no prefix
    no_keyword = map(_SEED_KEYWORDS.isdisjoint, map(bytes.split, _word_lines(text, False)))
    keyword_lines = len(stripped) - sum(no_keyword)
    comment_ratio = comment_lines / non_blank if non_blank else 0.0
    complexity = keyword_lines / non_blank if non_blank else 0.0
    has_docstrings = any(marker in text for marker in seed.docstring_markers)

    score = 0.0
    if 50 <= len(lines) <= 500:
        score += 0.3
    elif 20 <= len(lines) <= 1000:
        score += 0.2
    if 0.1 <= comment_ratio <= 0.3:
        score += 0.3
    if has_docstrings:
        score += 0.2
    if 0.1 <= complexity <= 0.5:
        score += 0.2
    signals: Signals = {
        "lines": len(lines),
        "non_blank_lines": non_blank,
        "comment_ratio": _round(comment_ratio),
        "has_docstrings": has_docstrings,
        "complexity": _round(complexity),
        **_text_signals(stats if stats is not None else TextStats.of(text)),
    }
    return QualityResult(score=_round(score), signals=signals)


# --------------------------------------------------------------------------- v2


def _ramp(points: tuple[tuple[float, float], ...], x: float) -> float:
    """Piecewise-linear interpolation through `points` (x ascending); flat beyond the ends."""
    xs = [p[0] for p in points]
    i = bisect_right(xs, x)
    if i == 0:
        return points[0][1]
    if i == len(points):
        return points[-1][1]
    (x0, y0), (x1, y1) = points[i - 1], points[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


# Same plateaus as seed_v1 (full credit at 50-500 lines, ratio 0.1-0.3, complexity 0.1-0.5),
# with linear shoulders instead of cliffs. y is the fraction of the signal's weight.
LENGTH_CURVE = ((5, 0.0), (20, 2 / 3), (50, 1.0), (500, 1.0), (1000, 2 / 3), (3000, 1 / 3))
COMMENT_CURVE = ((0.0, 0.0), (0.1, 1.0), (0.3, 1.0), (0.5, 0.5), (0.8, 0.0))
COMPLEXITY_CURVE = ((0.0, 0.0), (0.1, 1.0), (0.5, 1.0), (0.8, 0.0))
WEIGHTS = {"length": 0.3, "comments": 0.3, "docstrings": 0.2, "complexity": 0.2}


def score_v2(
    text: str,
    language: str | None,
    *,
    stats: TextStats | None = None,
    languages: LanguageRegistry = REGISTRY,
) -> QualityResult:
    """Language-aware score: same four signals, scanned per language, ramps instead of steps.

    `stats` may be passed when the caller already has them (the content filters compute the
    same line statistics), which saves a pass over the text.
    """
    syntax = languages.syntax_for(language)
    counts = _scan(text, syntax)
    if stats is None:
        stats = TextStats.of(text)
    non_blank = counts.non_blank
    # Explanations only: comments that are neither license boilerplate nor disabled code, plus
    # docstrings (the doc-comment lines of `comment` are already in it).
    explained = max(0, counts.comment - counts.license - counts.commented_code)
    if syntax.python_docstrings:
        explained += counts.doc
    # The license header leaves the denominator too: the ratio is that of the file without it.
    counted = non_blank - counts.license
    comment_ratio = explained / counted if counted > 0 else 0.0
    complexity = counts.keyword / counts.code if counts.code else 0.0
    has_docstrings = counts.docstrings > 0
    coverage = min(1.0, counts.docstrings / counts.definitions) if counts.definitions else 1.0

    parts = {
        "length": _ramp(LENGTH_CURVE, stats.lines if text else 0),
        "comments": _ramp(COMMENT_CURVE, comment_ratio),
        "docstrings": (0.5 + 0.5 * coverage) if has_docstrings else 0.0,
        "complexity": _ramp(COMPLEXITY_CURVE, complexity),
    }
    score = sum(WEIGHTS[name] * value for name, value in parts.items())
    signals: Signals = {
        "lines": stats.lines if text else 0,
        "non_blank_lines": non_blank,
        "code_lines": counts.code,
        "comment_ratio": _round(comment_ratio),
        "has_docstrings": has_docstrings,
        "docstring_count": counts.docstrings,
        "definitions": counts.definitions,
        "license_header_lines": counts.license,
        "commented_code_lines": counts.commented_code,
        "complexity": _round(complexity),
        **_text_signals(stats),
    }
    return QualityResult(score=_round(min(1.0, score)), signals=signals)


SCORERS: dict[str, Scorer] = {"seed_v1": score_seed_v1, "v2": score_v2}
