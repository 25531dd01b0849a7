"""Quality scores of source files: the original `seed_v1` and the language-aware `v2`.

Both combine four signals with the same weights (DESIGN §5): length 0.3, comment ratio 0.3,
docstrings 0.2, complexity 0.2.

- `seed_v1` is the old pipeline's score, kept for comparability. Its thresholds are exactly the
  old ones; the reference documents only the thresholds, so the signal definitions are the
  plainest reading of DESIGN §5: comment lines are non-blank lines *starting* with the
  language's comment marker, complexity counts lines containing a branch or loop keyword.
- `v2` (default) reads each file with a small per-language lexical scanner (comment syntax,
  block comments, Python docstrings, doc comments such as `/** */`, `///`, a comment directly
  above `func`/`def`), and
  * does not credit license headers (the leading comment block when it mentions a license or
    copyright) nor commented-out code as comments, but credits docstring lines;
  * measures complexity over code lines only, so documentation does not dilute it;
  * replaces seed_v1's step functions with piecewise-linear ramps around the same plateaus, so
    one more line or comment never moves the score by 0.3 at once.
  A real parser (tree-sitter) would be more exact but costs ~1 ms per file (DESIGN §5), half
  the per-file budget; this scanner costs ~25 us per KB of source.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat

from codelupe_dagster.core.filters import TextStats


@dataclass(frozen=True)
class QualityResult:
    score: float
    signals: dict = field(default_factory=dict)


# score(text, language, *, stats=None) -> QualityResult
Scorer = Callable[..., QualityResult]

# --------------------------------------------------------------------------- language syntax

_HASH = ("#",)
_SLASH = ("//",)
_C_BLOCK = (("/*", "*/"),)


@dataclass(frozen=True)
class Syntax:
    """What the lexical scanner needs to know about a language."""

    line_comments: tuple[str, ...] = ()
    block_comments: tuple[tuple[str, str], ...] = ()
    doc_block_starts: tuple[str, ...] = ()  # a block comment opened with one of these is documentation
    doc_line_prefixes: tuple[str, ...] = ()  # a line comment with one of these prefixes is documentation
    python_docstrings: bool = False
    # Branch and loop keywords, matched as whole words (see `_word_lines`).
    keywords: frozenset[bytes] = frozenset({b"if", b"for", b"while", b"switch", b"case", b"catch"})
    keywords_ignore_case: bool = False
    # A comment run directly above a line starting with one of these is a doc comment (Go, Ruby,
    # Lua, ...). Prefixes, not a regex: str.startswith is ~5x cheaper per code line.
    definition: tuple[str, ...] = ()


def _kw(*words: str) -> frozenset[bytes]:
    return frozenset(word.encode() for word in words)


_JAVADOC = ("/**", "/*!")
_C_FAMILY = Syntax(
    _SLASH, _C_BLOCK, _JAVADOC, ("///", "//!"), keywords=_kw("if", "for", "while", "switch", "case", "catch")
)
_PHP_DEF = (
    "function ", "public function ", "private function ", "protected function ", "static function ",
    "public static function ", "private static function ", "protected static function ",
    "abstract public function ", "final public function ",
)  # fmt: skip
_JS_DEF = (
    "function ", "function*", "async function ", "class ", "export function ", "export async function ",
    "export class ", "export default function ", "export default class ", "export default async function ",
)  # fmt: skip

SYNTAX: dict[str, Syntax] = {
    "python": Syntax(
        _HASH, python_docstrings=True, keywords=_kw("if", "elif", "for", "while", "except", "case")
    ),
    "c": _C_FAMILY,
    "cpp": _C_FAMILY,
    "objective-c": _C_FAMILY,
    "java": _C_FAMILY,
    "csharp": _C_FAMILY,
    "javascript": Syntax(_SLASH, _C_BLOCK, _JAVADOC, keywords=_C_FAMILY.keywords, definition=_JS_DEF),
    "typescript": Syntax(_SLASH, _C_BLOCK, _JAVADOC, keywords=_C_FAMILY.keywords, definition=_JS_DEF),
    "go": Syntax(
        _SLASH,
        _C_BLOCK,
        keywords=_kw("if", "for", "switch", "select", "case"),
        definition=("func ", "func(", "type "),
    ),
    "rust": Syntax(
        _SLASH,
        _C_BLOCK,
        ("/**", "/*!"),
        ("///", "//!"),
        keywords=_kw("if", "for", "while", "loop", "match"),
    ),
    "kotlin": Syntax(_SLASH, _C_BLOCK, _JAVADOC, keywords=_kw("if", "for", "while", "when", "catch")),
    "swift": Syntax(
        _SLASH,
        _C_BLOCK,
        _JAVADOC,
        ("///",),
        keywords=_kw("if", "guard", "for", "while", "repeat", "switch", "case", "catch"),
    ),
    "scala": Syntax(_SLASH, _C_BLOCK, _JAVADOC, keywords=_kw("if", "for", "while", "match", "case", "catch")),
    "dart": Syntax(_SLASH, _C_BLOCK, _JAVADOC, ("///",), keywords=_C_FAMILY.keywords),
    "groovy": _C_FAMILY,
    "php": Syntax(
        ("//", "#"),
        _C_BLOCK,
        _JAVADOC,
        keywords=_kw("if", "elseif", "for", "foreach", "while", "switch", "case", "catch"),
        definition=_PHP_DEF,
    ),
    "solidity": Syntax(_SLASH, _C_BLOCK, _JAVADOC, ("///",), keywords=_kw("if", "for", "while")),
    "zig": Syntax(_SLASH, (), (), ("///", "//!"), keywords=_kw("if", "for", "while", "switch", "catch")),
    "verilog": Syntax(_SLASH, _C_BLOCK, keywords=_kw("if", "for", "while", "case", "always")),
    "css": Syntax((), _C_BLOCK, keywords=_kw("media")),
    "scss": Syntax(_SLASH, _C_BLOCK, keywords=_kw("if", "for", "each", "while")),
    "ruby": Syntax(
        _HASH,
        (("=begin", "=end"),),
        keywords=_kw("if", "elsif", "unless", "while", "until", "for", "case", "when", "rescue"),
        definition=("def ", "class ", "module "),
    ),
    "shell": Syntax(
        _HASH,
        keywords=_kw("if", "elif", "for", "while", "until", "case"),
        definition=("function ",),
    ),
    "perl": Syntax(
        _HASH,
        (("=pod", "=cut"), ("=head1", "=cut")),
        keywords=_kw("if", "elsif", "unless", "for", "foreach", "while", "until"),
        definition=("sub ",),
    ),
    "r": Syntax(
        _HASH,
        (),
        (),
        ("#'",),
        keywords=_kw("if", "for", "while", "repeat"),
        # R functions are assigned (`f <- function(x)`), not introduced by a keyword.
    ),
    "elixir": Syntax(
        _HASH,
        keywords=_kw("if", "unless", "case", "cond", "with", "for"),
        definition=("def ", "defp ", "defmodule ", "defmacro "),
    ),
    "julia": Syntax(
        _HASH,
        (("#=", "=#"),),
        keywords=_kw("if", "elseif", "for", "while"),
        definition=("function ",),
    ),
    "nim": Syntax(
        _HASH, (("#[", "]#"),), (), ("##",), keywords=_kw("if", "elif", "for", "while", "case", "except")
    ),
    "powershell": Syntax(
        _HASH, (("<#", "#>"),), keywords=_kw("if", "elseif", "for", "foreach", "while", "switch", "catch")
    ),
    "tcl": Syntax(_HASH, keywords=_kw("if", "elseif", "for", "foreach", "while", "switch")),
    "makefile": Syntax(_HASH, keywords=_kw("ifeq", "ifneq", "ifdef", "ifndef", "foreach")),
    "cmake": Syntax(_HASH, keywords=_kw("if", "elseif", "foreach", "while"), keywords_ignore_case=True),
    "dockerfile": Syntax(_HASH, keywords=_kw("if", "for", "while", "case")),
    "lua": Syntax(
        ("--",),
        (("--[[", "]]"),),
        ("--[[",),
        ("---",),
        keywords=_kw("if", "elseif", "for", "while", "repeat"),
        definition=("function ", "local function "),
    ),
    "sql": Syntax(
        ("--",), _C_BLOCK, keywords=_kw("case", "when", "if", "while", "loop"), keywords_ignore_case=True
    ),
    "haskell": Syntax(
        ("--",), (("{-", "-}"),), ("{-|",), ("-- |", "-- ^"), keywords=_kw("if", "case", "guard")
    ),
    "vhdl": Syntax(("--",), keywords=_kw("if", "elsif", "for", "while", "case"), keywords_ignore_case=True),
    "html": Syntax((), (("<!--", "-->"),), keywords=_kw("if", "for", "while", "switch")),
    "vue": Syntax(_SLASH, (("<!--", "-->"), ("/*", "*/")), _JAVADOC, keywords=_C_FAMILY.keywords),
    "svelte": Syntax(_SLASH, (("<!--", "-->"), ("/*", "*/")), _JAVADOC, keywords=_C_FAMILY.keywords),
    "matlab": Syntax(("%",), (("%{", "%}"),), keywords=_kw("if", "elseif", "for", "while", "switch", "case")),
    "erlang": Syntax(("%",), (), (), ("%%",), keywords=_kw("if", "case", "receive", "catch")),
    "fortran": Syntax(("!",), keywords=_kw("if", "do", "select"), keywords_ignore_case=True),
    "clojure": Syntax((";",), keywords=_kw("if", "when", "cond", "case", "loop", "doseq", "for")),
    "assembly": Syntax(
        (";", "#", "//"),
        _C_BLOCK,
        keywords=_kw(
            "jmp",
            "je",
            "jne",
            "jz",
            "jnz",
            "jg",
            "jge",
            "jl",
            "jle",
            "ja",
            "jb",
            "loop",
            "beq",
            "bne",
            "blt",
            "bgt",
            "ble",
            "bge",
            "cbz",
            "cbnz",
        ),
    ),
    "ocaml": Syntax((), (("(*", "*)"),), ("(**",), keywords=_kw("if", "match", "for", "while", "try")),
    "fsharp": Syntax(
        _SLASH, (("(*", "*)"),), (), ("///",), keywords=_kw("if", "match", "for", "while", "try")
    ),
}
# Unknown or unlisted languages: accept the common comment markers of both families.
GENERIC_SYNTAX = Syntax(("#", "//", "--"), _C_BLOCK, _JAVADOC, ("///",))

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


@dataclass
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


def _scan_python(text: str, syntax: Syntax) -> _Counts:
    # Local counters, not `_Counts` attributes: attribute stores made the scan ~7% slower.
    n_non_blank = n_comment = n_doc = n_code = n_keyword = n_license = n_commented_code = 0
    n_docstrings = n_definitions = 0
    keywords = syntax.keywords
    in_string: str | None = None  # the open triple-quote delimiter
    in_docstring = False
    in_header = True  # no code yet: leading comments may be a license header
    header_comments = 0
    header_is_license = False
    expect_docstring = True  # module docstring
    pending_def = False  # a def/class whose signature spans lines
    for raw, words in zip(text.split("\n"), _word_lines(text, False), strict=True):
        s = raw.strip()
        if not s:
            continue
        n_non_blank += 1
        if in_string is not None:
            if in_docstring:
                n_doc += 1
            else:
                n_code += 1
            if in_string in s:
                in_string = None
            continue
        if s[0] == "#":
            if s.startswith(_PRAGMA_STARTS):
                continue
            n_comment += 1
            if in_header:
                header_comments += 1
                header_is_license = header_is_license or _LICENSE_WORDS.search(s) is not None
            elif _is_commented_code(s.lstrip("# ")):
                n_commented_code += 1
            continue
        if in_header:
            in_header = False
            if header_is_license:
                n_license = header_comments
        if expect_docstring:
            expect_docstring = False
            string_start = _PY_STRING_START.match(s)
            if string_start is not None:
                delim = string_start.group(1)
                n_doc += 1
                n_docstrings += 1
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
            for delim in ('"""', "'''"):
                if s.count(delim) % 2 == 1:
                    in_string, in_docstring = delim, False
                    break
        if not keywords.isdisjoint(words.split()):
            n_keyword += 1
    if in_header and header_is_license:
        n_license = header_comments
    return _Counts(
        non_blank=n_non_blank,
        comment=n_comment,
        doc=n_doc,
        code=n_code,
        keyword=n_keyword,
        license=n_license,
        commented_code=n_commented_code,
        docstrings=n_docstrings,
        definitions=n_definitions,
    )


