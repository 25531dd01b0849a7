"""Search relevance on a fixed corpus of real code, old ranking against new, on both backends.

    python bench/search_relevance.py [--elasticsearch-url URL]

Indexes CPython's standard library of this interpreter (tests/backends/search/relevance_corpus.py:
every top-level module and a few packages, picked by path) into a fresh index per backend, runs the
query set of tests/data/search_relevance.json, and prints recall@5, MRR and the queries answered for
the old behaviour (every word required, ``match_all=True``, BM25 order) and the new one (any word,
documents holding more words first, then BM25), plus the median time per query. Without
``--elasticsearch-url`` (or ELASTICSEARCH_URL) only SQLite is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex, open_search_index
from tests.backends.search.relevance_corpus import corpus_documents, load_queries, measure


def fresh_index(data_dir: str, url: str | None) -> SearchIndex:
    index = open_search_index(
        CODE_SCHEMA,
        data_dir=data_dir,
        elasticsearch_url=url,
        index_name=f"bench-relevance-{uuid.uuid4().hex[:8]}",
    )
    index.ensure()
    return index


def median_query_ms(index: SearchIndex, match_all: bool) -> float:
    times = []
    for case in load_queries():
        start = time.perf_counter()
        index.search(case["query"], size=10, match_all=match_all)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--elasticsearch-url", default=os.environ.get("ELASTICSEARCH_URL"))
    args = parser.parse_args()
    docs = corpus_documents()
    paths = {doc["path"] for doc in docs}
    size_mb = sum(len(doc["content"].encode()) for doc in docs) / 1e6
    print(f"corpus: {len(docs)} files, {size_mb:.1f} MB of CPython {sys.version.split()[0]} stdlib")
    print(f"{'backend':<14} {'ranking':<26} {'recall@5':>8} {'MRR':>6} {'answered':>9} {'median ms':>10}")
    backends = [("sqlite", None)] + (
        [("elasticsearch", args.elasticsearch_url)] if args.elasticsearch_url else []
    )
    with tempfile.TemporaryDirectory() as data_dir:
        for name, url in backends:
            index = fresh_index(data_dir, url)
            try:
                index.bulk_upsert(docs).raise_for_errors()
                index.refresh()
                results = {}
                for label, match_all in (("old: every word (AND)", True), ("new: any word, ranked", False)):
                    found = measure(index, paths, match_all=match_all)
                    results[label] = found
                    print(
                        f"{name:<14} {label:<26} {found.recall_at_k:>8.3f} {found.mrr:>6.3f}"
                        f" {found.answered:>4}/{found.queries:<4} {median_query_ms(index, match_all):>10.1f}"
                    )
                old, new = results.values()
                ratios = f"recall@5 {new.recall_at_k / old.recall_at_k:.2f}, MRR {new.mrr / old.mrr:.2f}"
                print(f"{name:<14} new/old {ratios}")
                print(f"{name:<14} missed by new: {', '.join(new.misses) or 'none'}")
            finally:
                index.delete()


if __name__ == "__main__":
    main()
