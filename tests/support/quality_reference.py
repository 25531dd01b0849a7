"""A frozen copy of the quality scorers and content filters as they were at commit 4d5b659.

`core/quality.py` and `core/filters.py` were rewritten for speed (issue 12) with the promise of identical
results: the same drop reason for every file, the same `quality.score` and `quality.signals`.
`tests/core/test_quality_equivalence.py` and `bench/quality_speed.py` compare the new code with this one
on real files. Do not edit the functions below: they are the reference, not code in use.
"""

from __future__ import annotations

import bisect
import codecs
import os
import re
from dataclasses import dataclass, field
from itertools import repeat
from typing import Protocol

import numpy as np

from codelupe_dagster.core.filter_thresholds import FilterThresholds
from codelupe_dagster.core.language import may_be_code, thresholds_for
from codelupe_dagster.core.language_registry import LanguageRegistry
from codelupe_dagster.core.languages import REGISTRY
from codelupe_dagster.core.syntax import Syntax, keywords

# =========================================================================== core/filters.py at 4d5b659

# Reason codes: the exact strings stored in counters and metadata.
BINARY = "binary"
UNDECODABLE = "undecodable"
EMPTY = "empty"
TOO_LARGE = "too_large"
VENDORED = "vendored"
GENERATED = "generated"
MINIFIED = "minified"
LOCK_FILE = "lock_file"
DATA_AS_CODE = "data_as_code"
MAX_LINE_LENGTH = "max_line_length"
MEAN_LINE_LENGTH = "mean_line_length"
ALNUM_FRACTION = "alnum_fraction"
UNKNOWN_LANGUAGE = "unknown_language"
LOW_QUALITY = "low_quality"

REASONS: tuple[str, ...] = (
    BINARY, UNDECODABLE, EMPTY, TOO_LARGE, VENDORED, GENERATED, MINIFIED, LOCK_FILE, DATA_AS_CODE,
    MAX_LINE_LENGTH, MEAN_LINE_LENGTH, ALNUM_FRACTION, UNKNOWN_LANGUAGE, LOW_QUALITY,
)  # fmt: skip

DEFAULT_MAX_FILE_BYTES = 1_000_000
BINARY_SNIFF_BYTES = 8192  # git's own heuristic: a NUL byte in the first 8 KB means binary

FilterResult = tuple[bool, str | None]
KEEP: FilterResult = (True, None)


# --------------------------------------------------------------------------- decoding


def is_binary(data: bytes) -> bool:
    return b"\x00" in data[:BINARY_SNIFF_BYTES]


def decode_text(data: bytes) -> str | None:
    """UTF-8 text of a blob, or None when it is binary or not UTF-8.

    Use `is_binary` first to tell the two apart ("binary" vs "undecodable"). Legacy encodings
    are not guessed: a wrong guess would index mojibake, and such files are rare in repos.
    """
    if is_binary(data):
        return None
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------------------- path rules


class PathFilter(Protocol):
    def __call__(self, path: str, size: int) -> FilterResult: ...


# Directory names whose content is someone else's code or a build output.
VENDORED_DIRS = frozenset(
    {
        "vendor", "vendors", "node_modules", "bower_components", "jspm_packages", "third_party",
        "third-party", "thirdparty", "3rdparty", ".git", ".hg", ".svn", "dist", "build",
        "site-packages", "dist-packages", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
        "Pods", "Carthage", ".gradle", ".idea", ".vscode", ".next", ".nuxt", "_vendor",
    }
)  # fmt: skip

LOCK_FILES = frozenset(
    {
        "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
        "bun.lock", "cargo.lock", "poetry.lock", "pipfile.lock", "pdm.lock", "uv.lock",
        "go.sum", "composer.lock", "gemfile.lock", "mix.lock", "pubspec.lock", "podfile.lock",
        "packages.lock.json", "paket.lock", "flake.lock", "gradle.lockfile", "cartfile.resolved",
        "package.resolved", "deno.lock", "conda-lock.yml",
    }
)  # fmt: skip

