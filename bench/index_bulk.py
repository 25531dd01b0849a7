"""Bulk-indexing throughput of the search backends on real code, against raw baselines in the same run.

Documents are CPython's ``Lib/**/*.py`` files with every code-schema field filled, as the index asset
writes them. Printed per backend, as medians over ``--repeat`` runs: documents/s, MB/s of source text,
and the ratio to a baseline that does only the unavoidable part (then every run's seconds and the ratio of
the best runs, the ones a shared machine's load slowed least):

- SQLite: ``SqliteSearchIndex.bulk_upsert`` (FTS5 + camelCase column + typed columns), given the
  documents with the workers' sub-word hint (``backend``) and without it (``backend, no hint``), vs a
  raw ``executemany`` of ``(id, json)`` rows (same pragmas, same chunked transactions, no FTS) and vs a
  plain FTS5 table without the camelCase column (what the sub-word column costs). Also the re-upsert
  of unchanged documents (a retried batch), which skips re-tokenizing.
- Elasticsearch (``--elasticsearch-url`` or ``ELASTICSEARCH_URL``): the backend's ``bulk_upsert`` vs
  POSTing the same documents as NDJSON ``_bulk`` bodies with urllib, one request after the other, into
  an index with the same settings whose searched text the node analyzes itself (``raw _bulk``: each
  searched field a ``text`` field of the ``standard`` analyzer, no ``__words``; the simplest client that
  leaves the documents searchable, and the baseline of issue 12's target, ``bulk_upsert`` >= 0.8x its
  rate). ``backend`` gets the documents as the pipeline hands them over, with the scoring workers'
  sub-word hint (``content__subwords``, computed outside the timing, as the workers do); ``backend, no
  hint`` without it (old spools, documents from elsewhere). ``raw _bulk +words`` sends the bodies the
  backend sends (with the words it cuts for ``content__words``) into the backend's own mapping,
  serialized before the clock starts: what the node alone needs for the backend's index, one request at
  a time (since 2026-12-03 the node analyzes no text there, so this is the client's cost taken away).
  The variants run interleaved, in a rotating order, each in a fresh index.

    .venv/bin/python bench/index_bulk.py --repeat 5
    .venv/bin/python bench/index_bulk.py --elasticsearch-url http://127.0.0.1:9200 --skip-sqlite --repeat 5
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.search import CODE_SCHEMA, open_search_index
from codelupe_dagster.backends.search.code_tokens import camel_subwords, subwords_hint_key
from codelupe_dagster.backends.search.elastic_mapping import WORDS_SUFFIX, document_source
from codelupe_dagster.backends.search.sqlite_index import CHUNK_DOCS, SqliteSearchIndex

T0 = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)


def load_documents(root: Path, max_files: int | None) -> list[dict[str, Any]]:
    """One code document per distinct ``.py`` file under ``root`` (site-packages excluded)."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or not path.is_file():
            continue
        try:
            content = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        digest = hashlib.blake2b(content.encode(), digest_size=16).hexdigest()
        lines = content.count("\n") + 1
        n = len(docs)
        docs[digest] = {
            "id": digest,
            "content": content,
            "path": str(path.relative_to(root)),
            "filename": path.name,
            "extension": path.suffix,
            "language": "Python",
            "repo": "python/cpython",
            "repo_stars": 60000,
            "license": "PSF-2.0",
            "commit": hashlib.sha1(str(root).encode()).hexdigest(),
            "quality_score": round(int(digest[:4], 16) / 0xFFFF, 4),
            "quality_signals": {
                "lines": lines,
                "comment_ratio": 0.12,
                "has_docstrings": '"""' in content,
                "complexity": 0.2,
                "max_line_length": max(map(len, content.splitlines()), default=0),
            },
            "size_bytes": len(content.encode()),
            "lines": lines,
            "near_dup_cluster": None,
            "secrets_redacted": 0,
            "batch": "b20261128T170000-bench0",
            "indexed_at": (T0 + timedelta(milliseconds=n)).isoformat(),
        }
        if max_files and len(docs) >= max_files:
            break
    return list(docs.values())


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # the same durability as the backend
    conn.execute("PRAGMA cache_size = -32768")
    return conn