def _scan_generic(text: str, syntax: Syntax) -> _Counts:
    # Local counters, not `_Counts` attributes: attribute stores made the scan ~7% slower.
    n_non_blank = n_comment = n_doc = n_code = n_keyword = n_license = n_commented_code = 0
    n_docstrings = n_definitions = 0
    line_comments = syntax.line_comments
    block_starts = tuple(start for start, _ in syntax.block_comments)
    block_end_of = dict(syntax.block_comments)
    doc_lines = syntax.doc_line_prefixes
    doc_blocks = syntax.doc_block_starts
    keywords = syntax.keywords
    definition = syntax.definition
    in_block: str | None = None  # the end marker of the open block comment
    block_is_doc = False
    in_header = True
    header_comments = 0
    header_is_license = False
    comment_run = 0  # consecutive comment lines just above the current line
    run_is_doc = False
    for raw, words in zip(text.split("\n"), _word_lines(text, syntax.keywords_ignore_case), strict=True):
        s = raw.strip()
        if not s:
            comment_run = 0
            continue
        n_non_blank += 1
        if in_block is not None:
            n_comment += 1
            if block_is_doc:
                n_doc += 1
            elif in_header:
                header_comments += 1
                header_is_license = header_is_license or _LICENSE_WORDS.search(s) is not None
            comment_run += 1
            if in_block in s:
                in_block = None
            continue
        if line_comments and s.startswith(line_comments):
            if s.startswith(_PRAGMA_STARTS):
                continue
            n_comment += 1
            if doc_lines and s.startswith(doc_lines):
                n_doc += 1
                if not run_is_doc:
                    n_docstrings += 1
                run_is_doc = True
            elif in_header:
                header_comments += 1
                header_is_license = header_is_license or _LICENSE_WORDS.search(s) is not None
            elif _is_commented_code(s.lstrip("#/-;%! ")):
                n_commented_code += 1
            comment_run += 1
            continue
        if block_starts and s.startswith(block_starts):
            start = next(b for b in block_starts if s.startswith(b))
            n_comment += 1
            block_is_doc = bool(doc_blocks) and s.startswith(doc_blocks)
            if block_is_doc:
                n_doc += 1
                n_docstrings += 1
                run_is_doc = True
            elif in_header:
                header_comments += 1
                header_is_license = header_is_license or _LICENSE_WORDS.search(s) is not None
            if block_end_of[start] not in s[len(start) :]:
                in_block = block_end_of[start]
            comment_run += 1
            continue
        # A code line.
        if in_header:
            in_header = False
            if header_is_license:
                n_license = header_comments
                comment_run = 0  # the license block is not the first definition's doc
        n_code += 1
        if definition and s.startswith(definition):
            n_definitions += 1
            if comment_run and not run_is_doc:
                n_docstrings += 1
                n_doc += comment_run
        comment_run = 0
        run_is_doc = False
        if not keywords.isdisjoint(words.split()):
            n_keyword += 1
    if in_header and header_is_license:
        n_license = header_comments
    return _Counts(
        non_blank=n_non_blank,
        comment=n_comment,
        doc=n_doc,
        code=n_code,
        keyword=n_keyword,
        license=n_license,
        commented_code=n_commented_code,
        docstrings=n_docstrings,
        definitions=n_definitions,
    )


