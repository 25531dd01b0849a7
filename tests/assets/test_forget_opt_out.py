"""OPT_OUT_FILE applied by `crawled_repos` and `queued_repos` each run, materialized by Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import redis

from codelupe_dagster.assets.crawl import crawled_repos
from codelupe_dagster.assets.queue import queued_repos
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.resources.pipeline import PipelineResource
from tests.backends.sources.test_local import make_repo

KEYS = RedisKeys()


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict:
    assert result.success
    (event,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in event.metadata.items()}


def test_opt_out_lines_are_forgotten_on_the_next_run_and_never_crawled_again(
    data_dir: Path,
    resources_for,
    valkey_url: str,
    valkey_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "source"
    make_repo(source / "alpha", ["textwrap.py"])
    make_repo(source / "acme" / "gamma", ["colorsys.py"])
    opt_out = tmp_path / "opt-out.txt"
    monkeypatch.setenv("OPT_OUT_FILE", str(opt_out))  # not there yet: no patterns
    pipeline = PipelineResource(data_dir=str(data_dir), source=str(source))
    resources = resources_for(data_dir, valkey_url, pipeline=pipeline)

    first = _metadata(dg.materialize([crawled_repos, queued_repos], resources=resources), "crawled_repos")
    assert first["repos_new"] == 2 and first["opt_out_forgotten"] == 0
    assert valkey_client.zscore(KEYS.repos, "acme/gamma") is not None

    opt_out.write_text("# owners who opted out\nACME\n")
    result = dg.materialize([crawled_repos, queued_repos], resources=resources)
    crawl, queue = _metadata(result, "crawled_repos"), _metadata(result, "queued_repos")
    assert crawl["opt_out_forgotten"] == 1 and crawl["repos_forgotten_skipped"] == 1
    assert queue["opt_out_forgotten"] == 0  # already done by the crawl of the same run
    assert valkey_client.zscore(KEYS.repos, "acme/gamma") is None
    assert valkey_client.hget(KEYS.repo_meta, "acme/gamma") is None
    index = resources["search"].repo_index()
    assert set(index.get(["local/alpha", "acme/gamma"])) == {"local/alpha"}

    opt_out.write_text("")  # a removed line is not un-forgotten
    again = _metadata(dg.materialize([crawled_repos, queued_repos], resources=resources), "crawled_repos")
    assert again["repos_forgotten_skipped"] == 1 and again["repos_new"] == 0
    assert valkey_client.zscore(KEYS.repos, "acme/gamma") is None
