"""End to end on a local source: crawl → queue → batch sensor → batch_job (clone and every later per-batch
stage registered in the code location) → settle, through `run_pipeline`, the code behind `codelupe run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
import pygit2
import pytest
from rich.console import Console

from codelupe_dagster import definitions
from codelupe_dagster.assets import crawl
from codelupe_dagster.cli.batch_loop import run_pipeline
from codelupe_dagster.cli.run_summary import kept_breakdown
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.training import TrainingResource
from tests.support.ingest_fixtures import commit_change
from tests.support.ingest_helpers import KEYS, ingest_resources


def pipeline_defs(data_dir, redis_url, batch_size: int = 16, **redis_fields: object) -> dg.Definitions:
    """The real code location's stages (plus the crawl stage), with resources pointed at this test."""
    stages = list(definitions._STAGES)
    if crawl.defs not in stages:
        stages.insert(0, crawl.defs)
    resources: dict = {}
    for stage in stages:
        resources.update(stage.resources or {})
    resources.update(ingest_resources(data_dir, redis_url))
    if redis_fields:
        resources["redis"] = RedisResource(url=redis_url, data_dir=str(data_dir), **redis_fields)
    resources["pipeline"] = PipelineResource(data_dir=str(data_dir), batch_size=batch_size)
    resources["training"] = TrainingResource(data_dir=str(data_dir))
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
    defs = pipeline_defs(data_dir, redis_url, batch_size=2)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    with dg.instance_for_test() as instance:
        first = run_pipeline(defs, instance, str(source_dir), train=False, console=quiet)
        assert first.stopped is None
        assert first.enqueued == 3
        assert first.batches_succeeded == 2 and first.batches_failed == 0  # 3 repos, batches of 2
        assert first.repos_done == 3
        assert first.totals["cloned_repos"]["cloned"] == 3
        # Every number of the summary is classified (summed or latest), and the files add up: each kept
        # file is indexed or below the index threshold; the index size is the index's, not a sum.
        assert first.unclassified == set()
        scored, indexed = first.totals["scored_files"], first.totals["es_code_index"]
        assert scored["kept"] > 0
        assert scored["kept"] == indexed["indexed"] + indexed["below_threshold"] == indexed["spooled"]
        index = defs.resources["search"].process_config_and_initialize().code_index()
        assert indexed["index_size_bytes"] == index.size_bytes()
        assert indexed["dagster/row_count"] == index.count() == indexed["indexed"]  # the index's, not a sum
        assert (
            kept_breakdown(first)
            == f"kept {scored['kept']} = indexed {indexed['indexed']} + 0 below the index threshold"
        )
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


@pytest.mark.slow
def test_an_always_failing_repo_is_parked_and_poisons_no_later_run(
    data_dir, redis_url, redis_client, source_dir, monkeypatch
):
    """Its batch succeeds for the others; it backs off, is parked after MAX_REPO_ATTEMPTS, and later runs
    skip it until `codelupe retry` — none of them fails or loops."""
    listing = source_dir.parent / "repos.txt"
    paths = [str(p) for p in sorted(source_dir.iterdir())]
    # An https URL to a host outside the allow-list: refused on every attempt.
    listing.write_text("\n".join([*paths, "https://git.invalid/poison/repo.git"]) + "\n")
    defs = pipeline_defs(data_dir, redis_url, batch_size=2, max_repo_attempts=3, retry_backoff_s=0.2)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    with dg.instance_for_test() as instance:
        first = run_pipeline(defs, instance, str(listing), train=False, console=quiet)
        assert first.stopped is None, first.stopped
        assert first.parked == ["poison/repo"]
        assert first.repos_done == 3 and first.batches_failed == 0
        parked = json.loads(redis_client.hget(KEYS.dead, "poison/repo"))
        assert parked["attempts"] == 3 and "host_not_allowed" in parked["reason"]
        assert redis_client.hlen(KEYS.inflight) == 0 and redis_client.zcard(KEYS.delayed) == 0

        again = run_pipeline(defs, instance, str(listing), train=False, console=quiet)
        assert again.stopped is None and again.enqueued == 0 and again.batches_succeeded == 0
        assert again.parked == ["poison/repo"]


def _run_cli(env_overrides: dict[str, str], tmp_path, source_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATA_DIR": str(tmp_path / "cli-data"), "DAGSTER_HOME": "", "ELASTICSEARCH_URL": ""}
    env.update(env_overrides)
    command = [sys.executable, "-m", "codelupe_dagster.cli", "run", "--source", str(source_dir), "--no-train"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("overrides", "says", "code"),
    [
        ({"BATCH_SIZE": "lots"}, "BATCH_SIZE must be an integer", 2),  # configuration
        ({"REDIS_URL": "redis://ops:hunter2@127.0.0.1:9/0"}, "unreachable", 69),  # service unavailable
    ],
)
def test_bad_configuration_or_service_is_one_clear_line_and_its_exit_code(
    overrides, says, code, tmp_path, source_dir
):
    done = _run_cli(overrides, tmp_path, source_dir)
    assert done.returncode == code, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr + done.stdout
