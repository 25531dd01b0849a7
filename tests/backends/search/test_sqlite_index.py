"""What only the SQLite backend has to prove: many writer processes, crashes, reopening, upgrades."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from codelupe_dagster.backends.search import CODE_SCHEMA, REPO_SCHEMA, BackendUnavailable, Filters
from codelupe_dagster.backends.search.base import FieldSpec
from codelupe_dagster.backends.search.code_tokens import camel_subwords, code_words, split_identifier
from codelupe_dagster.backends.search.query_syntax import (
    parse_query,
)
from codelupe_dagster.backends.search.sqlite_index import (
    META_TABLE,
    IndexMissing,
    SqliteSearchIndex,
    build_match_query,
)

WRITERS = 4
DOCS_PER_WRITER = 160
OVERLAP = 80  # each writer rewrites half of its neighbour's ids


def writer_doc(doc_no: int, writer: int) -> dict:
    return {
        "id": f"doc-{doc_no}",
        "content": f"def handleItem{doc_no}():\n    return writer{writer} + docno{doc_no}\n",
        "language": "Python",
        "repo": f"org/w{writer}",
        "quality_score": (doc_no % 10) / 10,
        "indexed_at": f"2026-11-28T17:{doc_no // 60 % 60:02d}:{doc_no % 60:02d}+00:00",
    }


def _write_as_process(path: str, name: str, writer: int) -> int:
    """One Dagster-like step process: its own index object, ensure(), then many small bulk writes."""
    index = SqliteSearchIndex(CODE_SCHEMA, Path(path), name)
    index.ensure()
    first = writer * (DOCS_PER_WRITER - OVERLAP)
    errors = 0
    docs = [writer_doc(n, writer) for n in range(first, first + DOCS_PER_WRITER)]
    for start in range(0, len(docs), 16):  # 16 docs per call → many competing transactions
        errors += len(index.bulk_upsert(docs[start : start + 16]).errors)
        index.count(Filters(languages=("Python",)))
    return errors


def _writer_main(path: str, name: str, writer: int) -> None:
    """A writer process's entry point: exit status 0 when every write succeeded, 1 otherwise."""
    raise SystemExit(0 if _write_as_process(path, name, writer) == 0 else 1)


def fts_integrity_check(index: SqliteSearchIndex) -> None:
    """FTS5 raises when its index disagrees with the content table (stale or missing terms)."""
    with sqlite3.connect(index.path) as conn:
        fts = f'"{index.name}__fts"'
        conn.execute(f"INSERT INTO {fts}({fts}, rank) VALUES ('integrity-check', 1)")
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.fixture
def index_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "index.sqlite"


def test_many_processes_write_the_same_file_at_once(index_path):
    ctx = multiprocessing.get_context("spawn")  # like Dagster's multiprocess executor: fresh interpreters
    # Plain processes, not a Pool: a Pool that replaces a worker while it is being terminated can leave one
    # behind that its join then waits for; here every writer is joined with a deadline, then killed.
    writers = [
        ctx.Process(target=_writer_main, args=(str(index_path), "codelupe-code", w)) for w in range(WRITERS)
    ]
    for process in writers:
        process.start()
    try:
        reader = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
        deadline = time.monotonic() + 240
        while any(p.is_alive() for p in writers) and time.monotonic() < deadline:
            try:  # readers keep working while the writers hold the lock in turns
                reader.count()
                reader.search("handle")
            except IndexMissing:
                pass  # no writer has run ensure() yet
            time.sleep(0.01)
        for process in writers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        assert [p.exitcode for p in writers] == [0] * WRITERS
    finally:
        for process in writers:
            if process.is_alive():
                process.kill()
                process.join(timeout=10)

    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    last_id = (WRITERS - 1) * (DOCS_PER_WRITER - OVERLAP) + DOCS_PER_WRITER
    assert index.count() == last_id
    assert len(list(index.iter_documents(batch_size=50))) == last_id
    fts_integrity_check(index)
    # Every id is findable by its own word, and only under the writer whose version is stored.
    stored = index.get([f"doc-{n}" for n in range(last_id)])
    for n in range(0, last_id, 7):
        writer = int(stored[f"doc-{n}"]["repo"].removeprefix("org/w"))
        assert [h.id for h in index.search(f"docno{n}")] == [f"doc-{n}"]
        assert [h.id for h in index.search(f"docno{n} writer{writer}", match_all=True)] == [f"doc-{n}"]
        for other in {0, 1, 2, 3} - {writer}:
            assert index.search(f"docno{n} writer{other}", match_all=True) == []


