"""`codelupe run` ends in a checkpoint on the embedded default, and does not retrain on unchanged data."""

from __future__ import annotations

import io

import dagster as dg
import pytest
from rich.console import Console

from codelupe_dagster.backends.sources.samples import build_sample_sources
from codelupe_dagster.cli.batch_loop import run_pipeline
from codelupe_dagster.training.checkpoints import list_checkpoints
from codelupe_dagster.training.progress import StepReport, listening
from tests.cli.test_run import pipeline_defs

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_headless_run_trains_once_then_is_up_to_date(data_dir, valkey_url, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    sources = build_sample_sources(data_dir / "sources", max_repos=3)
    defs = pipeline_defs(data_dir, valkey_url)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200)
    reports: list[StepReport] = []
    with dg.instance_for_test() as instance, listening(reports.append):
        first = run_pipeline(defs, instance, str(data_dir / "sources"), console=console)
        assert first.stopped is None
        assert first.repos_done == len(sources) == 3
        assert first.training == "succeeded"
        checkpoints = list_checkpoints(data_dir)
        assert [c.version for c in checkpoints] == ["v0001"]
        manifest = checkpoints[0].manifest
        assert manifest["documents"] > 0 and manifest["tokens"] > 0
        assert manifest["base_model"] == "local:tiny-qwen2"

        # Every optimizer step was reported once, in order, and the bar showed the last one.
        steps = manifest["steps"]
        assert [r.step for r in reports] == list(range(1, steps + 1))
        assert {r.planned for r in reports} == {manifest["steps_planned"]}
        assert reports[-1].tokens == manifest["trained_tokens"]
        shown = screen.getvalue()
        assert "training steps" in shown and f"{steps}/{steps}" in shown
        assert f"loss {reports[-1].loss:.4f}" in shown and "tokens/s" in shown
        # Under Dagster the same numbers reach the run's log (every log_every steps and the last).
        [train_run] = instance.get_runs(filters=dg.RunsFilter(job_name="qwen_training_job"))
        messages = [entry.user_message for entry in instance.all_logs(train_run.run_id)]
        assert any(m.startswith(f"step {steps}/{steps}: loss ") for m in messages), messages[-10:]

        second = run_pipeline(defs, instance, str(data_dir / "sources"), console=console)
        assert second.enqueued == 0
        assert second.training == "up to date (v0001: no new samples)"
        assert [c.version for c in list_checkpoints(data_dir)] == ["v0001"]
