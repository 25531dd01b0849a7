"""A fixed corpus of real code for measuring search relevance, and the measures.

The corpus is CPython's standard library of the interpreter running the tests (found through
``sysconfig``, never downloaded): every top-level ``*.py`` module plus a few packages, picked by
relative path and sorted, so the same interpreter always gives the same corpus. The queries and the
files each should find are ``tests/data/search_relevance.json``. Shared by the relevance test and
``bench/search_relevance.py``.
"""

from __future__ import annotations

import json
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.search import SearchIndex
from tests.support.planted import indexed_python_record

QUERIES = Path(__file__).resolve().parents[2] / "data" / "search_relevance.json"
PACKAGES = (
    "collections",
    "concurrent/futures",
    "dbm",
    "http",
    "json",
    "logging",
    "sqlite3",
    "urllib",
    "zipfile",
)
MAX_BYTES = 400_000  # leaves out the few huge generated modules (pydoc_data's topics)
K = 5


def stdlib_files() -> list[tuple[str, str]]:
    """(relative path, text) of the corpus files, sorted by path."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = list(root.glob("*.py"))
    for package in PACKAGES:
        paths += list((root / package).glob("*.py"))
    files = []
    for path in sorted(paths, key=lambda p: p.relative_to(root).as_posix()):
        data = path.read_bytes()
        if len(data) <= MAX_BYTES:
            files.append((path.relative_to(root).as_posix(), data.decode("utf-8", "replace")))
    return files


def corpus_documents() -> list[dict[str, Any]]:
    docs = []
    for n, (path, text) in enumerate(stdlib_files(), start=1):
        record = indexed_python_record(n, text, path)
        record.update(repo="python/cpython", size_bytes=len(text.encode()), lines=text.count("\n"))
        docs.append(record)
    return docs


def load_queries() -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = json.loads(QUERIES.read_text())["queries"]
    return queries


@dataclass(frozen=True)
class Measure:
    recall_at_k: float  # mean over queries of (expected files in the top K) / min(expected files, K)
    mrr: float  # mean reciprocal rank of the first expected file (0 when none in the top 10)
    answered: int  # queries with an expected file in the top K
    queries: int
    misses: tuple[str, ...]


def measure(index: SearchIndex, corpus_paths: set[str], match_all: bool = False) -> Measure:
    """Relevance of ``index`` (holding ``corpus_documents()``, whose paths are ``corpus_paths``) on the
    query set. Expected files this interpreter's stdlib lacks (moved modules) are not counted."""
    recalls, ranks, misses = [], [], []
    queries = [case for case in load_queries() if corpus_paths & set(case["expected"])]
    for case in queries:
        hits = [h.doc["path"] for h in index.search(case["query"], size=10, match_all=match_all)]
        expected = corpus_paths & set(case["expected"])
        recalls.append(len(expected & set(hits[:K])) / min(len(expected), K))
        first = next((rank for rank, path in enumerate(hits, start=1) if path in expected), None)
        ranks.append(1 / first if first else 0.0)
        if not expected & set(hits[:K]):
            misses.append(case["query"])
    n = len(queries)
    return Measure(sum(recalls) / n, sum(ranks) / n, n - len(misses), n, tuple(misses))
