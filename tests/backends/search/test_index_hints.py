"""The sub-word hint (``content__subwords``, computed by the scoring workers) changes nothing the index
holds or answers: both backends give the same stored documents and the same search results, ids and
scores, with the hint as without it, and never store or return it. Also ``index_words`` (its ASCII part
and runs compiled in ``native/src/index_words.rs``) against the implementation it replaced, on real files
(CPython's stdlib, found at run time) and on random texts built to break the compiled scanner (its 64-byte
blocks, non-ASCII runs, lone surrogates, ASCII-only separators).
"""

from __future__ import annotations

import importlib
import random
import re
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from codelupe_dagster.backends.search import CODE_SCHEMA, IndexSchema, elastic_mapping
from codelupe_dagster.backends.search.base import FieldSpec
from codelupe_dagster.backends.search.code_tokens import camel_subwords, subwords_hint_key
from codelupe_dagster.backends.search.elastic_mapping import WORDS_SUFFIX, document_source, index_words
from codelupe_dagster.backends.search.sqlite_layout import SqliteLayout
from codelupe_dagster.backends.search.sqlite_rows import prepare_row

HINT = subwords_hint_key("content")
QUERIES = (
    "request",
    "parseHttpRequest",
    "http request",
    "self",
    "getLogger",
    "assertEqual",
    "naïve",
    "encoding",
    "TestCase",
    "os path join",
    "HTTPServer",
    "xml",
    "unicode",
)


def stdlib_files(limit: int | None = None, non_ascii: bool | None = None) -> list[tuple[str, str]]:
    """(relative path, text) of the stdlib's .py files, in path order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if non_ascii is not None and text.isascii() == non_ascii:
            continue
        found.append((str(path.relative_to(root)), text))
        if limit is not None and len(found) >= limit:
            break
    return found


# ---------------------------------------------------------------- index_words, old and new

_REFERENCE_NON_ALNUM_ASCII = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
_REFERENCE_UNICODE_WORD = re.compile(r"[^\W_]+")


def reference_index_words(text: str) -> list[str]:
    """``index_words`` before the workers' hint and the run-wise non-ASCII scan (commit 3c62f5f)."""
    encoded = text.encode("utf-8", "surrogatepass")
    words = b" ".join(sorted(set(encoded.translate(_REFERENCE_NON_ALNUM_ASCII).lower().split()))).decode()
    if not text.isascii():
        found = _REFERENCE_UNICODE_WORD.findall(text)
        words += " " + " ".join(sorted({w.lower() for w in found if not w.isascii()}))
    subwords = camel_subwords(text)
    return [words, *subwords.split("\n")] if subwords else [words]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii words_and_Snake parseHttpRequest",
        "def naïveParse(x): return x  # naïve, NAÏVE, Straße",
        "ΟΔΟΣ καλός ΣΟΦΟΣ.upper()",  # final sigma: lowercased in context
        "İstanbul ǅemal ﬁle — «quoted» x\u200by",
        "emoji 🐍snake🐍 and CJK 漢字テスト mixedCase漢字",
        "lone \udc80 surrogate and \ud800 high",
        "digits٣٤ and ½ and a²b",
        "only — punctuation …",
    ],
)
def test_index_words_is_the_reference_on_crafted_text(text: str) -> None:
    assert index_words(text) == reference_index_words(text)


def test_index_words_is_the_reference_on_every_non_ascii_stdlib_file() -> None:
    files = stdlib_files(non_ascii=True)
    assert len(files) > 20, "the stdlib should hold non-ASCII sources"
    for path, text in files:
        assert index_words(text) == reference_index_words(text), path


def test_index_words_is_the_reference_on_ascii_stdlib_files() -> None:
    files = stdlib_files(non_ascii=False)
    assert len(files) > 1000
    for path, text in files:
        assert index_words(text) == reference_index_words(text), path


def test_index_words_runs_on_the_compiled_scanner() -> None:
    native = importlib.import_module("codelupe_dagster._native")
    assert vars(elastic_mapping)["_compiled_index_word_runs"] is native.index_word_runs
    words, foreign = native.index_word_runs("Foo_bar naïveX foo ÉTÉ")
    # Runs are lowercased as bytes (ASCII only): the caller lowercases the Unicode words it finds in them.
    assert words == "bar foo na t vex"
    assert foreign == ["naïvex".encode(), "ÉtÉ".encode()]


