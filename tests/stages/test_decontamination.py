"""Decontamination through scoring: a file that holds an evaluation problem is marked with the set's name by
the scoring workers, counted, indexed like any other file, and left out of training selection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.search.base import CODE_SCHEMA
from codelupe_dagster.backends.spool import iter_documents
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.file_processing import ProcessingConfig
from codelupe_dagster.stages.handoff import ClonedBatch, cloned_manifest_path, spool_path
from codelupe_dagster.stages.score_batch import BatchScorer
from codelupe_dagster.training.data import select_corpus
from tests.support.corpus import STDLIB, make_repo, write_cloned_manifest

BATCH = "b20261201T120000-decont"
PROBLEM = {
    "task_id": "lanterns/0",
    "prompt": 'def lantern_count(streets: dict[str, int]) -> int:\n    """Count the lanterns a night '
    "watchman lights when he walks every street of the town exactly once, given how many lanterns hang in "
    'each street and skipping the streets whose names start with a vowel.\n    """\n',
    "canonical_solution": "    return sum(count for name, count in streets.items() if name[:1].lower() "
    "not in 'aeiou')\n",
}


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "pool"])
def test_an_overlapping_file_is_marked_indexed_and_left_out_of_training(
    tmp_path: Path, data_dir: Path, valkey_client: redis.Redis, sqlite_index_factory, workers: int
) -> None:
    eval_set = tmp_path / "lanterns.jsonl"
    eval_set.write_text(json.dumps(PROBLEM) + "\n")
    real = (STDLIB / "json" / "decoder.py").read_text()
    files = {
        "json/decoder.py": real.encode(),
        "town/lights.py": (real + "\n\n" + PROBLEM["prompt"] + PROBLEM["canonical_solution"]).encode(),
        "json/encoder.py": (STDLIB / "json" / "encoder.py").read_bytes(),
    }
    path = tmp_path / "acme__town"
    write_cloned_manifest(data_dir, BATCH, [("acme/town", path, make_repo(path, files))])

    config = ProcessingConfig(decontaminate_sets=f"lanterns={eval_set}")
    scorer = BatchScorer(RedisDedupLedger(valkey_client, RedisKeys("pipeline:")), config, workers=workers)
    spool = spool_path(data_dir, BATCH)
    counts = scorer.run(ClonedBatch.load(cloned_manifest_path(data_dir, BATCH)), spool)
    docs = [doc for chunk in iter_documents(spool) for doc in chunk]

    marks = {doc["path"]: doc["contaminated"] for doc in docs}
    assert marks == {"json/decoder.py": None, "town/lights.py": "lanterns", "json/encoder.py": None}
    assert counts.contaminated == {"lanterns": 1}
    assert counts.to_dict()["contaminated"] == {"lanterns": 1}

    index = sqlite_index_factory(CODE_SCHEMA)
    index.ensure()
    # indexed_at is stamped by the index stage; the training selection reads it as its watermark.
    stamped = [{**doc, "indexed_at": f"2026-12-01T00:00:0{i}+00:00"} for i, doc in enumerate(docs)]
    index.bulk_upsert(stamped).raise_for_errors()
    index.refresh()
    assert index.count() == 3  # kept in the index: search shows it, marked
    assert index.terms("contaminated") == {"lanterns": 1}
    selection = select_corpus(index, min_quality=0.0, max_documents=100, eval_fraction=0.0)
    clean = sorted(doc["content"] for doc in docs if doc["contaminated"] is None)
    assert sorted(doc["content"] for doc in selection.train) == clean and len(clean) == 2
    assert selection.excluded == {"contaminated": 1}


def test_without_sets_nothing_is_marked(tmp_path: Path, data_dir: Path, valkey_client: redis.Redis) -> None:
    path = tmp_path / "acme__plain"
    files = {"town/lights.py": (PROBLEM["prompt"] + PROBLEM["canonical_solution"]).encode()}
    write_cloned_manifest(data_dir, BATCH, [("acme/plain", path, make_repo(path, files))])
    ledger = RedisDedupLedger(valkey_client, RedisKeys("pipeline:"))
    scorer = BatchScorer(ledger, ProcessingConfig(), workers=0)
    counts = scorer.run(ClonedBatch.load(cloned_manifest_path(data_dir, BATCH)), spool_path(data_dir, BATCH))
    assert counts.kept == 1 and counts.contaminated == {}
