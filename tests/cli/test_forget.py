"""`codelupe forget` and `codelupe status` as a user runs them, over state the real stages wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from codelupe_dagster.backends.search import Filters
from codelupe_dagster.resources import SearchIndexResource
from codelupe_dagster.training import checkpoints
from codelupe_dagster.training.data import CorpusSelection
from codelupe_dagster.training.manifest import data_fields
from tests.stages.test_forget import A, B, corpus, enqueue, run_popped  # noqa: F401
from tests.stages.test_repo_updates import Stack


def _cli(data_dir: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    environ.update(DATA_DIR=str(data_dir), REDIS_URL=redis_url)
    return subprocess.run(
        [sys.executable, "-m", "codelupe_dagster.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def _checkpoint(stack: Stack, version: str) -> None:
    """A checkpoint whose manifest the real manifest code wrote, trained on everything indexed now."""
    docs = list(stack.search.code_index().iter_documents(fields=["id", "content", "repo"]))
    selection = CorpusSelection(train=docs, eval=[], watermark=None)
    manifest = {"version": version, **data_fields(selection)}
    checkpoints.publish(checkpoints.staging_dir(stack.data_dir, version), version, manifest)


def test_forget_prints_per_store_and_status_names_the_checkpoint(
    data_dir: Path,
    valkey_url: str,
    valkey_client: redis.Redis,
    corpus: dict[str, Any],  # noqa: F811
) -> None:
    stack = Stack(data_dir, valkey_url, SearchIndexResource(data_dir=str(data_dir)))
    enqueue(stack, corpus["a"], corpus["b"])
    run_popped(stack, corpus["repos"])
    _checkpoint(stack, "v0001")
    written = checkpoints.list_checkpoints(data_dir)[0]
    assert written.manifest["trained_on"]["content_ids"] == 5  # 4 of A, 1 of B; the ids in a side file
    assert len(checkpoints.trained_content_ids(written)) == 5

    dry = _cli(data_dir, valkey_url, "forget", "--dry-run", "acme")
    assert dry.returncode == 0, dry.stderr
    assert "would forget acme (prefix): 1 repositories, 4 indexed documents" in dry.stdout
    assert stack.search.code_index().count(Filters(repos=(A,))) == 4

    done = _cli(data_dir, valkey_url, "forget", "acme/app", "--reason", "owner asked")
    assert done.returncode == 0, done.stderr
    assert "forgot acme/app (prefix): 1 repositories, 4 indexed documents" in done.stdout
    assert "removed: " in done.stdout and "index 4" in done.stdout
    assert "queue_dead 0" not in done.stdout  # stores with nothing removed are left out of the text
    assert f"carriers re-queued for a full re-read: {B}" in done.stdout

    status = _cli(data_dir, valkey_url, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["forgotten"]["acme/app"]["state"] == "done"
    assert report["checkpoints_on_forgotten_data"] == {
        "v0001": {"repos": [A], "content_ids": 4, "patterns": ["acme/app"]}
    }
    table = _cli(data_dir, valkey_url, "status")
    assert "v0001: acme/app" in table.stdout

    undo = _cli(data_dir, valkey_url, "forget", "--undo", "acme/app")
    assert undo.returncode == 0 and "dropped acme/app" in undo.stdout
    bad = _cli(data_dir, valkey_url, "forget", "*")
    assert bad.returncode == 2 and "not a forget pattern" in bad.stderr