def sqlite_raw(docs: list[dict[str, Any]], path: Path) -> None:
    """Baseline: the rows alone, serialized and inserted in the backend's chunked transactions."""
    conn = _connect(path)
    conn.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    for start in range(0, len(docs), CHUNK_DOCS):
        rows = [(d["id"], json.dumps(d, ensure_ascii=False)) for d in docs[start : start + CHUNK_DOCS]]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?)", rows)
        conn.execute("COMMIT")
    conn.close()


def sqlite_plain_fts(docs: list[dict[str, Any]], path: Path) -> None:
    """Rows plus a unicode61 FTS5 index of the content, without the camelCase sub-word column."""
    conn = _connect(path)
    conn.execute(
        "CREATE TABLE docs (rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, doc TEXT NOT NULL, content TEXT)"
    )
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(content, content='docs', tokenize='unicode61')")
    for start in range(0, len(docs), CHUNK_DOCS):
        chunk = docs[start : start + CHUNK_DOCS]
        rows = [
            (
                start + n + 1,
                d["id"],
                json.dumps({k: v for k, v in d.items() if k != "content"}, ensure_ascii=False),
                d["content"],
            )
            for n, d in enumerate(chunk)
        ]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO fts (rowid, content) VALUES (?, ?)", [(r[0], r[3]) for r in rows])
        conn.execute("COMMIT")
    conn.close()