# Generated file names: protobuf/gRPC stubs, minified bundles, designer and codegen outputs.
_GENERATED_NAME = re.compile(
    r"(?:_pb2(?:_grpc)?\.pyi?|\.pb\.(?:go|cc|h|swift|dart)|_grpc\.pb\.go|\.pb\.gw\.go|"
    r"\.min\.(?:js|css|mjs)|[.\-_]bundle\.js|\.chunk\.js|"
    r"[._]generated\.\w+|\.g\.(?:dart|cs)|\.designer\.cs|\.freezed\.dart|_string\.go|"
    r"\.d\.ts\.map|\.js\.map|\.css\.map)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VendoredPathFilter:
    dirs: frozenset[str] = VENDORED_DIRS

    def __call__(self, path: str, size: int) -> FilterResult:
        # Only directory components count: a file named `build.py` is fine.
        parts = path.replace("\\", "/").split("/")[:-1]
        if any(part in self.dirs for part in parts):
            return False, VENDORED
        return KEEP


@dataclass(frozen=True)
class LockFileFilter:
    names: frozenset[str] = LOCK_FILES

    def __call__(self, path: str, size: int) -> FilterResult:
        if os.path.basename(path).lower() in self.names:
            return False, LOCK_FILE
        return KEEP


@dataclass(frozen=True)
class GeneratedNameFilter:
    def __call__(self, path: str, size: int) -> FilterResult:
        if _GENERATED_NAME.search(os.path.basename(path)):
            return False, GENERATED
        return KEEP


@dataclass(frozen=True)
class FileSizeFilter:
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES  # local: 1 MB; StarCoder dropped > 1 MB too

    def __call__(self, path: str, size: int) -> FilterResult:
        if self.max_file_bytes is not None and size > self.max_file_bytes:
            return False, TOO_LARGE
        return KEEP


@dataclass(frozen=True)
class LanguagePathFilter:
    def __call__(self, path: str, size: int) -> FilterResult:
        return KEEP if may_be_code(path) else (False, UNKNOWN_LANGUAGE)


def path_filters(max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES) -> tuple[PathFilter, ...]:
    return (
        VendoredPathFilter(),
        LockFileFilter(),
        GeneratedNameFilter(),
        FileSizeFilter(max_file_bytes),
        LanguagePathFilter(),
    )


_DEFAULT_PATH_FILTERS = path_filters()


def check_path(path: str, size: int, max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES) -> str | None:
    """Reason to drop a file from its path and size alone, or None to read it.

    Extension-less files pass the language rule here (they may be shebang scripts); the
    caller detects their language from the content.
    """
    rules = (
        _DEFAULT_PATH_FILTERS if max_file_bytes == DEFAULT_MAX_FILE_BYTES else path_filters(max_file_bytes)
    )
    for rule in rules:
        keep, reason = rule(path, size)
        if not keep:
            return reason
    return None


# --------------------------------------------------------------------------- content rules

_ASCII_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def alnum_count(text: str) -> int:
    """Number of alphanumeric characters, counted with bytes.translate (a regex costs ~15x more).

    Non-ASCII characters count as alphanumeric: in code they are almost always letters in
    comments, strings or identifiers, and checking each with str.isalnum() would cost more
    than the whole rest of the filter.
    """
    if text.isascii():
        data = text.encode("ascii")
        return len(data) - len(data.translate(None, _ASCII_ALNUM))
    ascii_part = text.encode("ascii", "ignore")
    return len(ascii_part) - len(ascii_part.translate(None, _ASCII_ALNUM)) + len(text) - len(ascii_part)


# Line breaks of str.splitlines() in ASCII text other than "\n"; text with none of them splits on "\n" alone.
_OTHER_ASCII_BREAKS = b"\r\x0b\x0c\x1c\x1d\x1e"


def _ascii_line_lengths(text: str) -> tuple[int, int, int] | None:
    """(lines, longest, total length) of `text.splitlines()`, computed from newline positions with numpy,
    for ASCII text whose only line break is "\n" (nearly all code); None otherwise. Building one string
    per line just to measure it cost ~0.15 us a line."""
    if not text or not text.isascii():
        return None
    data = text.encode("ascii")
    if len(data.translate(None, _OTHER_ASCII_BREAKS)) != len(data):
        return None
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    ends = np.append(newlines, len(data)) if not text.endswith("\n") else newlines
    starts = np.concatenate(([0], newlines[: len(ends) - 1] + 1))
    lengths = ends - starts
    return len(lengths), int(lengths.max()), int(lengths.sum())


@dataclass(frozen=True)
class TextStats:
    """Line statistics shared by the content filters and the quality signals."""

    lines: int
    max_line_length: int
    mean_line_length: float
    alnum_fraction: float

    @classmethod
    def of(cls, text: str) -> TextStats:
        measured = _ascii_line_lengths(text)
        if measured is None:
            lengths = list(map(len, text.splitlines())) or [0]
            measured = len(lengths), max(lengths), sum(lengths)
        lines, longest, total = measured
        return cls(
            lines=lines,
            max_line_length=longest,
            mean_line_length=total / lines,
            alnum_fraction=alnum_count(text) / len(text) if text else 0.0,
        )


@dataclass(frozen=True)
class FileText:
    """What a content rule sees: the decoded text, its language, and its precomputed stats."""

    path: str
    language: str
    text: str
    stats: TextStats


class ContentFilter(Protocol):
    def __call__(self, doc: FileText, limits: FilterThresholds) -> FilterResult: ...


# BigCode's autogenerated markers plus the Go ("Code generated ... DO NOT EDIT."), Meta
# (@generated) and .NET (<auto-generated>) conventions. A bare "do not edit" is not enough:
# hand-written files say "do not modify this list without ..." too.
_GENERATED_HEADER = re.compile(
    r"code generated .{0,120}do not edit|@generated\b|auto-?generated|<auto-generated|"
    r"automatically generated|generated automatically|this file (?:is|was) generated",
    re.IGNORECASE,
)

# StarCoder's encoded-data patterns: base64 blobs, hex byte lists, \u escapes (64+ chars each).
# Base64 runs are found without a regex: base64 characters become "A" and everything else a
# space (one bytes.translate), then str.find locates runs of 64+ "A"s. A character-class regex
# over the whole text cost ~35 us/KB in CPython, more than the rest of the filters together.
_BASE64_CHARS = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n")
_BASE64_MASK = bytes(0x41 if c in _BASE64_CHARS else 0x20 for c in range(256))
_MIN_ENCODED_RUN = 64
_HEX = re.compile(r"(?:\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,\s*|\b\s*)){8,}")  # StarCoder's, ", " allowed
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){8,}")


