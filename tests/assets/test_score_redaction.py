"""`scored_files` under Dagster: a token and an e-mail address in a file name reach neither the
materialization's metadata nor the run's event log, nor the failure reasons the queue records."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import redis

from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.core.keys import RedisKeys
from tests.stages.test_score_batch_redaction import ADDRESS, leaky_repo
from tests.support.corpus import write_cloned_manifest
from tests.support.planted import GITHUB_TOKEN

BATCH = "b20261201T120000-leaky0"


def test_scored_files_metadata_and_event_log_carry_redacted_paths(
    data_dir: Path,
    redis_url: str,
    tmp_path: Path,
    resources_for: Callable[..., dict],
    caplog: pytest.LogCaptureFixture,
) -> None:
    head = leaky_repo(tmp_path / "leaky.git", "creds.py")
    write_cloned_manifest(data_dir, BATCH, [("acme/leaky", tmp_path / "leaky.git", head)])
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repo_batches", [BATCH])
    with caplog.at_level(logging.DEBUG):
        result = dg.materialize(
            [scored_files],
            partition_key=BATCH,
            instance=instance,
            resources=resources_for(data_dir, redis_url),
            run_config={"ops": {"scored_files": {"config": {"file_workers": 0}}}},
        )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("scored_files")
    failed = materialization.metadata["failed_repos"].value
    assert "people/<EMAIL>/<SECRET:github_pat>/creds.py" in failed["acme/leaky"]

    event_log = "\n".join(repr(event) for event in instance.all_logs(result.run_id))
    assert "people/<EMAIL>/<SECRET:github_pat>/creds.py" in event_log  # the metadata is in the log
    # The reason the queue keeps for settling (and shows in `codelupe status`).
    queued = redis.Redis.from_url(redis_url).hgetall(RedisKeys().batch_failures(BATCH))
    assert b"<SECRET:github_pat>" in queued[b"acme/leaky"]
    for raw in (GITHUB_TOKEN, ADDRESS):
        assert raw not in event_log and raw not in caplog.text and raw not in json.dumps(failed)
        assert raw.encode() not in queued[b"acme/leaky"]
