from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from codelupe_dagster.backends.corpus_stats import CorpusStats
from codelupe_dagster.cli import _register, cli
from codelupe_dagster.core.keys import DEFAULT_PREFIX, RedisKeys
from tests.assets.test_score_and_index import es_code_index, materialize, scored_files
from tests.support.planted import GITHUB_TOKEN, PlantedCorpus


@pytest.fixture
def indexed(
    planted: PlantedCorpus, valkey_url: str, resources_for: Callable[..., dict], monkeypatch
) -> PlantedCorpus:
    monkeypatch.setenv("REDIS_URL", valkey_url)
    assert materialize(
        planted, resources_for(planted.data_dir, valkey_url), [scored_files, es_code_index]
    ).success
    return planted


def invoke(*args: str) -> str:
    _register()
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout  # stderr starts with the `state:` line


def test_search_json_hits_with_lines(indexed: PlantedCorpus) -> None:
    hits = json.loads(invoke("search", "JSONDecodeError", "--language", "python", "--json", "--limit", "5"))
    assert hits and len(hits) <= 5
    top = hits[0]
    assert top["repo"] == "acme/alpha" and top["path"].startswith("json/")
    assert top["score"] > 0 and top["lines"]
    assert all("jsondecodeerror" in line["text"].lower() for line in top["lines"])
    assert json.loads(invoke("search", GITHUB_TOKEN, "--json")) == []
    assert json.loads(invoke("search", "JSONDecodeError", "--min-quality", "1.01", "--json")) == []
    assert "acme/alpha:json/" in invoke("search", "JSONDecodeError")


def test_export_loads_with_datasets(indexed: PlantedCorpus, tmp_path: Path, valkey_url: str) -> None:
    """The Hub layout loads as it is: the default config (`all`) and one config per language, with the
    card's sizes; stats.json carries the scoring counts scored_files recorded for the batch."""
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "export"
    output = invoke("export", "--min-quality", "0.5", "--out", str(out), "--rows-per-shard", "4")
    stats = json.loads((out / "stats.json").read_text())
    assert f"exported {stats['documents']:,} documents" in output
    cache = str(tmp_path / "hf")
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=cache)
    assert loaded.num_rows == stats["documents"] > 0
    assert min(loaded["quality_score"]) >= 0.5
    assert all(loaded["indexed_at"]) and all(json.loads(s) for s in loaded["quality_signals"])
    assert len(set(loaded["id"])) == loaded.num_rows
    assert list(loaded.features) == list(stats["features"])
    for language, numbers in stats["languages"].items():
        one = datasets.load_dataset(str(out), language, split="train", cache_dir=cache)
        assert one.num_rows == numbers["documents"] and set(one["language"]) == {language}
    assert "python" in stats["languages"]

    # The batch's scoring counts, recorded once its spool was committed, reach the card.
    corpus = stats["corpus"]
    assert corpus["batches"] == 1 and corpus["seen"] > corpus["kept"] > 0
    assert corpus["exact_duplicates"] >= 1 and corpus["near_duplicates"] >= 1  # decoder_copy, encoder_fork
    assert corpus["dropped"] and stats["duplicates"] == {
        "exact": corpus["exact_duplicates"],
        "near": corpus["near_duplicates"],
    }
    recorded = CorpusStats(redis.Redis.from_url(valkey_url), RedisKeys(DEFAULT_PREFIX))
    assert recorded.batch(indexed.batch_id)["seen"] == corpus["seen"]
    assert f"{corpus['seen']:,} files seen" in (out / "README.md").read_text()