def test_threads_share_one_index_object(index_path):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()

    def write(writer: int) -> int:
        first = writer * (DOCS_PER_WRITER - OVERLAP)
        docs = [writer_doc(n, writer) for n in range(first, first + DOCS_PER_WRITER)]
        return sum(len(index.bulk_upsert(docs[i : i + 20]).errors) for i in range(0, len(docs), 20))

    with ThreadPoolExecutor(WRITERS) as pool:
        assert list(pool.map(write, range(WRITERS))) == [0] * WRITERS
    assert index.count() == (WRITERS - 1) * (DOCS_PER_WRITER - OVERLAP) + DOCS_PER_WRITER
    fts_integrity_check(index)


def test_committed_writes_survive_reopen_and_a_killed_writer(index_path):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    index.bulk_upsert([writer_doc(n, 0) for n in range(50)])
    index.close()

    # A writer killed in the middle of a long bulk upsert: committed chunks stay, the file stays sound.
    script = (
        "import sys; from pathlib import Path\n"
        "from codelupe_dagster.backends.search import CODE_SCHEMA\n"
        "from codelupe_dagster.backends.search.sqlite_index import SqliteSearchIndex\n"
        "sys.path.insert(0, sys.argv[2]); from test_sqlite_index import writer_doc\n"
        "index = SqliteSearchIndex(CODE_SCHEMA, Path(sys.argv[1]), 'codelupe-code')\n"
        "print('ready', flush=True)\n"
        "index.bulk_upsert(writer_doc(n, 1) for n in range(50, 6050))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(index_path), str(Path(__file__).parent)], stdout=subprocess.PIPE
    )
    assert proc.stdout.readline().strip() == b"ready"
    reopened = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    deadline = time.monotonic() + 60
    while reopened.count() <= 50 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    partial = reopened.count()
    assert 50 <= partial <= 6050
    assert partial % 500 == 50 or partial == 6050, "only whole chunks (transactions) are visible"
    fts_integrity_check(reopened)
    # The retry after the crash converges on exactly one copy of everything.
    assert reopened.bulk_upsert(writer_doc(n, 1) for n in range(50, 6050)).errors == []
    assert reopened.count() == 6050
    assert [h.id for h in reopened.search("docno7")] == ["doc-7"]


def test_unchanged_and_changed_rewrites_keep_the_full_text_index_exact(index_path):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    docs = [writer_doc(n, 0) for n in range(30)]
    index.bulk_upsert(docs)
    index.bulk_upsert([{**d, "quality_score": 0.95} for d in docs])  # same text: FTS untouched
    index.bulk_upsert([writer_doc(n, 1) for n in range(0, 30, 2)])  # new text: terms replaced
    fts_integrity_check(index)
    assert index.count(Filters(min_quality=0.9)) == 15
    assert len(index.search("writer1", size=100)) == 15
    assert len(index.search("writer0", size=100)) == 15


def test_two_logical_indexes_share_the_file_independently(index_path):
    code = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    repos = SqliteSearchIndex(REPO_SCHEMA, index_path, "github-coding-repos")
    code.ensure()
    repos.ensure()
    code.bulk_upsert([writer_doc(1, 0)])
    repos.bulk_upsert([{"id": "o/r", "full_name": "o/r", "clone_url": "x", "description": "handle items"}])
    assert (code.count(), repos.count()) == (1, 1)
    repos.delete()
    assert code.count() == 1
    assert repos.count() == 0  # a deleted index reads as empty; writing to it needs ensure() again
    with pytest.raises(IndexMissing, match="ensure"):
        repos.bulk_upsert([{"id": "o/r", "full_name": "o/r"}])
    repos.ensure()
    assert repos.count() == 0
    before = code.size_bytes()
    code.bulk_upsert([writer_doc(n, 0) for n in range(300)])
    assert code.size_bytes() > before > 0


