"""The compiled content statistics and normalisation (`native/src/content_stats.rs`) are the ones in use,
and they give exactly the answers of the Python they replaced (`tests/support/content_stats_reference.py`):
the same drop reason, the same `TextStats` (floats equal, not approximately), the same encoded-data runs
and the same normalised text, on every Python file of CPython's standard library and every Go file of Go's
tree found at run time, on every code point, and on adversarial texts (base64 blobs, hex dumps, `\\u`
escapes, minified one-line JavaScript, CRLF and the other line breaks, NUL, lone surrogates, non-ASCII
letters, digits, combining marks and whitespace).
"""

from __future__ import annotations

import importlib
import random
import re
from dataclasses import astuple, replace

import pytest

from codelupe_dagster.core import dedup, filters
from codelupe_dagster.core.filter_thresholds import DEFAULT_THRESHOLDS, FilterThresholds
from tests.support import content_stats_reference as reference
from tests.support.hotpath_reference import real_corpus

# Thresholds under which the encoded-data, minified and line rules decide often, and with the
# encoded-data rule off (the stats-only pass).
_STRICT = FilterThresholds(
    max_line_length=80,
    mean_line_length=30.0,
    min_alnum_fraction=0.6,
    minified_mean_line_length=40.0,
    minified_long_line=60,
    encoded_run_max_chars=70,
    encoded_fraction=0.05,
    generated_header_lines=3,
)
_NO_ENCODED = replace(DEFAULT_THRESHOLDS, encoded_fraction=None, encoded_run_max_chars=None)
_THRESHOLDS = (None, _STRICT, _NO_ENCODED)


def _assert_same(text: str, language: str = "python", path: str = "x.py") -> None:
    where = (path, text[:200])
    for limits in _THRESHOLDS:
        reason, stats = filters.check_content_stats(path, language, text, limits)
        old_reason, old_stats = reference.check_content_stats(path, language, text, limits)
        assert (reason, astuple(stats)) == (old_reason, astuple(old_stats)), where
    assert astuple(filters.TextStats.of(text)) == astuple(reference.TextStats.of(text)), where
    assert filters.encoded_runs(text) == reference.encoded_runs(text), where
    assert dedup.normalize_content(text) == reference.normalize_content(text), where


def test_native_functions_are_built_and_used() -> None:
    # No fallback: without the extension (`pip install -e .` builds it from native/) neither module imports.
    native = importlib.import_module("codelupe_dagster._native")
    assert filters.native_content_stats is native.content_stats
    assert filters.native_text_stats is native.text_stats
    assert filters.native_encoded_runs is native.encoded_runs
    assert isinstance(dedup._NORMALIZER, native.Normalizer)
    # Only the compiled normaliser hands back an already normalised text itself.
    text = "def f():\n    return 1\n" * 3
    assert dedup.normalize_content(text) is text
    assert reference.normalize_content(text) is not text


def test_whitespace_table_is_pythons_for_every_code_point() -> None:
    assert dedup._whitespace() == [code for code in range(0x110000) if chr(code).isspace()]


def test_every_code_point_breaks_strips_and_counts_as_python_does() -> None:
    """Every code point as a line's content, at a line's end, next to CRLF: any code point the compiled
    pass classed otherwise than Python (line break, alphanumeric, whitespace) changes its block's answer."""
    wrong = []
    for block in range(0, 0x110000, 256):
        chars = [chr(code) for code in range(block, block + 256)]
        for text in (
            "".join(f"a{char}b" for char in chars),
            "".join(f"a {char}\n" for char in chars),
            "".join(f"{char}\r\n{char}\t{char}" for char in chars),
        ):
            same_stats = astuple(filters.TextStats.of(text)) == astuple(reference.TextStats.of(text))
            if not same_stats or dedup.normalize_content(text) != reference.normalize_content(text):
                wrong.append((hex(block), text[:20]))
    assert wrong == []


def _top_level_alternatives(pattern: str) -> list[str]:
    alternatives, depth, start = [], 0, 0
    for position, char in enumerate(pattern):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0 and pattern[position - 1] != "\\":
            alternatives.append(pattern[start:position])
            start = position + 1
    return [*alternatives, pattern[start:]]


