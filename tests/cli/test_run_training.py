"""`codelupe run` ends in a checkpoint on the embedded default, and does not retrain on unchanged data."""

from __future__ import annotations

import os

import dagster as dg
import pytest
from rich.console import Console

from codelupe_dagster.backends.sources.samples import build_sample_sources
from codelupe_dagster.cli.run import run_pipeline
from codelupe_dagster.training.checkpoints import list_checkpoints
from tests.cli.test_run import pipeline_defs

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_headless_run_trains_once_then_is_up_to_date(data_dir, valkey_url, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    sources = build_sample_sources(data_dir / "sources", max_repos=3)
    defs = pipeline_defs(data_dir, valkey_url)
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    with dg.instance_for_test() as instance:
        first = run_pipeline(defs, instance, str(data_dir / "sources"), console=quiet)
        assert first.stopped is None
        assert first.repos_done == len(sources) == 3
        assert first.training == "succeeded"
        checkpoints = list_checkpoints(data_dir)
        assert [c.version for c in checkpoints] == ["v0001"]
        manifest = checkpoints[0].manifest
        assert manifest["documents"] > 0 and manifest["tokens"] > 0
        assert manifest["base_model"] == "local:tiny-qwen2"

        second = run_pipeline(defs, instance, str(data_dir / "sources"), console=quiet)
        assert second.enqueued == 0
        assert second.training == "up to date (v0001: no new samples)"
        assert [c.version for c in list_checkpoints(data_dir)] == ["v0001"]