# Pieces that meet the compiled scanner's edge cases: ASCII letters of both cases and digits (runs), ASCII
# separators, two- to four-byte UTF-8 letters, marks and digits (runs holding bytes >= 0x80), Unicode
# separators that Python's \W takes but the ASCII split does not, NUL and lone surrogates.
_PIECES = (
    *"aZ09_-. \t\n(){}\x00\x7f",
    "parseHttp",
    "HTTPServer",
    "ß",
    "İ",
    "Σ",
    "é",
    "\u0301",
    "٣",
    "漢字",
    "🐍",
    "\u200b",
    "\u2028",
    "\u00a0",
    "\udc80",
    "\ud800",
    "x" * 70,
    "Straße" * 12,
)


@pytest.mark.parametrize("seed", range(8))
def test_index_words_is_the_reference_on_random_texts(seed: int) -> None:
    chooser = random.Random(seed)
    for _ in range(250):
        text = "".join(chooser.choice(_PIECES) for _ in range(chooser.randrange(0, 200)))
        assert index_words(text) == reference_index_words(text), repr(text)


# ---------------------------------------------------------------- ordered_words (indexes from 2026-12-03)


def reference_ordered_words(text: str) -> str:
    """What ``matching.TextWords`` checks a text's words with: every word of the lowercased text, in order."""
    return " ".join(_REFERENCE_UNICODE_WORD.findall(text.lower()))


_CRAFTED = (
    "",
    "plain ascii words_and_Snake parseHttpRequest os.path.join(a, b)",
    "def naïveParse(x): return x  # naïve, NAÏVE, Straße",
    "ΟΔΟΣ καλός ΣΟΦΟΣ.upper()",
    # Capital alpha, sigma, beta: a capital sigma's lower case depends on its neighbours.
    "\u0391\u03a3.\u0392 and \u0391\u03a3'\u0392 and \u03a3:x and .\u03a3. and \u0391\u03a3",
    "İstanbul ǅemal ﬁle — «quoted» x\u200by K\u212a",
    "emoji 🐍snake🐍 and CJK 漢字テスト mixedCase漢字",
    "lone \udc80 surrogate and \ud800 high",
    "digits٣٤ and ½ and a²b",
    "only — punctuation …",
)


@pytest.mark.parametrize("text", _CRAFTED)
def test_ordered_words_is_the_reference_on_crafted_text(text: str) -> None:
    assert elastic_mapping.ordered_words(text) == reference_ordered_words(text)


def test_a_capital_sigma_is_lowercased_with_its_neighbours() -> None:
    # Capital alpha, sigma, beta. Run by run, alpha-sigma alone would end in a final sigma; in the text the
    # sigma is followed by ".", then a letter, so Python lowercases it as a medial one, and so must the index.
    medial, final = "\u03c3", "\u03c2"
    assert elastic_mapping.ordered_words("\u0391\u03a3.\u0392") == f"\u03b1{medial} \u03b2"
    assert elastic_mapping.ordered_words("x\u0391\u03a3") == f"x\u03b1{final}"


def test_ordered_words_is_the_reference_on_every_stdlib_file() -> None:
    files = stdlib_files()
    assert sum(not text.isascii() for _, text in files) > 20, "the stdlib should hold non-ASCII sources"
    for path, text in files:
        assert elastic_mapping.ordered_words(text) == reference_ordered_words(text), path


@pytest.mark.parametrize("seed", range(8))
def test_ordered_words_is_the_reference_on_random_texts(seed: int) -> None:
    chooser = random.Random(seed)
    for _ in range(250):
        text = "".join(chooser.choice(_PIECES) for _ in range(chooser.randrange(0, 200)))
        assert elastic_mapping.ordered_words(text) == reference_ordered_words(text), repr(text)


def test_ordered_words_run_on_the_compiled_scanner() -> None:
    native = importlib.import_module("codelupe_dagster._native")
    assert vars(elastic_mapping)["_compiled_ordered_word_runs"] is native.ordered_word_runs
    assert native.ordered_word_runs("Foo_bar(x2, Y)") == (["foo bar x2 y"], [])
    assert native.ordered_word_runs("naïve") == (["", ""], ["naïve".encode()])
    # Around the runs holding non-ASCII characters (which Python reads), the ASCII runs come lowercased.
    assert native.ordered_word_runs("A_b naïveX c.D ÉTÉ") == (
        ["a b", "c d", ""],
        ["naïveX".encode(), "ÉTÉ".encode()],
    )
    assert native.ordered_word_runs("\u0391\u03a3.\u0392") is None
    assert native.ordered_word_runs("x\udc80") is None


def test_ordered_index_words_are_the_words_then_each_identifiers_sub_words_lowercased() -> None:
    text = "def parseHTTPRequest(raw_bytes):\n    return os.path.join(raw_bytes, Naïve)\n"
    assert elastic_mapping.ordered_index_words(text) == [
        "def parsehttprequest raw bytes return os path join raw bytes naïve",
        "parse http request",
    ]


