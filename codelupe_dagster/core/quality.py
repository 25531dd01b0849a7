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
  the per-file budget. The scanner's line loop is compiled (`native/`, Rust: `_native.Scanner`);
  `score_v2` runs at ~100 MB/s of source, 5.5x the Python scanner (`bench/quality_speed.py`).

Every per-language fact (syntax, seed_v1's comment and docstring markers) comes from the language
table (`core.languages`); each function takes `languages=` to read another registry.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass, field
from itertools import repeat
from typing import Protocol

from codelupe_dagster import _native
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


@functools.cache
def _scanner(syntax: Syntax) -> _native.Scanner:
    """The compiled scanner for one syntax, built once per process (a `Syntax` is frozen and hashable).

    Its per-line rules are those of the Python scanner of commit 4d5b659
    (`tests/support/quality_reference.py`), which the equivalence tests hold it to:

    - Python (`python_docstrings`): docstrings (module, and after each `def`/`class` whose signature
      ends with `:`) count as documentation; a triple-quoted string left open by a code line keeps the
      following lines code; `#` lines other than pragmas are comments.
    - Every other syntax: line comments (doc-comment prefixes open a documented unit), block comments
      (doc block starts are documentation), and a comment run directly above a `definition` line
      documents it unless the run was the license header.
    - Leading comments form the header, a license header when one of its lines matches
      `_LICENSE_WORDS`; a comment body that reads as a statement (`_CODE_ENDINGS`, `_CODE_STARTS`,
      `_ASSIGNMENT_LIKE`) is commented-out code; a code line with a whole-word branch keyword counts
      towards complexity.

    The two patterns go along so that Python decides where the answer depends on how it classifies a
    non-ASCII character (`\\w`, case folding); the compiled code matches them itself on ASCII.
    """
    return _native.Scanner(
        line_comments=syntax.line_comments,
        block_comments=syntax.block_comments,
        doc_block_starts=syntax.doc_block_starts,
        doc_line_prefixes=syntax.doc_line_prefixes,
        python_docstrings=syntax.python_docstrings,
        keywords=sorted(syntax.keywords),
        keywords_ignore_case=syntax.keywords_ignore_case,
        definition=syntax.definition,
        pragma_starts=_PRAGMA_STARTS,
        code_starts=_CODE_STARTS,
        code_endings=_CODE_ENDINGS,
        def_starts=_PY_DEF_STARTS,
        license_search=_LICENSE_WORDS.search,
        assignment_match=_ASSIGNMENT_LIKE.match,
    )


def scan(text: str, language: str | None, *, languages: LanguageRegistry = REGISTRY) -> _Counts:
    """Line counts of a file read with its language's syntax (see `Syntax`)."""
    return _scan(text, languages.syntax_for(language))


def _scan(text: str, syntax: Syntax) -> _Counts:
    return _Counts(*_scanner(syntax).scan(text))


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
