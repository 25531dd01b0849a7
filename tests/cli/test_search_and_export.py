from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from codelupe_dagster.cli import _register, cli
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
    return result.output


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


def test_export_loads_with_datasets(indexed: PlantedCorpus, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "export"
    assert "exported" in invoke("export", "--min-quality", "0.5", "--out", str(out), "--rows-per-shard", "4")
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(out), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert loaded.num_rows > 0
    assert min(loaded["quality_score"]) >= 0.5
    assert all(loaded["indexed_at"]) and all(json.loads(s) for s in loaded["quality_signals"])
    assert len(set(loaded["id"])) == loaded.num_rows
