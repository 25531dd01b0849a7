"""What the code index's mapping costs the Elasticsearch node, part by part, on the same documents.

On a node that shares the pipeline's cores, the node's CPU per document bounds the Elasticsearch path as
much as the pipeline's own (docs/throughput.md). This bench sends the same documents (CPython's ``Lib``,
as ``bench/index_bulk.py`` builds them, with the words the backend adds) into a fresh index per variant,
one bulk request at a time, through to a refresh, and reads the node's CPU from ``_nodes/stats/process``
before and after (after a pause, so the refresh's and flush's work is counted):

- ``current``: the backend's own mapping (``elastic_mapping.index_mappings``), the baseline: the text is
  stored, not indexed; ``content__words`` (every word in order, then each camelCase identifier's
  sub-words, cut client side) is searched and scored by the ``whitespace`` analyzer;
- ``text analyzed (2026-12-01)``: the text analyzed by the node's ``standard`` analyzer for BM25 and
  ``content__words`` holding each word once (``ordered=False``), as indexes were made before 2026-12-03;
- ``and words cut out (2026-11)``: that, with ``_source.excludes`` for the words, as indexes were made
  before 2026-12: the node re-serializes every document, and keeps the unfiltered one as
  ``_recovery_source``;
- ``no sub-word entries``: the current mapping without the camelCase entries: what sub-word search costs.

Printed per variant: the node's CPU seconds and the wall seconds (medians over ``--repeat`` rounds, the
variants in a rotating order), their ratio to ``current``, and the index's store size after a flush and
a merge to one segment (its stored fields and terms, as an operator's disk would hold them just after
indexing; a recovery source stays until a merge after its retention lease, 12 h by default, prunes it).
The words are cut before any round: the client's cost is ``bench/index_bulk.py``'s and the end to end
bench's to show.

    .venv/bin/python bench/es_mapping_cost.py --elasticsearch-url http://127.0.0.1:9200 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import sysconfig
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index_bulk import _Es, _post_bulk, load_documents, with_hints

from codelupe_dagster.backends.search import CODE_SCHEMA
from codelupe_dagster.backends.search.elastic_mapping import (
    WORDS_SUFFIX,
    document_source,
    index_mappings,
    words_fields,
)

INDEX = "codelupe-bench-mapping-cost"
CHUNK = 500  # documents per bulk request
SETTLE_S = 1.5  # after the refresh, before reading the node's CPU: its flush threads finish meanwhile

Documents = list[dict[str, Any]]


def current(docs: Documents) -> tuple[dict[str, Any], Documents]:
    return index_mappings(CODE_SCHEMA), [document_source(doc, CODE_SCHEMA.searched()) for doc in docs]


def text_analyzed(docs: Documents) -> tuple[dict[str, Any], Documents]:
    sources = [document_source(doc, CODE_SCHEMA.searched(), ordered=False) for doc in docs]
    return index_mappings(CODE_SCHEMA, ordered=False), sources


def words_cut_out(docs: Documents) -> tuple[dict[str, Any], Documents]:
    mappings, sources = text_analyzed(docs)
    mappings["_source"] = {"excludes": words_fields(CODE_SCHEMA)}
    return mappings, sources


def no_subword_entries(docs: Documents) -> tuple[dict[str, Any], Documents]:
    mappings, sources = current(docs)
    for source in sources:
        for name in CODE_SCHEMA.searched():
            if name + WORDS_SUFFIX in source:
                source[name + WORDS_SUFFIX] = source[name + WORDS_SUFFIX][:1]
    return mappings, sources


Variant = Callable[[Documents], tuple[dict[str, Any], Documents]]
VARIANTS: dict[str, Variant] = {
    "current": current,
    "text analyzed (2026-12-01)": text_analyzed,
    "and words cut out (2026-11)": words_cut_out,
    "no sub-word entries": no_subword_entries,
}


def bulk_bodies(sources: list[dict[str, Any]]) -> list[bytes]:
    bodies = []
    for start in range(0, len(sources), CHUNK):
        lines = []
        for source in sources[start : start + CHUNK]:
            lines.append(json.dumps({"index": {"_index": INDEX, "_id": source["id"]}}))
            lines.append(json.dumps(source, ensure_ascii=False))
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


def node_cpu_s(es: _Es) -> float:
    stats = es.call("GET", "/_nodes/stats/process")
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats["nodes"].values()) / 1000


def run_variant(
    es: _Es, idle_rate: float, mappings: dict[str, Any], bodies: list[bytes]
) -> tuple[float, float, int]:
    """(node CPU s, wall s, store bytes) of indexing `bodies` into a fresh index; `idle_rate` is the
    node's CPU per second of its own housekeeping, taken off the settling pause."""
    delete_index(es)
    settings = {"number_of_shards": 1, "number_of_replicas": 0}
    es.call("PUT", f"/{INDEX}", json.dumps({"settings": settings, "mappings": mappings}).encode())
    cpu_before = node_cpu_s(es)
    start = time.perf_counter()
    for body in bodies:
        _post_bulk(es, body)
    es.call("POST", f"/{INDEX}/_refresh")
    wall = time.perf_counter() - start
    time.sleep(SETTLE_S)
    cpu = node_cpu_s(es) - cpu_before - idle_rate * SETTLE_S
    es.call("POST", f"/{INDEX}/_forcemerge?max_num_segments=1")
    store = es.call("GET", f"/{INDEX}/_stats/store")["_all"]["primaries"]["store"]["size_in_bytes"]
    return cpu, wall, store