def scan(text: str, language: str | None) -> _Counts:
    """Line counts of a file read with its language's syntax (see `Syntax`)."""
    syntax = SYNTAX.get(language or "", GENERIC_SYNTAX)
    if syntax.python_docstrings:
        return _scan_python(text, syntax)
    return _scan_generic(text, syntax)


# --------------------------------------------------------------------------- seed_v1

_SEED_KEYWORDS = _kw(
    "if", "elif", "else", "for", "foreach", "while", "switch", "case", "try", "except", "catch"
)
_SEED_COMMENT_PREFIXES: dict[str, tuple[str, ...]] = {
    "python": ("#",), "ruby": ("#",), "shell": ("#",), "perl": ("#",), "r": ("#",),
    "lua": ("--",), "sql": ("--", "/*", "*"), "haskell": ("--",),
}  # fmt: skip
_SEED_C_PREFIXES = ("//", "/*", "*")
_SEED_ANY_PREFIXES = ("#", "//", "/*", "*", "--")


def _round(value: float) -> float:
    return round(value, 4)


def _text_signals(stats: TextStats) -> dict:
    return {
        "max_line_length": stats.max_line_length,
        "mean_line_length": _round(stats.mean_line_length),
        "alnum_fraction": _round(stats.alnum_fraction),
    }


