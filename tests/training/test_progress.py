"""Step reports while a run trains, and the loss curve a checkpoint leaves for the UI."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import dagster as dg
import pytest

from codelupe_dagster.assets.train import _metadata
from codelupe_dagster.training.progress import (
    MAX_CURVE_POINTS,
    StepReport,
    every,
    listening,
    loss_curve,
    report_step,
)


@pytest.mark.parametrize(
    ("losses", "expected"),
    [
        ([], []),
        ([3.0], [{"step": 1, "loss": 3.0}]),
        ([3.0, 2.0, 1.0], [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 1.0}]),
        ([float("nan"), 2.0], [{"step": 2, "loss": 2.0}]),  # JSON has no NaN: a diverged step is left out
    ],
)
def test_a_short_curve_keeps_every_step(losses, expected):
    assert loss_curve(losses) == expected


def test_a_long_curve_is_averaged_down_to_the_bound_and_keeps_its_ends():
    losses = [10.0 - i / 1000 for i in range(1313)]  # the held-out CPU run's step count
    points = loss_curve(losses)
    assert len(points) == MAX_CURVE_POINTS
    steps = [p["step"] for p in points]
    assert steps == sorted(set(steps)) and steps[-1] == 1313
    assert points[0]["loss"] == pytest.approx(sum(losses[:6]) / 6)  # 1313 // 200: spans of 6 or 7
    assert points[-1]["loss"] == pytest.approx(sum(losses[-7:]) / 7)
    assert all(a["loss"] > b["loss"] for a, b in itertools.pairwise(points))
    assert len(loss_curve(losses, max_points=7)) == 7


def test_listeners_hear_steps_only_while_listening_and_every_filters():
    heard: list[StepReport] = []
    sparse: list[int] = []
    report_step(1, 5, 9.0, 100, 1.0)  # nobody listens: nothing happens
    with listening(heard.append), listening(every(2, lambda r: sparse.append(r.step))):
        for step in range(1, 6):
            report_step(step, 5, 10.0 - step, 100 * step, float(step))
    report_step(6, 6, 1.0, 600, 6.0)
    assert [r.step for r in heard] == [1, 2, 3, 4, 5]
    assert sparse == [2, 4, 5]  # every 2nd, and the last planned step
    assert heard[-1].tokens_per_second == 100.0
    assert heard[-1].line() == "step 5/5: loss 5.0000, 100 tokens/s, 500 tokens"


def test_a_listener_that_fails_is_removed_and_its_error_reaches_the_trainer():
    def broken(report: StepReport) -> None:
        raise RuntimeError("display gone")

    with pytest.raises(RuntimeError, match="display gone"), listening(broken):
        report_step(1, 1, 1.0, 1, 1.0)
    report_step(1, 1, 1.0, 1, 1.0)  # no longer registered


def test_metadata_keeps_numbers_numeric_and_carries_the_loss_curve():
    manifest = {
        "version": "v0001",
        "languages": {"python": 3},
        "train_loss": 7,  # an int from JSON: still a float series in the UI
        "eval_loss_before": None,
        "peak_memory_bytes": 2**33,
        "trainable_parameters": 1234,
        "stopped_on": "completed",
        "liger": False,
        "loss_curve": loss_curve([3.0, 2.5, 2.0]),
    }
    metadata = _metadata(Path("/tmp/v0001"), manifest)
    assert isinstance(metadata["train_loss"], dg.FloatMetadataValue) and metadata["train_loss"].value == 7.0
    assert "eval_loss_before" not in metadata
    for key in ("peak_memory_bytes", "trainable_parameters"):
        assert isinstance(metadata[key], dg.IntMetadataValue), key
    assert metadata["stopped_on"] == "completed" and "liger" not in metadata
    curve = metadata["loss_curve"]
    assert isinstance(curve, dg.TableMetadataValue)
    assert [(r.data["step"], r.data["loss"]) for r in curve.value.records] == [(1, 3.0), (2, 2.5), (3, 2.0)]
    assert [c.type for c in curve.value.schema.columns] == ["int", "float"]
    assert _metadata(Path("/tmp/v0001"), {**manifest, "loss_curve": []})["loss_curve"].value.records == []


@pytest.mark.train
def test_the_trainer_reports_each_step_in_order_and_records_the_curve(data_dir: Path, with_tiny_model):
    pytest.importorskip("peft")
    from codelupe_dagster.resources.search import SearchIndexResource
    from codelupe_dagster.training.config import TrainingConfig
    from codelupe_dagster.training.trainer import run_training
    from tests.support.training_docs import stdlib_docs

    with_tiny_model(data_dir)
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    index.bulk_upsert(stdlib_docs(["json", "email"], per_package=3, max_chars=1500)).raise_for_errors()
    index.refresh()
    config = TrainingConfig(
        data_dir=data_dir,
        seq_len=64,
        micro_batch_rows=1,
        tokens_per_step=64,
        max_steps=4,
        lora_r=4,
        eval_fraction=0.0,
        wandb_mode="disabled",
        checkpoint_every=0,
    )
    reports: list[StepReport] = []
    with listening(reports.append):
        manifest = run_training(config, index, log=lambda _: None).manifest
    assert [r.step for r in reports] == [1, 2, 3, 4] and {r.planned for r in reports} == {4}
    tokens = [r.tokens for r in reports]
    assert tokens == sorted(tokens) and tokens[-1] == manifest["trained_tokens"]
    assert all(math.isfinite(r.loss) and r.tokens_per_second > 0 for r in reports)
    assert manifest["loss_curve"] == [{"step": r.step, "loss": r.loss} for r in reports]
    assert manifest["loss_curve"][0]["loss"] == manifest["train_loss_first_step"]


def test_the_run_bar_shows_steps_rate_and_loss_and_listens_only_while_open():
    import io

    from rich.console import Console

    from codelupe_dagster.cli.training_progress import training_progress
    from codelupe_dagster.training import progress

    screen = io.StringIO()
    with training_progress(Console(file=screen, force_terminal=True, width=160)):
        assert len(progress._listeners) == 1
        for step in (1, 2, 3):
            report_step(step, 3, 4.0 - step, 1000 * step, float(step))
    assert progress._listeners == []
    shown = screen.getvalue()
    assert "training steps" in shown and "3/3" in shown
    assert "1,000 tokens/s" in shown and "loss 1.0000" in shown
    with training_progress(None):  # no console (a caller that shows nothing): nobody listens
        assert progress._listeners == []


def test_a_launched_runs_step_line_reads_back_as_the_report_it_was() -> None:
    """Rank 0 prints each step as a marked JSON line; the launcher reads exactly that report back, and
    leaves every other line (a log line that merely mentions a step, a damaged marked line) to the log."""
    from codelupe_dagster.training import distributed
    from codelupe_dagster.training.progress import StepReport

    report = StepReport(step=3, planned=10, loss=2.5, tokens=4096, seconds=1.25)
    line = distributed.step_line(report)
    assert line.startswith(distributed.STEP_MARKER)
    assert distributed.read_step_line(line) == report
    assert distributed.read_step_line(report.line()) is None
    assert distributed.read_step_line(distributed.STEP_MARKER + '{"step": 3}') is None
    assert distributed.read_step_line(distributed.STEP_MARKER + "not json") is None