def idle_cpu_per_s(es: _Es, seconds: float = 3.0) -> float:
    """The node's CPU per second while nothing is sent (its own housekeeping)."""
    before = node_cpu_s(es)
    time.sleep(seconds)
    return max(0.0, (node_cpu_s(es) - before) / seconds)


def delete_index(es: _Es) -> None:
    try:
        es.call("DELETE", f"/{INDEX}")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:  # 404: the index is absent, nothing to delete
            raise


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--max-files", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--elasticsearch-url", default=os.environ.get("ELASTICSEARCH_URL"))
    args = parser.parse_args()
    if not args.elasticsearch_url:
        sys.exit("es_mapping_cost.py needs --elasticsearch-url (or ELASTICSEARCH_URL)")
    es = _Es(args.elasticsearch_url)

    docs = with_hints(load_documents(args.source, args.max_files))
    megabytes = sum(len(doc["content"].encode()) for doc in docs) / 1e6
    prepared = {name: variant(docs) for name, variant in VARIANTS.items()}
    bodies = {name: (mappings, bulk_bodies(docs_)) for name, (mappings, docs_) in prepared.items()}
    idle_rate = idle_cpu_per_s(es)
    print(
        f"{len(docs)} documents, {megabytes:.1f} MB of content, {args.repeat} rounds; idle node "
        f"{idle_rate:.3f} CPU-s/s subtracted",
        flush=True,
    )

    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    try:
        for round_ in range(args.repeat):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                results[name].append(run_variant(es, idle_rate, *bodies[name]))
    finally:
        delete_index(es)

    base_cpu = statistics.median(r[0] for r in results["current"])
    base_wall = statistics.median(r[1] for r in results["current"])
    base_store = statistics.median(r[2] for r in results["current"])
    print(
        f"{'variant':28s} {'node CPU s':>10s} {'x current':>9s} {'wall s':>7s} {'x current':>9s} "
        f"{'store MB':>9s} {'x current':>9s}"
    )
    for name, runs in results.items():
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        store = statistics.median(r[2] for r in runs)
        print(
            f"{name:28s} {cpu:10.2f} {cpu / base_cpu:9.2f} {wall:7.2f} {wall / base_wall:9.2f} "
            f"{store / 1e6:9.1f} {store / base_store:9.2f}"
        )
    for name, runs in results.items():
        print(f"  {name}: node CPU s per round {[round(r[0], 2) for r in runs]}")


if __name__ == "__main__":
    main()
