"""End to end on a local source: crawl → queue → batch sensor → batch_job (clone and every later per-batch
stage registered in the code location) → settle, through `run_pipeline`, the code behind `codelupe run`."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pygit2
import pytest
from rich.console import Console

from codelupe_dagster import definitions
from codelupe_dagster.assets import crawl
from codelupe_dagster.cli.run import run_pipeline
from codelupe_dagster.resources.github import GitHubResource
from tests.ingest.conftest import commit_change
from tests.ingest.helpers import KEYS, ingest_resources


def pipeline_defs(data_dir, redis_url) -> dg.Definitions:
    """The real code location's stages (plus the crawl stage), with resources pointed at this test."""
    stages = list(definitions._STAGES)
    if crawl.defs not in stages:
        stages.insert(0, crawl.defs)
    resources: dict = {}
    for stage in stages:
        resources.update(stage.resources or {})
    resources.update(ingest_resources(data_dir, redis_url))
    resources.setdefault("github", GitHubResource())  # the crawl's resource; unused for a local source
    return dg.Definitions(
        assets=[a for s in stages for a in (s.assets or [])],
        asset_checks=[c for s in stages for c in (s.asset_checks or [])],
        jobs=[j for s in stages for j in (s.jobs or [])],
        sensors=[x for s in stages for x in (s.sensors or [])],
        schedules=[x for s in stages for x in (s.schedules or [])],
        resources=resources,
    )


@pytest.mark.slow
def test_local_source_end_to_end_then_incremental(data_dir, redis_url, redis_client, source_dir, monkeypatch):
    monkeypatch.setenv("BATCH_SIZE", "2")
    defs = pipeline_defs(data_dir, redis_url)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    with dg.instance_for_test() as instance:
        first = run_pipeline(defs, instance, str(source_dir), train=False, console=quiet)
        assert first.stopped is None
        assert first.enqueued == 3
        assert first.batches_succeeded == 2 and first.batches_failed == 0  # 3 repos, batches of 2
        assert first.repos_done == 3
        assert first.totals["cloned_repos"]["cloned"] == 3
        assert redis_client.zcard(KEYS.repos) == 0 and redis_client.hlen(KEYS.inflight) == 0
        processed = {k.decode(): v.decode() for k, v in redis_client.hgetall(KEYS.processed_repos).items()}
        assert len(processed) == 3
        for name, head in processed.items():
            assert str(pygit2.Repository(str(data_dir / "repos" / name)).head.target) == head

        again = run_pipeline(defs, instance, str(source_dir), train=False, console=quiet)
        assert (again.enqueued, again.batches_succeeded, dict(again.totals)) == (0, 0, {})

        changed = sorted(p for p in source_dir.iterdir())[0]
        new_head = commit_change(changed)
        third = run_pipeline(defs, instance, str(source_dir), train=False, console=quiet)
        assert third.enqueued == 1 and third.batches_succeeded == 1
        assert third.totals["cloned_repos"]["updated"] == 1
        assert third.totals["cloned_repos"].get("cloned", 0) == 0
        assert new_head in {v.decode() for v in redis_client.hvals(KEYS.processed_repos)}


@pytest.mark.slow
def test_codelupe_run_command(tmp_path, valkey_url, valkey_client, source_dir):
    data = tmp_path / "cli-data"
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "REDIS_URL": valkey_url,
        "DAGSTER_HOME": "",
        "REPOS_DIR": "",
        "ELASTICSEARCH_URL": "",
    }
    command = [sys.executable, "-m", "codelupe_dagster.cli", "run", "--source", str(source_dir)]
    done = subprocess.run(
        [*command, "--no-train", "--batch-size", "2"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "batches succeeded" in done.stderr
    assert valkey_client.zcard(KEYS.repos) == 0 and valkey_client.hlen(KEYS.inflight) == 0
    assert len(list((data / "repos").glob("*/*"))) == 3
    assert (data / "dagster").is_dir()  # the persistent instance, for `dagster dev` to show the runs