def _base64_runs(text: str) -> list[int]:
    """Lengths of the runs of 64+ base64 characters (bytes of UTF-8, equal to chars for ASCII)."""
    mask = text.encode("utf-8", "surrogatepass").translate(_BASE64_MASK)
    runs = []
    start = mask.find(b"A" * _MIN_ENCODED_RUN)
    while start != -1:
        end = mask.find(b" ", start)
        end = len(mask) if end == -1 else end
        runs.append(end - start)
        start = mask.find(b"A" * _MIN_ENCODED_RUN, end)
    return runs


def _regex_runs(text: str, pattern: re.Pattern[str], markers: tuple[str, ...]) -> list[int]:
    """Lengths of `pattern` matches, searched only in the lines that contain one of `markers`.

    Hex lists without `0x`/`\\x` and escapes without `\\u` cannot match, and most files have
    fewer than 8 markers, so the regex rarely runs at all.
    """
    if sum(text.count(marker) for marker in markers) < 8:
        return []
    # The lines holding a marker, found with str.find and skipping to each hit's line end: testing
    # every line of a file with `any(m in line ...)` cost more than all other content rules together.
    lines: dict[int, int] = {}  # line start -> line end
    for marker in markers:
        position = text.find(marker)
        while position != -1:
            end = text.find("\n", position)
            end = len(text) if end == -1 else end
            lines[text.rfind("\n", 0, position) + 1] = end
            position = text.find(marker, end)
    candidates = "\n".join(text[start : lines[start]] for start in sorted(lines))
    return [match.end() - match.start() for match in pattern.finditer(candidates)]