def bench_sqlite(docs: list[dict[str, Any]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "backend": [],
        "backend, no hint": [],
        "re-upsert": [],
        "raw executemany": [],
        "plain FTS5": [],
    }
    sizes: list[int] = []
    hinted = with_hints(docs)
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
            plain = SqliteSearchIndex(CODE_SCHEMA, Path(tmp) / "plain.sqlite", "codelupe-code")
            plain.ensure()
            times["backend, no hint"].append(timed(lambda plain=plain: plain.bulk_upsert(docs)))
            plain.close()
            index = SqliteSearchIndex(CODE_SCHEMA, Path(tmp) / "index.sqlite", "codelupe-code")
            index.ensure()
            result = None

            def upsert(index: SqliteSearchIndex = index) -> None:
                nonlocal result
                result = index.bulk_upsert(hinted)

            times["backend"].append(timed(upsert))
            assert result is not None and not result.errors and index.count() == len(docs), result
            sizes.append(index.size_bytes())
            times["re-upsert"].append(timed(lambda index=index: index.bulk_upsert(hinted)))
            index.close()
            times["raw executemany"].append(timed(lambda tmp=tmp: sqlite_raw(docs, Path(tmp) / "raw.sqlite")))
            times["plain FTS5"].append(
                timed(lambda tmp=tmp: sqlite_plain_fts(docs, Path(tmp) / "fts.sqlite"))
            )
    print(f"  SQLite file size after indexing: {statistics.median(sizes) / 1e6:.1f} MB")
    return times


class _Es:
    """Just enough of the REST API for the raw baseline, with the same auth variables as the product."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        api_key = os.environ.get("ELASTICSEARCH_API_KEY")
        user, password = os.environ.get("ELASTICSEARCH_USERNAME"), os.environ.get("ELASTICSEARCH_PASSWORD")
        if api_key:
            self.headers["Authorization"] = f"ApiKey {api_key}"
        elif user:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def call(self, method: str, path: str, body: bytes | None = None, ndjson: bool = False) -> Any:
        headers = dict(self.headers)
        if ndjson:
            headers["Content-Type"] = "application/x-ndjson"
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read() or b"null")


def _ndjson(index: str, sources: list[dict[str, Any]]) -> bytes:
    lines = []
    for doc in sources:
        lines.append(json.dumps({"index": {"_index": index, "_id": doc["id"]}}))
        lines.append(json.dumps({k: v for k, v in doc.items() if k != "id"}, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def _post_bulk(es: _Es, body: bytes) -> None:
    reply = es.call("POST", "/_bulk", body, ndjson=True)
    if reply.get("errors"):
        raise RuntimeError(f"raw _bulk reported errors: {json.dumps(reply)[:500]}")


def es_raw_bulk(es: _Es, index: str, docs: list[dict[str, Any]], chunk: int) -> None:
    for start in range(0, len(docs), chunk):
        _post_bulk(es, _ndjson(index, docs[start : start + chunk]))


def with_hints(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents as the scorer spools them: each with its content's sub-words, as the workers
    compute them (``ProcessedFile.content_subwords``)."""
    return [{**doc, subwords_hint_key("content"): camel_subwords(doc["content"])} for doc in docs]


class _EsBench:
    """One Elasticsearch variant per method, each timed into a fresh index with the backend's own
    settings and mappings, through to a refresh (so every variant ends with searchable documents)."""

    def __init__(self, url: str, docs: list[dict[str, Any]], bulk_threads: int | None):
        self.es = _Es(url)
        self.url = url
        self.docs = docs
        self.hinted = with_hints(docs)
        self.bulk_threads = bulk_threads
        self.name = f"bench-code-{os.getpid()}"
        self.auth = {
            "api_key": os.environ.get("ELASTICSEARCH_API_KEY"),
            "username": os.environ.get("ELASTICSEARCH_USERNAME"),
            "password": os.environ.get("ELASTICSEARCH_PASSWORD"),
        }
        index = self._index()
        index.delete()
        index.ensure()
        # The raw indices get the backend's own settings and mappings, so only the client path differs.
        settings = self.es.call("GET", f"/{self.name}/_settings")[self.name]["settings"]["index"]
        self.mappings = self.es.call("GET", f"/{self.name}/_mapping")[self.name]["mappings"]
        self.settings = {
            k: v
            for k, v in settings.items()
            if k in ("analysis", "number_of_shards", "number_of_replicas", "refresh_interval")
        }
        index.delete()
        # The plain documents' index: the searched text analyzed by the node, no client-cut words.
        self.plain_mappings = copy.deepcopy(self.mappings)
        for name in CODE_SCHEMA.searched():
            self.plain_mappings["properties"][name] = {"type": "text", "analyzer": "standard"}
            self.plain_mappings["properties"].pop(name + WORDS_SUFFIX, None)
        sources = [document_source(doc, CODE_SCHEMA.searched()) for doc in self.hinted]
        raw = f"{self.name}-raw"
        self.words_bodies = [
            _ndjson(raw, sources[start : start + CHUNK_DOCS]) for start in range(0, len(sources), CHUNK_DOCS)
        ]

    def _index(self) -> Any:
        index = open_search_index(
            CODE_SCHEMA, data_dir=".", elasticsearch_url=self.url, index_name=self.name, **self.auth
        )
        if self.bulk_threads is not None:
            index.bulk_threads = self.bulk_threads
        return index

    def backend(self, docs: list[dict[str, Any]]) -> float:
        index = self._index()
        index.delete()
        index.ensure()
        result = None

        def upsert() -> None:
            nonlocal result
            result = index.bulk_upsert(docs)
            index.refresh()

        seconds = timed(upsert)
        assert result is not None and not result.errors and result.indexed == len(docs), result
        assert index.count() == len(docs)
        index.delete()
        return seconds

    def _raw(self, send: Callable[[str], None], mappings: dict[str, Any]) -> float:
        raw = f"{self.name}-raw"
        with contextlib.suppress(urllib.error.HTTPError):  # left over from an interrupted run
            self.es.call("DELETE", f"/{raw}")
        body = {"settings": {"index": self.settings}, "mappings": mappings}
        self.es.call("PUT", f"/{raw}", json.dumps(body).encode())

        def bulk() -> None:
            send(raw)
            self.es.call("POST", f"/{raw}/_refresh")

        seconds = timed(bulk)
        count = self.es.call("GET", f"/{raw}/_count")["count"]
        assert count == len(self.docs), count
        self.es.call("DELETE", f"/{raw}")
        return seconds

    def raw_bulk(self) -> float:
        return self._raw(lambda raw: es_raw_bulk(self.es, raw, self.docs, CHUNK_DOCS), self.plain_mappings)

    def raw_bulk_words(self) -> float:
        def send(_raw: str) -> None:
            for body in self.words_bodies:  # already addressed to the raw index
                _post_bulk(self.es, body)

        return self._raw(send, self.mappings)


def bench_elasticsearch(
    docs: list[dict[str, Any]], repeat: int, url: str, bulk_threads: int | None = None
) -> dict[str, list[float]]:
    bench = _EsBench(url, docs, bulk_threads)
    variants: dict[str, Callable[[], float]] = {
        "raw _bulk": bench.raw_bulk,
        "backend": lambda: bench.backend(bench.hinted),
        "backend, no hint": lambda: bench.backend(bench.docs),
        "raw _bulk +words": bench.raw_bulk_words,
    }
    times: dict[str, list[float]] = {label: [] for label in variants}
    labels = list(variants)
    for run in range(repeat):
        # A rotating order, so that a load change on the machine does not always hit the same variant.
        for label in labels[run % len(labels) :] + labels[: run % len(labels)]:
            times[label].append(variants[label]())
    return times


def report(title: str, times: dict[str, list[float]], docs: int, megabytes: float, baseline: str) -> None:
    print(
        f"{title}: {docs} documents, {megabytes:.1f} MB of source,"
        f" median of {len(next(iter(times.values())))} runs"
    )
    base = statistics.median(times[baseline])
    best_base = min(times[baseline])
    for label, samples in times.items():
        seconds = statistics.median(samples)
        # Every run and the best one too: on a shared machine one run of the same variant has taken 2.4 s
        # and 6.9 s, and the best run is the one least slowed by the neighbours.
        print(
            f"  {label:<16} {seconds:7.2f} s  {docs / seconds:9.0f} docs/s  {megabytes / seconds:6.1f} MB/s"
            f"  {base / seconds:5.2f}x the {baseline} rate; runs {', '.join(f'{t:.2f}' for t in samples)} s,"
            f" best {best_base / min(samples):.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--max-files", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--bulk-threads", type=int, default=None, help="the backend's bulk_threads (default: its own)"
    )
    parser.add_argument("--elasticsearch-url", default=os.environ.get("ELASTICSEARCH_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()

    docs = load_documents(args.source, args.max_files)
    if not docs:
        sys.exit(f"no .py files under {args.source}")
    megabytes = sum(d["size_bytes"] for d in docs) / 1e6
    print(
        f"corpus: {args.source} — {len(docs)} distinct files, {megabytes:.1f} MB;"
        f" python {sys.version.split()[0]},"
        f" sqlite {sqlite3.sqlite_version}, {os.cpu_count()} cpus"
    )
    if not args.skip_sqlite:
        report("SQLite FTS5", bench_sqlite(docs, args.repeat), len(docs), megabytes, "raw executemany")
    if args.elasticsearch_url:
        report(
            "Elasticsearch",
            bench_elasticsearch(docs, args.repeat, args.elasticsearch_url, args.bulk_threads),
            len(docs),
            megabytes,
            "raw _bulk",
        )
    else:
        print("Elasticsearch: skipped (no --elasticsearch-url / ELASTICSEARCH_URL)")


if __name__ == "__main__":
    main()
