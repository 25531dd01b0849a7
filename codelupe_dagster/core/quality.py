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

import bisect
import re
from dataclasses import dataclass, field
from itertools import repeat
from typing import Protocol

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


def _word_lines(text: str, ignore_case: bool) -> list[bytes]:
    """Each line of `text` (split on "\\n") with non-word characters turned into spaces.

    `keywords.isdisjoint(line.split())` then tests for whole-word keywords at C speed; a
    per-line regex search cost more than the rest of the scanner together.
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


class _Commentary:
    """The comment and documentation side of one scan, and the scan's result.

    Touched only on comment and docstring lines; the scan loops count code lines in locals
    (attribute stores on every line made the scan ~7% slower).
    """

    __slots__ = ("commented_code", "doc", "docstrings", "header_is_license", "header_lines", "lines")

    def __init__(self) -> None:
        self.lines = self.doc = self.docstrings = self.commented_code = 0
        # Comment lines before any code: a license header when one of them says so.
        self.header_lines = 0
        self.header_is_license = False

    def header(self, s: str) -> None:
        self.header_lines += 1
        if not self.header_is_license and _LICENSE_WORDS.search(s) is not None:
            self.header_is_license = True

    def plain_comment(self, s: str, in_header: bool, marker_chars: str) -> None:
        """A line comment that is not documentation: a header line, disabled code, or an explanation."""
        self.lines += 1
        if in_header:
            self.header(s)
        elif _is_commented_code(s.lstrip(marker_chars)):
            self.commented_code += 1

    def block_comment(self, s: str, in_header: bool) -> None:
        """A line of a block comment that is not documentation."""
        self.lines += 1
        if in_header:
            self.header(s)

    def doc_comment(self, opens_unit: bool) -> None:
        """A doc-comment line; `opens_unit` when it starts a new documented unit."""
        self.lines += 1
        self.doc += 1
        if opens_unit:
            self.docstrings += 1

    def counts(self, non_blank: int, code: int, keyword: int, definitions: int) -> _Counts:
        """The scan's result, given the code-side counts of the scan loop."""
        return _Counts(
            non_blank=non_blank,
            comment=self.lines,
            doc=self.doc,
            code=code,
            keyword=keyword,
            license=self.header_lines if self.header_is_license else 0,
            commented_code=self.commented_code,
            docstrings=self.docstrings,
            definitions=definitions,
        )


def _opened_triple_quote(s: str) -> str | None:
    """The triple-quote delimiter a code line leaves open (an odd count of it), if any."""
    for delim in ('"""', "'''"):
        if s.count(delim) % 2 == 1:
            return delim
    return None


def _scan_python(text: str, syntax: Syntax) -> _Counts:
    n_non_blank = n_code = n_keyword = n_definitions = 0
    notes = _Commentary()
    branch_keywords = syntax.keywords
    in_string: str | None = None  # the open triple-quote delimiter
    in_docstring = False
    in_header = True  # no code yet: leading comments may be a license header
    expect_docstring = True  # module docstring
    pending_def = False  # a def/class whose signature spans lines
    for raw, words in zip(text.split("\n"), _word_lines(text, False), strict=True):
        s = raw.strip()
        if not s:
            continue
        n_non_blank += 1
        if in_string is not None:
            if in_docstring:
                notes.doc += 1
            else:
                n_code += 1
            if in_string in s:
                in_string = None
            continue
        if s[0] == "#":
            if not s.startswith(_PRAGMA_STARTS):
                notes.plain_comment(s, in_header, "# ")
            continue
        in_header = False
        if expect_docstring:
            expect_docstring = False
            string_start = _PY_STRING_START.match(s)
            if string_start is not None:
                delim = string_start.group(1)
                notes.doc += 1
                notes.docstrings += 1
                if s.count(delim) == 1:
                    in_string, in_docstring = delim, True
                continue
        n_code += 1
        if s.startswith(_PY_DEF_STARTS):
            n_definitions += 1
            pending_def = True
        if pending_def and s.endswith(":"):
            pending_def, expect_docstring = False, True
        if '"""' in s or "'''" in s:
            in_string, in_docstring = _opened_triple_quote(s), False
        if not branch_keywords.isdisjoint(words.split()):
            n_keyword += 1
    return notes.counts(n_non_blank, n_code, n_keyword, n_definitions)


def _scan_generic(text: str, syntax: Syntax) -> _Counts:
    n_non_blank = n_code = n_keyword = n_definitions = 0
    notes = _Commentary()
    line_comments, doc_lines = syntax.line_comments, syntax.doc_line_prefixes
    block_starts = tuple(start for start, _ in syntax.block_comments)
    branch_keywords, definition = syntax.keywords, syntax.definition
    in_block: str | None = None  # the end marker of the open block comment
    block_is_doc = False
    in_header = True  # no code yet: leading comments may be a license header
    comment_run = 0  # consecutive comment lines just above the current line
    run_is_doc = False
    for raw, words in zip(text.split("\n"), _word_lines(text, syntax.keywords_ignore_case), strict=True):
        s = raw.strip()
        if not s:
            comment_run = 0
            continue
        n_non_blank += 1
        if in_block is not None:
            if block_is_doc:
                notes.doc_comment(opens_unit=False)
            else:
                notes.block_comment(s, in_header)
            if in_block in s:
                in_block = None
        elif line_comments and s.startswith(line_comments):
            if s.startswith(_PRAGMA_STARTS):
                continue
            if doc_lines and s.startswith(doc_lines):
                notes.doc_comment(opens_unit=not run_is_doc)
                run_is_doc = True
            else:
                notes.plain_comment(s, in_header, "#/-;%! ")
        elif block_starts and s.startswith(block_starts):
            in_block, block_is_doc = _open_block(s, syntax, notes, in_header)
            run_is_doc = run_is_doc or block_is_doc
        else:  # a code line
            if in_header:
                in_header = False
                if notes.header_is_license:
                    comment_run = 0  # the license block is not the first definition's doc
            n_code += 1
            if definition and s.startswith(definition):
                n_definitions += 1
                if comment_run and not run_is_doc:
                    notes.docstrings += 1
                    notes.doc += comment_run
            comment_run = 0
            run_is_doc = False
            if not branch_keywords.isdisjoint(words.split()):
                n_keyword += 1
            continue
        comment_run += 1
    return notes.counts(n_non_blank, n_code, n_keyword, n_definitions)


def _open_block(s: str, syntax: Syntax, notes: _Commentary, in_header: bool) -> tuple[str | None, bool]:
    """Count the first line of a block comment.

    Returns the block's end marker when the block stays open (else None), and whether it is documentation.
    """
    start, end = next(pair for pair in syntax.block_comments if s.startswith(pair[0]))
    is_doc = bool(syntax.doc_block_starts) and s.startswith(syntax.doc_block_starts)
    if is_doc:
        notes.doc_comment(opens_unit=True)
    else:
        notes.block_comment(s, in_header)
    return (None if end in s[len(start) :] else end), is_doc


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
    i = bisect.bisect_right(xs, x)
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