def encoded_runs(text: str) -> list[int]:
    """Lengths of every encoded-data run (base64, hex byte lists, unicode escapes) in the text."""
    return (
        _base64_runs(text)
        + _regex_runs(text, _HEX, ("0x", "\\x"))
        + _regex_runs(text, _UNICODE_ESCAPES, ("\\u",))
    )


def _no_nul(doc: FileText, limits: FilterThresholds) -> FilterResult:
    return (False, BINARY) if "\x00" in doc.text else KEEP


def _not_empty(doc: FileText, limits: FilterThresholds) -> FilterResult:
    return (False, EMPTY) if not doc.text or doc.text.isspace() else KEEP


def _no_generated_header(doc: FileText, limits: FilterThresholds) -> FilterResult:
    head = doc.text[:4000].split("\n", limits.generated_header_lines)[: limits.generated_header_lines]
    return (False, GENERATED) if _GENERATED_HEADER.search("\n".join(head)) else KEEP


def _not_encoded_data(doc: FileText, limits: FilterThresholds) -> FilterResult:
    if limits.encoded_fraction is None and limits.encoded_run_max_chars is None:
        return KEEP
    runs = encoded_runs(doc.text)
    if limits.encoded_run_max_chars is not None and any(run > limits.encoded_run_max_chars for run in runs):
        return False, DATA_AS_CODE
    if limits.encoded_fraction is not None and sum(runs) > limits.encoded_fraction * len(doc.text):
        return False, DATA_AS_CODE
    return KEEP


def _not_minified(doc: FileText, limits: FilterThresholds) -> FilterResult:
    stats = doc.stats
    if (
        limits.minified_mean_line_length is not None
        and stats.mean_line_length > limits.minified_mean_line_length
        and stats.max_line_length > limits.minified_long_line
    ):
        return False, MINIFIED
    return KEEP


def _line_lengths(doc: FileText, limits: FilterThresholds) -> FilterResult:
    if limits.max_line_length is not None and doc.stats.max_line_length > limits.max_line_length:
        return False, MAX_LINE_LENGTH
    if limits.mean_line_length is not None and doc.stats.mean_line_length > limits.mean_line_length:
        return False, MEAN_LINE_LENGTH
    return KEEP


def _alnum_fraction(doc: FileText, limits: FilterThresholds) -> FilterResult:
    if limits.min_alnum_fraction is not None and doc.stats.alnum_fraction < limits.min_alnum_fraction:
        return False, ALNUM_FRACTION
    return KEEP


# Order matters twice: cheap rules first, and the most specific reason wins (a minified bundle
# is "minified", not "max_line_length"; a base64 blob is "data_as_code", not "alnum_fraction").
CONTENT_FILTERS: tuple[ContentFilter, ...] = (
    _no_nul,
    _not_empty,
    _no_generated_header,
    _not_encoded_data,
    _not_minified,
    _line_lengths,
    _alnum_fraction,
)


def check_content_stats(
    path: str, language: str, text: str, thresholds: FilterThresholds | None = None
) -> tuple[str | None, TextStats]:
    """`check_content` that also returns the text stats, so callers need not compute them twice."""
    stats = TextStats.of(text)
    doc = FileText(path=path, language=language, text=text, stats=stats)
    limits = thresholds if thresholds is not None else thresholds_for(language)
    for rule in CONTENT_FILTERS:
        keep, reason = rule(doc, limits)
        if not keep:
            return reason, stats
    return None, stats


def check_content(
    path: str, language: str, text: str, thresholds: FilterThresholds | None = None
) -> str | None:
    """Reason to drop a decoded file from its content, or None to keep it."""
    return check_content_stats(path, language, text, thresholds)[0]


# =========================================================================== core/quality.py at 4d5b659

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
