"""The compiled `code_tokens.camel_subwords` (`native/src/subwords.rs`) is the one in use and returns the
lines of the Python function it replaced (`tests/support/subwords_reference.py`) in order of first
occurrence: on every file of CPython's standard library and Go's tree found on this machine, and on
adversarial texts (non-ASCII letters, digits and case, combining marks, lone surrogates, Python-only
whitespace, NUL, runs across the compiled scanner's 64-byte blocks, tens of thousands of identifiers).

The Python emitted its lines in the order of a `set` of `bytes`, which follows the process's randomised
hash; the compiled function fixes the order (first occurrence), so the oracle's lines are put in that
order before comparing strings: the same lines, nothing more or less, and a stable order.
"""

from __future__ import annotations

import importlib
import os
import random
import re
import subprocess
import sys

import pytest

from codelupe_dagster.backends.search import code_tokens
from tests.support import subwords_reference as reference
from tests.support.hotpath_reference import real_corpus


def test_native_function_is_built_and_used() -> None:
    # No fallback: without the extension (`pip install -e .` builds it from native/), code_tokens does
    # not import.
    native = importlib.import_module("codelupe_dagster._native")
    assert native.__file__ is not None and native.__file__.endswith((".so", ".pyd"))
    assert vars(code_tokens)["_compiled_camel_subwords"] is native.camel_subwords
    assert type(native.camel_subwords).__name__ == "builtin_function_or_method"
    assert code_tokens.camel_subwords("parseHttpRequest") == "parse Http Request"


def test_every_real_source_file_equals_reference() -> None:
    corpus = real_corpus(python_files=10**7, go_files=10**7)  # every file: no sampling
    if not corpus:
        pytest.skip("no CPython standard library or Go tree on this machine")
    compiled = [code_tokens.camel_subwords(text) for _, text in corpus]
    pairs = zip(corpus, compiled, strict=True)
    mismatched = [path for (path, text), new in pairs if new != _expected(text)]
    assert mismatched == [], mismatched[:10]
    assert sum(map(bool, compiled)) > len(corpus) // 2  # most files have case-changing identifiers


def _expected(text: str) -> str:
    """The oracle's lines in order of their identifier's first occurrence in the text."""
    lines = reference.camel_subwords(text).split("\n")
    runs = re.findall(rb"[A-Za-z0-9]+", text.encode("utf-8", "surrogatepass"))
    first = {run: position for position, run in reversed(list(enumerate(runs)))}
    # A line's sub-words cover every character of its identifier: joined, they give the run back.
    return "\n".join(sorted(lines, key=lambda line: first.get(line.replace(" ", "").encode(), -1)))


def _same(text: str) -> None:
    assert code_tokens.camel_subwords(text) == _expected(text), repr(text[:300])


def test_line_order_is_first_occurrence_and_the_same_in_every_process() -> None:
    text = "zetaAlpha betaGamma alphaOmega betaGamma deltaX1Y"
    assert code_tokens.camel_subwords(text) == "zeta Alpha\nbeta Gamma\nalpha Omega\ndelta X 1 Y"
    program = "from codelupe_dagster.backends.search import code_tokens as t; print(t.camel_subwords(%r))"
    seen = {
        subprocess.run(
            [sys.executable, "-c", program % (" ".join(f"w{n}Q" for n in range(50)),)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(seen) == 1, seen


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("", []),
        ("no identifiers with case changes here", []),
        ("parseHttpRequest", ["parse Http Request"]),
        ("HTTPServer", ["HTTP Server"]),
        ("getHTTPResponseCode2 x", ["get HTTP Response Code 2"]),
        ("ABc aB A1B a1B 9Foo Foo FOO foo_Bar", ["A Bc", "a B", "a 1 B", "9 Foo"]),
        ("caféBar étéX", []),  # 'é' separates: "caf", "Bar", "t", "X", none changes case inside
        ("x\ud800yZ\udc80aBc", ["y Z", "a Bc"]),
        ("fooBar\x00bazQux\r\nfooBar", ["foo Bar", "baz Qux"]),
    ],
)
def test_known_texts(text: str, lines: list[str]) -> None:
    assert code_tokens.camel_subwords(text).splitlines() == lines
    _same(text)


_FRAGMENTS = (
    "a", "z", "A", "Z", "0", "9", "aB", "Ab", "AB", "ABc", "HTTP", "Server", "parse", "Http", "2", "x9Y",
    " ", "_", "-", ".", "\n", "\r\n", "\t", "\x00", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85",
    "\u2028", "\u2029", "\xa0", "\u3000", "é", "É", "ß", "\u01c5", "\u0130", "\u0131", "\u017f", "\u212a",
    "\u0663", "\uff21\uff42", "e\u0301", "\u0345", "\u00b2", "变量", "\U0001d400", "\ud800", "\udfff",
    "\udc80", "\x7f", "@", "[", "`", "{", "/", ":",
)  # fmt: skip


def test_adversarial_texts_equal_reference() -> None:
    rng = random.Random(12)
    for fragment in _FRAGMENTS:
        _same(fragment)
        _same(fragment * 3)
    for _ in range(4000):
        _same("".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 80))))


def test_runs_across_block_boundaries_and_text_ends() -> None:
    # The compiled scanner reads 64-byte blocks: put runs before, on and after every boundary.
    for length in range(0, 200):
        for word in ("aB", "xYz", "getHTTPResponse", "A" * 70 + "b", "a" * 63 + "B"):
            _same(" " * length + word)
            _same("." * length + word + "é")
            _same(word + "-" * length + word + "Q")
            _same("é" * length + word)  # 2 bytes each in UTF-8


def test_long_lines_and_many_identifiers() -> None:
    rng = random.Random(5)
    _same("aB" * 200_000)
    _same(("fooBar" * 1000 + " ") * 50)
    # More than 50,000 distinct runs: the compiled table grows several times.
    words = [f"w{n}X{rng.randrange(10**6)}" if n % 3 else f"plain{n}" for n in range(120_000)]
    rng.shuffle(words)
    _same(" ".join(words))
    _same("\n".join(words + words))


def test_random_ascii_texts_equal_reference() -> None:
    rng = random.Random(99)
    alphabet = "aAbBzZ09_ .\n"
    for _ in range(3000):
        _same("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))))