# ---------------------------------------------------------------- the hint, pure


def hinted(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, HINT: camel_subwords(doc["content"])}


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered words", "words before 2026-12-03"])
def test_elasticsearch_sends_the_same_source_with_the_hint_and_never_the_hint(ordered: bool) -> None:
    for path, text in stdlib_files(limit=200):
        doc = {"id": path, "content": text, "path": path}
        with_hint = document_source(hinted(doc), CODE_SCHEMA.searched(), ordered)
        assert HINT not in with_hint
        assert with_hint == document_source(doc, CODE_SCHEMA.searched(), ordered), path


@pytest.mark.parametrize(
    ("ordered", "entries"), [(True, ["made up"]), (False, ["made Up"])], ids=["ordered", "before 2026-12-03"]
)
def test_elasticsearch_words_come_from_the_hint_when_present(ordered: bool, entries: list[str]) -> None:
    doc = {"id": "1", "content": "def parseHttpRequest(): pass", HINT: "made Up"}
    assert document_source(doc, ("content",), ordered)["content" + WORDS_SUFFIX][1:] == entries


def test_sqlite_rows_are_the_same_with_the_hint_and_never_store_it() -> None:
    layout = SqliteLayout.of(CODE_SCHEMA)
    for path, text in stdlib_files(limit=200):
        doc = {"id": path, "content": text, "path": path, "language": "Python"}
        row = prepare_row(CODE_SCHEMA, layout, hinted(doc))
        assert row == prepare_row(CODE_SCHEMA, layout, doc), path
        assert HINT not in row[layout.row_columns.index("doc")]


def test_sqlite_joins_the_hints_of_several_code_fields_into_the_lines_of_their_joined_text() -> None:
    schema = IndexSchema("two", (*CODE_SCHEMA.fields, FieldSpec("patch", "code")))
    layout = SqliteLayout.of(schema)
    column = layout.row_columns.index("x_subwords")
    (_, first), (_, second) = stdlib_files(limit=2)
    second += "\nparseHttpRequest = getLogger\n"  # lines that both fields hold, besides their own
    first += "\nparseHttpRequest = getLogger\n"
    doc = {"id": "1", "content": first, "patch": second}
    both = {**doc, HINT: camel_subwords(first), subwords_hint_key("patch"): camel_subwords(second)}
    computed = prepare_row(schema, layout, doc)[column]
    from_hints = prepare_row(schema, layout, both)[column]
    assert sorted(from_hints.split("\n")) == sorted(computed.split("\n"))
    assert len(from_hints.split("\n")) == len(set(from_hints.split("\n")))
    only_one = {**doc, HINT: camel_subwords(first)}  # the other field computes its own
    assert sorted(prepare_row(schema, layout, only_one)[column].split("\n")) == sorted(computed.split("\n"))


# ---------------------------------------------------------------- both backends, end to end


def code_docs(files: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{n:032x}",
            "content": text,
            "path": path,
            "filename": Path(path).name,
            "language": "Python",
            "repo": "python/cpython",
            "quality_score": (n % 10) / 10,
            "quality_signals": {"lines": text.count("\n")},
            "indexed_at": f"2026-11-28T17:{n // 60 % 60:02d}:{n % 60:02d}+00:00",
        }
        for n, (path, text) in enumerate(files)
    ]


def test_an_index_written_with_hints_holds_and_answers_the_same_as_one_written_without(search_backend):
    files = stdlib_files(limit=120) + stdlib_files(limit=30, non_ascii=True)
    docs = code_docs(files)
    plain, with_hints = search_backend(CODE_SCHEMA), search_backend(CODE_SCHEMA)
    assert plain.bulk_upsert(docs).errors == []
    assert with_hints.bulk_upsert([hinted(doc) for doc in docs]).errors == []
    plain.refresh()
    with_hints.refresh()

    ids = [doc["id"] for doc in docs]
    stored = with_hints.get(ids)
    assert stored == plain.get(ids) == {doc["id"]: doc for doc in docs}
    assert all(HINT not in doc for doc in with_hints.iter_documents())
    for query in QUERIES:
        expected = [(h.id, h.score, h.doc) for h in plain.search(query, size=20)]
        found = [(h.id, h.score, h.doc) for h in with_hints.search(query, size=20)]
        assert found == expected, query
        assert all(HINT not in doc for _, _, doc in found)
    assert any(plain.search(query) for query in QUERIES), "the queries must find something"