def test_generated_header_prefilter_holds_for_every_code_point() -> None:
    """`_no_generated_header` skips its regex when "generated" is not in the head's lower(): that is sound
    only if every alternative holds the word and every character the IGNORECASE pattern matches to one of
    its letters lowers to that letter."""
    alternatives = _top_level_alternatives(filters._GENERATED_HEADER.pattern)
    assert len(alternatives) == 7
    assert all("generated" in alternative for alternative in alternatives), alternatives
    assert filters._GENERATED_HEADER.flags & re.IGNORECASE
    everything = "".join(map(chr, range(0x110000)))
    for letter in set("generated"):
        matched = {m.group() for m in re.finditer(f"(?i){letter}", everything)}
        assert {char.lower() for char in matched} == {letter}, letter
    heads = (
        "// Code GENERATED by x. DO NOT EDIT.",
        "# This file WAS GeNeRaTeD",
        "/* @generated */",
        "<auto-generated>",
    )
    for head in heads:
        text = head + "\npackage x\n"
        assert reference.check_content_stats("x.go", "go", text)[0] == filters.GENERATED
        assert filters.check_content("x.go", "go", text) == filters.GENERATED


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    files = real_corpus(python_files=10**6, go_files=10**6)
    if not files:
        pytest.skip("no CPython standard library found")
    return files


def test_equal_reference_on_every_stdlib_and_go_file(corpus: list[tuple[str, str]]) -> None:
    reasons: set[str | None] = set()
    fallbacks = 0
    for path, text in corpus:
        language = "go" if path.endswith(".go") else "python"
        _assert_same(text, language, path)
        reasons.add(filters.check_content_stats(path, language, text)[0])
        fallbacks += filters.native_encoded_runs(text)[1] is None
    assert None in reasons and len(reasons) > 1, "the corpus keeps files and drops some"
    # The hex regex runs in Python only on marker lines with non-ASCII text: rare in real code.
    assert fallbacks < len(corpus) // 100


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_FRAGMENTS = (
    "x", "é", "变量", "\u0663", "\u00b2", "\u0301", "e\u0301", "\u093e", "_", "$", " ", "  ", "\t", "\n",
    "\n\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029", "\xa0",
    "\u3000",
    "\u200b", "\ufeff", "\x00", "\ud800", "\udfff", "\udc80", "\U0001f600", "0x", "0x1f", "0xAB, ", "\\x",
    "\\x0a", "\\u00e9", "\\u", "12", "ab", "fg", ",", ", ", "=", "+", "/", "{", "}", ";", "a,b", "\\",
    "def f():", "return 1", "var a=function(b){return b+1};",
)  # fmt: skip


def _random_text(rng: random.Random, fragments: tuple[str, ...] = _FRAGMENTS) -> str:
    parts = [rng.choice(fragments) for _ in range(rng.randint(0, 40))]
    if rng.random() < 0.3:
        parts.insert(
            rng.randint(0, len(parts)), "".join(rng.choice(_B64 + "\n") for _ in range(rng.randint(50, 300)))
        )
    if rng.random() < 0.3:
        sep = rng.choice((", ", ",", " ", "", ",\n", "\n", ", \x1c"))
        prefix = rng.choice(("0x", "\\x", ""))
        hexes = [f"{prefix}{rng.randrange(256):02{rng.choice('xX')}}" for _ in range(rng.randint(4, 40))]
        parts.insert(rng.randint(0, len(parts)), sep.join(hexes))
    if rng.random() < 0.2:
        parts.insert(
            rng.randint(0, len(parts)),
            "".join(f"\\u{rng.randrange(65536):04x}" for _ in range(rng.randint(4, 20))),
        )
    return "".join(parts)


def test_random_texts_equal_reference() -> None:
    rng = random.Random(12)
    for _ in range(20000):
        _assert_same(_random_text(rng))


def _only_newline_breaks(fragment: str) -> bool:
    """No byte of a break other than `\\n` (nor 0xC2/0xE2, which may start one): the compiled word-at-a-time
    path; the other texts take the byte loop."""
    return not set(fragment.encode("utf-8", "surrogatepass")) & set(b"\r\x0b\x0c\x1c\x1d\x1e\xc2\xe2")