def test_the_same_index_name_cannot_hold_another_schema(index_path):
    SqliteSearchIndex(CODE_SCHEMA, index_path, "shared").ensure()
    with pytest.raises(ValueError, match="holds schema 'code'"):
        SqliteSearchIndex(REPO_SCHEMA, index_path, "shared").ensure()


def test_upgrade_to_a_new_schema_version_keeps_documents(index_path):
    old_schema = replace(
        CODE_SCHEMA, fields=tuple(f for f in CODE_SCHEMA.fields if f.name != "lines"), version=1
    )
    old = SqliteSearchIndex(old_schema, index_path, "codelupe-code")
    old.ensure()
    docs = [dict(writer_doc(n, 0), lines=n) for n in range(40)]
    old.bulk_upsert(docs)
    with pytest.raises(ValueError, match="lines"):
        old.max_value("lines")  # not a typed field before the upgrade

    new_schema = replace(CODE_SCHEMA, fields=(*CODE_SCHEMA.fields, FieldSpec("topic", "keyword")), version=2)
    new = SqliteSearchIndex(new_schema, index_path, "codelupe-code")
    new.ensure()
    new.ensure()
    assert new.count() == 40
    assert new.max_value("lines") == 39  # backfilled from the stored documents
    assert new.get(["doc-3"])["doc-3"] == dict(docs[3])
    assert [h.id for h in new.search("handleItem3")] == ["doc-3"]
    assert [h.id for h in new.search("item", size=100)] != []  # camelCase sub-words rebuilt
    fts_integrity_check(new)

    with pytest.raises(RuntimeError, match="newer"):
        SqliteSearchIndex(old_schema, index_path, "codelupe-code").ensure()


def test_a_tokenization_change_rebuilds_the_full_text_index(index_path):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    index.bulk_upsert([writer_doc(n, 0) for n in range(25)])
    with sqlite3.connect(index_path) as conn:
        # Pretend the file was written by an older release whose full-text index lacks these terms.
        layout = json.loads(conn.execute(f"SELECT layout FROM {META_TABLE}").fetchone()[0])
        conn.execute(f"UPDATE {META_TABLE} SET layout = ?", (json.dumps({**layout, "layout": 0}),))
        conn.execute('INSERT INTO "codelupe-code__fts" ("codelupe-code__fts") VALUES (\'delete-all\')')
    assert index.search("item") == []

    index.ensure()
    assert index.count() == 25
    assert len(index.search("item", size=100)) == 25
    fts_integrity_check(index)


def test_per_document_errors_are_reported_and_the_rest_indexed(index_path):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    good = [writer_doc(n, 0) for n in range(5)]
    bad = [
        dict(writer_doc(10, 0), quality_signals={"odd": object()}),
        dict(writer_doc(11, 0), quality_score=float("nan")),
        dict(writer_doc(12, 0), indexed_at="yesterday"),
        dict(writer_doc(13, 0), content="bad \udc80 surrogate"),
        dict(writer_doc(14, 0), lines="many"),
        dict(writer_doc(15, 0), content=42),
        "not a document",
    ]
    result = index.bulk_upsert([*good[:2], *bad, *good[2:]])
    assert result.indexed == 5
    reasons = {e.id: e.reason for e in result.errors}
    assert set(reasons) == {"doc-10", "doc-11", "doc-12", "doc-13", "doc-14", "doc-15", ""}
    assert "JSON" in reasons["doc-10"]
    assert "quality_score" in reasons["doc-11"]
    assert "indexed_at" in reasons["doc-12"]
    assert "lines" in reasons["doc-14"]
    assert index.count() == 5
    fts_integrity_check(index)