def score_seed_v1(text: str, language: str | None, *, stats: TextStats | None = None) -> QualityResult:
    """The old pipeline's score, thresholds unchanged (see the module docstring)."""
    lines = text.splitlines()
    if language is None:
        prefixes = _SEED_ANY_PREFIXES
    else:
        prefixes = _SEED_COMMENT_PREFIXES.get(language, _SEED_C_PREFIXES)
    # Whole-text counts with C-level `map`s: no Python loop over the lines.
    stripped = list(map(str.strip, text.split("\n")))
    non_blank = len(stripped) - stripped.count("")
    comment_lines = sum(map(str.startswith, stripped, repeat(prefixes)))  # "" starts with no prefix
    no_keyword = map(_SEED_KEYWORDS.isdisjoint, map(bytes.split, _word_lines(text, False)))
    keyword_lines = len(stripped) - sum(no_keyword)
    comment_ratio = comment_lines / non_blank if non_blank else 0.0
    complexity = keyword_lines / non_blank if non_blank else 0.0
    if language == "python":
        has_docstrings = '"""' in text or "'''" in text
    else:
        has_docstrings = "/**" in text or "///" in text or '"""' in text

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
    signals = {
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


def score_v2(text: str, language: str | None, *, stats: TextStats | None = None) -> QualityResult:
    """Language-aware score: same four signals, scanned per language, ramps instead of steps.

    `stats` may be passed when the caller already has them (the content filters compute the
    same line statistics), which saves a pass over the text.
    """
    counts = scan(text, language)
    if stats is None:
        stats = TextStats.of(text)
    non_blank = counts.non_blank
    # Explanations only: comments that are neither license boilerplate nor disabled code, plus
    # docstrings (the doc-comment lines of `comment` are already in it).
    explained = max(0, counts.comment - counts.license - counts.commented_code)
    if SYNTAX.get(language or "", GENERIC_SYNTAX).python_docstrings:
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
    signals = {
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