def test_random_texts_with_newline_breaks_only_equal_reference() -> None:
    fragments = tuple(filter(_only_newline_breaks, _FRAGMENTS))
    assert "é" in fragments and "\ud800" in fragments and "\n" in fragments
    rng = random.Random(13)
    for _ in range(20000):
        _assert_same(_random_text(rng, fragments))


_HEX_NOISE = (
    "0x", "\\x", "0", "1", "a", "F", "9", "g", "x", "_", ",", " ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\r",
    "123", ";", ".", "\\", "0x0x", "\\\\x",
)  # fmt: skip
# Mostly separators the pattern allows; "", ";" and ",," end a list.
_HEX_SEPARATORS = (", ",) * 8 + (",", " ", ",\n", "\n", "\t", ",  ", ", \x1c", "\x0b", "", ";", ",,")


_HEX_PREFIXES = ("0x", "0x", "\\x", "", "0X")


def _hex_text(rng: random.Random) -> str:
    """Hex-list-like texts: byte tokens with or without a prefix, separators, and some noise."""
    parts = []
    style = rng.choice(_HEX_PREFIXES)  # mostly one prefix per text: a list mixing them breaks
    for _ in range(rng.randint(4, 60)):
        if rng.random() < 0.04:
            parts.append(rng.choice(_HEX_NOISE))
        else:
            prefix = style if rng.random() < 0.9 else rng.choice(_HEX_PREFIXES)
            # `\\b\\\\x` needs a word character before the backslash: escapes chain only when adjacent.
            separator = "" if prefix == "\\x" and rng.random() < 0.9 else rng.choice(_HEX_SEPARATORS)
            parts.append(f"{prefix}{rng.randrange(256):02{rng.choice('xX')}}{separator}")
    return "".join(parts)


def test_hex_lists_match_pythons_regex() -> None:
    """Dense hex-list texts: the compiled matcher (ASCII marker lines) against `re`."""
    rng = random.Random(5)
    compiled = matched = 0
    for _ in range(30000):
        text = _hex_text(rng)
        if rng.random() < 0.05:  # non-ASCII on a marker line: Python's regex decides
            text += rng.choice(("é", "\u0663", "\xa0", "\u2028", "\udc80"))
        _, hex_runs, _ = filters.native_encoded_runs(text)
        compiled += hex_runs is not None
        expected = reference.encoded_runs(text)
        matched += bool(expected)
        assert filters.encoded_runs(text) == expected, text
    assert compiled > 25000 and matched > 5000, (compiled, matched)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n",
        "\r\n\r\n",
        "\x00",
        "a\x00b\n",
        "\ud800",
        "x = '\udc80\udcff'\r\n",
        "A" * 63,
        "A" * 64,
        "A" * 5000 + "\n",
        ("QUJD" * 20 + "\n") * 40,
        "data = '" + "QUJD" * 400 + "'\n",
        ", ".join(f"0x{i % 256:02x}" for i in range(600)) + "\n",
        "\\x" + "\\x".join(f"{i % 256:02x}" for i in range(600)),
        "b'" + "".join(f"\\x{i % 256:02x}" for i in range(300)) + "'\n# é\n",
        "é = [" + ", ".join(f"0x{i:02x}" for i in range(20)) + "]\n",
        "s = '" + "\\u00e9" * 300 + "'\n",
        "var a=function(b){return b+1};" * 400,
        "x" * 100000,
        "\u2028".join(["line"] * 50),
        "a\x0bb\x0cc\x1cd\x1de\x1ef\x1fg\x85h\u2028i\u2029j\rk\r\nl\n",
        "trailing \t\x0c\x0b\xa0\u3000\n\n\n \n",
        "\ufeffx = 1\n",
        "٣٤٥ = e\u0301\n" * 10,
        "\\\\x12\\\\x34\\\\x56\\\\x78\\\\x9a\\\\xbc\\\\xde\\\\xf0\\\\x12",
    ],
)
def test_adversarial_texts_equal_reference(text: str) -> None:
    _assert_same(text)
    _assert_same(text, "go", "x.go")