def test_dates_are_normalised_so_text_order_is_time_order(index_path):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    index.bulk_upsert(
        [
            dict(writer_doc(1, 0), indexed_at="2026-11-28T18:00:00+01:00"),  # 17:00 UTC
            dict(writer_doc(2, 0), indexed_at="2026-11-28T17:30:00Z"),
            dict(writer_doc(3, 0), indexed_at="2026-11-28T17:15:00.5"),  # naive: UTC
            {"id": "undated", "content": "x"},
        ]
    )
    assert [d["id"] for d in index.iter_documents()] == ["undated", "doc-1", "doc-3", "doc-2"]
    assert index.max_value("indexed_at").isoformat() == "2026-11-28T17:30:00+00:00"
    assert index.get(["doc-1"])["doc-1"]["indexed_at"] == "2026-11-28T18:00:00+01:00"  # stored as sent


@pytest.mark.parametrize("query", ["", "   ", "+++", "___"])
def test_queries_without_words_find_nothing(index_path, query):
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    index.bulk_upsert([writer_doc(1, 0)])
    assert index.search(query) == []


def test_ping_names_the_file_it_cannot_use(tmp_path):
    not_a_db = tmp_path / "index.sqlite"
    not_a_db.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(BackendUnavailable, match=str(not_a_db)):
        SqliteSearchIndex(CODE_SCHEMA, not_a_db, "codelupe-code").ping()
    a_directory = tmp_path / "dir.sqlite"
    a_directory.mkdir()
    with pytest.raises(BackendUnavailable, match=str(a_directory)):
        SqliteSearchIndex(CODE_SCHEMA, a_directory, "codelupe-code").ping()
    SqliteSearchIndex(CODE_SCHEMA, tmp_path / "new" / "index.sqlite", "codelupe-code").ping()


def test_unknown_fields_and_bad_names_are_rejected(index_path):
    with pytest.raises(ValueError, match="index name"):
        SqliteSearchIndex(CODE_SCHEMA, index_path, 'x"; DROP TABLE y; --')
    index = SqliteSearchIndex(CODE_SCHEMA, index_path, "codelupe-code")
    index.ensure()
    with pytest.raises(ValueError, match="content"):
        index.terms("content")
    with pytest.raises(ValueError, match="repo"):
        SqliteSearchIndex(REPO_SCHEMA, index_path, "repos").count(Filters(repos=("a/b",)))


# ---------------------------------------------------------------- the shared code-aware tokenizer


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [
        ("parseHttpRequest", ["parse", "http", "request"]),
        ("HTTPServer", ["http", "server"]),
        ("getURL2", ["get", "url", "2"]),
        ("snake_case_name", ["snake", "case", "name"]),
        ("IOError", ["io", "error"]),
        ("plain", ["plain"]),
    ],
)
def test_split_identifier(identifier, parts):
    assert split_identifier(identifier) == parts


def test_code_words_follow_the_design_analyzer():
    assert code_words("x = parseHttpRequest(raw_bytes)") == [
        "x",
        "parsehttprequest",
        "parse",
        "http",
        "request",
        "raw",
        "bytes",
    ]


def test_camel_subwords_lists_each_case_changing_identifier_once():
    text = "def parseHttpRequest(self):\n    parseHttpRequest(HTTPServer, lower, UPPER, Capital, snake_case)"
    assert sorted(camel_subwords(text).splitlines()) == ["HTTP Server", "parse Http Request"]
    assert camel_subwords("no identifiers with case changes here") == ""


@pytest.mark.parametrize(
    ("query", "any_term", "every_term"),
    [
        ("http", '"http"', '"http"'),
        ("HttpRequest", '("httprequest" OR "http request")', '("httprequest" OR "http request")'),
        ("snake_case", '"snake case"', '"snake case"'),
        ('say "hi there"', '"say" OR "hi there"', '"say" AND "hi there"'),
        ("NEAR(a b) * ^x", '"near a" OR "b" OR "x"', '"near a" AND "b" AND "x"'),
        ("+++ ___", "", ""),
    ],
)
def test_user_words_become_quoted_fts_phrases(query, any_term, every_term):
    terms = parse_query(query).terms
    assert build_match_query(terms, match_all=False) == any_term
    assert build_match_query(terms, match_all=True) == every_term
