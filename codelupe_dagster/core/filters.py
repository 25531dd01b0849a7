"""Hard filters that drop a file with a reason code, in the style of datatrove.

Each rule is a small callable returning `(True, None)` to keep or `(False, "reason")` to drop;
every dropped file is counted under its reason by the caller. Rules run cheapest first:
`check_path` needs only the path and size (before the blob is read), `check_content` the
decoded text. Thresholds come from `language.thresholds_for`: the defaults of
`filter_thresholds`, overridden per language in the language table (`core.languages`).
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from typing import Protocol

from codelupe_dagster._native import content_stats as native_content_stats
from codelupe_dagster._native import encoded_runs as native_encoded_runs
from codelupe_dagster._native import text_stats as native_text_stats

# The reason codes live in `core.drop_reasons`, where readers get them without the filters' imports; the
# pipeline reads them all as `filters.NAME`, so the ones not used here are re-exported (`X as X`).
from codelupe_dagster.core.drop_reasons import (
    ALNUM_FRACTION,
    BINARY,
    DATA_AS_CODE,
    EMPTY,
    GENERATED,
    LOCK_FILE,
    MAX_LINE_LENGTH,
    MEAN_LINE_LENGTH,
    MINIFIED,
    TOO_LARGE,
    UNKNOWN_LANGUAGE,
    VENDORED,
)
from codelupe_dagster.core.drop_reasons import LOW_QUALITY as LOW_QUALITY
from codelupe_dagster.core.drop_reasons import REASONS as REASONS
from codelupe_dagster.core.drop_reasons import UNDECODABLE as UNDECODABLE
from codelupe_dagster.core.filter_thresholds import FilterThresholds
from codelupe_dagster.core.language import may_be_code, thresholds_for

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


def _text_stats(counts: tuple[int, int, int, int], text: str) -> TextStats:
    lines, longest, total, alnum = counts
    return TextStats(
        lines=lines,
        max_line_length=longest,
        mean_line_length=total / lines,
        alnum_fraction=alnum / len(text) if text else 0.0,
    )


@dataclass(frozen=True)
class TextStats:
    """Line statistics shared by the content filters and the quality signals.

    Lines are `text.splitlines()` (an empty text is one line of length 0), lengths in code points;
    alphanumerics are ASCII letters and digits plus every non-ASCII character: in code those are almost
    always letters in comments, strings or identifiers. Counted in one compiled pass
    (`native/src/content_stats.rs`); the divisions stay here.
    """

    lines: int
    max_line_length: int
    mean_line_length: float
    alnum_fraction: float

    @classmethod
    def of(cls, text: str) -> TextStats:
        return _text_stats(native_text_stats(text), text)


@dataclass(frozen=True)
class FileText:
    """What a content rule sees: the decoded text, its language, and its precomputed stats."""

    path: str
    language: str
    text: str
    stats: TextStats
    # `encoded_runs(text)` when the caller measured it with the stats (one compiled pass for both).
    encoded: list[int] | None = None


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
# Base64 runs are maximal runs of 64+ bytes of `A-Za-z0-9+/=` and newline in the UTF-8 text. The two
# regexes run only on the lines that hold a marker (`0x`/`\x`, `\u`) and only when the text holds 8
# markers or more: hex lists without a prefix and escapes without `\u` cannot match. All three are
# measured in Rust (`native/src/content_stats.rs`); the hex regex depends on Python's Unicode `\b` and
# `\s`, so when the marker lines hold non-ASCII text the compiled pass answers None and `_regex_runs`
# below runs the regex itself.
_HEX = re.compile(r"(?:\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,\s*|\b\s*)){8,}")  # StarCoder's, ", " allowed
_UNICODE_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){8,}")
_HEX_MARKERS = ("0x", "\\x")


def _regex_runs(text: str, pattern: re.Pattern[str], markers: tuple[str, ...]) -> list[int]:
    """Lengths of `pattern` matches, searched only in the lines that contain one of `markers`
    (the Python path of the hex pattern on non-ASCII marker lines)."""
    if sum(text.count(marker) for marker in markers) < 8:
        return []
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


def _joined_runs(text: str, runs: tuple[list[int], list[int] | None, list[int]]) -> list[int]:
    base64, hex_runs, unicode = runs
    if hex_runs is None:
        hex_runs = _regex_runs(text, _HEX, _HEX_MARKERS)
    return base64 + hex_runs + unicode


def encoded_runs(text: str) -> list[int]:
    """Lengths of every encoded-data run (base64, hex byte lists, unicode escapes) in the text."""
    return _joined_runs(text, native_encoded_runs(text))


def _no_nul(doc: FileText, limits: FilterThresholds) -> FilterResult:
    return (False, BINARY) if "\x00" in doc.text else KEEP


def _not_empty(doc: FileText, limits: FilterThresholds) -> FilterResult:
    return (False, EMPTY) if not doc.text or doc.text.isspace() else KEEP


def _no_generated_header(doc: FileText, limits: FilterThresholds) -> FilterResult:
    head = "\n".join(
        doc.text[:4000].split("\n", limits.generated_header_lines)[: limits.generated_header_lines]
    )
    # Every alternative holds "generated", and under IGNORECASE a letter of it matches only characters
    # whose lower() is that letter (tests/core/test_native_content_stats.py checks every code point), so
    # a head without "generated" in its lower() cannot match: the case-insensitive regex, which cost
    # more than all the statistics together, runs only on heads that hold the word.
    if "generated" not in head.lower():
        return KEEP
    return (False, GENERATED) if _GENERATED_HEADER.search(head) else KEEP


def _not_encoded_data(doc: FileText, limits: FilterThresholds) -> FilterResult:
    if limits.encoded_fraction is None and limits.encoded_run_max_chars is None:
        return KEEP
    runs = doc.encoded if doc.encoded is not None else encoded_runs(doc.text)
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
    limits = thresholds if thresholds is not None else thresholds_for(language)
    if limits.encoded_fraction is None and limits.encoded_run_max_chars is None:
        stats, encoded = TextStats.of(text), None
    else:
        counts, runs = native_content_stats(text)
        stats, encoded = _text_stats(counts, text), _joined_runs(text, runs)
    doc = FileText(path=path, language=language, text=text, stats=stats, encoded=encoded)
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
