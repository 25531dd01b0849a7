"""Mid-run checkpoints: a killed run continues where it stopped, on its own plan only, and a broken
checkpoint is skipped with a warning rather than crashing the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.training import checkpoints
from tests.support.training_docs import stdlib_docs

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]
# Small enough for seconds of CPU; dropout on, so a resume that did not restore the torch RNG would differ.
SETTINGS: dict[str, Any] = dict(
    seq_len=128,
    micro_batch_rows=2,
    tokens_per_step=256,
    epochs=20.0,
    max_steps=9,
    learning_rate=5e-3,
    lora_r=4,
    lora_alpha=8,
    lora_dropout=0.1,
    eval_fraction=0.25,
    max_eval_tokens=1024,
    wandb_mode="disabled",
    checkpoint_every=3,
)
# The child trains, and once it has written its first mid-run checkpoint and done one step more, stops
# inside the next step (before its backward pass) and waits there to be killed.
CHILD = """
import json, sys, time
from pathlib import Path
import torch
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.training import optimization, resume, trainer
from codelupe_dagster.training.config import TrainingConfig

data_dir, settings, marker = Path(sys.argv[1]), json.loads(sys.argv[2]), Path(sys.argv[4])
torch.set_num_threads(int(sys.argv[3]))
save, train_step, after = resume.save, optimization.train_step, []

def save_and_mark(*args, **kwargs):
    path = save(*args, **kwargs)
    marker.write_text(path.name)
    return path

def train_step_then_hang(*args):
    if marker.exists():
        after.append(1)
        if len(after) == 2:
            marker.with_suffix(".hung").write_text("")
            time.sleep(600)
    return train_step(*args)

resume.save, optimization.train_step = save_and_mark, train_step_then_hang
index = SearchIndexResource(data_dir=str(data_dir)).code_index()
trainer.run_training(TrainingConfig(data_dir=data_dir, **settings), index, log=lambda _: None)
"""


def _docs() -> list[dict]:
    return stdlib_docs(["json", "email", "http", "logging"], per_package=3, max_chars=2500)


def _prepared(data_dir: Path, with_tiny_model) -> Any:
    data_dir.mkdir(parents=True, exist_ok=True)
    with_tiny_model(data_dir)
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    index.bulk_upsert(_docs()).raise_for_errors()
    index.refresh()
    return index


def _config(data_dir: Path, **overrides: Any) -> Any:
    from codelupe_dagster.training.config import TrainingConfig

    return TrainingConfig(data_dir=data_dir, **{**SETTINGS, **overrides})


def _adapter(checkpoint: checkpoints.Checkpoint) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(checkpoint.adapter_dir / "adapter_model.safetensors"))


def _kill_after_first_partial(data_dir: Path, tmp_path: Path) -> None:
    """Run the child until it hangs one step past its first mid-run checkpoint, then SIGKILL it."""
    marker = tmp_path / "first-partial"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(torch.get_num_threads())}
    args = [str(data_dir), json.dumps(SETTINGS), str(torch.get_num_threads()), str(marker)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.with_suffix(".hung").exists():
            if child.poll() is not None:
                output = child.stdout.read().decode(errors="replace") if child.stdout else ""
                pytest.fail(f"the training child exited ({child.returncode}) before it was killed:\n{output}")
            if time.monotonic() > deadline:
                pytest.fail("the training child never reached its first mid-run checkpoint")
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)  # this test's own child, by its pid
        child.wait(timeout=60)
        if child.stdout:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert marker.read_text() == "step-00000003"


def test_a_killed_run_continues_from_its_mid_run_checkpoint_to_the_uninterrupted_adapter(
    data_dir: Path, tmp_path: Path, with_tiny_model
) -> None:
    from codelupe_dagster.training.trainer import run_training

    index = _prepared(data_dir, with_tiny_model)
    _kill_after_first_partial(data_dir, tmp_path)
    # The kill left mid-run state only, never a checkpoint the sensor or a resume could take for a model.
    assert checkpoints.latest_checkpoint(data_dir) is None
    assert [p.name for p in checkpoints.partial_dirs(data_dir)] == ["step-00000003"]

    lines: list[str] = []
    resumed = run_training(_config(data_dir), index, log=lines.append)
    assert any("continuing at step 3/9 from a mid-run checkpoint" in line for line in lines)
    assert resumed.manifest["resumed_at_steps"] == [3]
    assert (resumed.manifest["steps"], resumed.manifest["steps_planned"]) == (9, 9)
    assert resumed.manifest["stopped_on"] == "completed"
    assert not checkpoints.partial_root(data_dir).exists()  # a finished run leaves no partial state

    straight_dir = tmp_path / "straight"
    straight = run_training(
        _config(straight_dir), _prepared(straight_dir, with_tiny_model), log=lambda _: None
    )
    assert straight.manifest["resumed_at_steps"] == []
    assert not checkpoints.partial_root(straight_dir).exists()

    # fp32 on the CPU with the same thread count: equal to float rounding (measured: identical).
    expected, got = _adapter(straight), _adapter(resumed)
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor, rtol=0, atol=1e-6, msg=name)
    for key in (
        "train_loss",
        "train_loss_first_step",
        "eval_loss_before",
        "eval_loss_after",
        "trained_tokens",
    ):
        assert resumed.manifest[key] == pytest.approx(straight.manifest[key], abs=1e-6), key


class Crash(RuntimeError):
    pass


def _crashed_run(
    data_dir: Path, index: Any, monkeypatch: pytest.MonkeyPatch, at_step: int, **overrides
) -> None:
    """A run that dies by an exception inside step `at_step` (0-based), after its mid-run checkpoints."""
    from codelupe_dagster.training import optimization, trainer

    calls = []
    real_step = optimization.train_step

    def failing_step(*args: Any) -> float:
        calls.append(1)
        if len(calls) == at_step + 1:
            raise Crash("killed mid-step")
        return real_step(*args)

    with monkeypatch.context() as patch:
        patch.setattr(optimization, "train_step", failing_step)
        with pytest.raises(Crash):
            trainer.run_training(_config(data_dir, **overrides), index, log=lambda _: None)


def test_a_checkpoint_of_another_plan_is_removed_and_the_run_starts_fresh(
    data_dir: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codelupe_dagster.training.trainer import run_training

    index = _prepared(data_dir, with_tiny_model)
    _crashed_run(data_dir, index, monkeypatch, at_step=4)
    assert [p.name for p in checkpoints.partial_dirs(data_dir)] == ["step-00000003"]

    lines: list[str] = []
    # Another learning rate is another plan: the update of every step differs.
    finished = run_training(_config(data_dir, learning_rate=1e-3), index, log=lines.append)
    assert any(
        "removing mid-run checkpoint step-00000003: it belongs to another data plan" in x for x in lines
    )
    assert finished.manifest["resumed_at_steps"] == [] and finished.manifest["steps"] == 9
    assert not checkpoints.partial_root(data_dir).exists()


def test_speed_settings_keep_the_plan_so_a_run_resumes_with_them_changed(
    data_dir: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codelupe_dagster.training.trainer import run_training

    index = _prepared(data_dir, with_tiny_model)
    _crashed_run(data_dir, index, monkeypatch, at_step=7)  # checkpoints after steps 3 and 6
    assert [p.name for p in checkpoints.partial_dirs(data_dir)] == ["step-00000006", "step-00000003"]
    # After running out of memory one turns on gradient checkpointing and a smaller loss chunk.
    changed = _config(data_dir, gradient_checkpointing=True, loss_chunk_tokens=64, max_seconds=3600.0)
    finished = run_training(changed, index, log=lambda _: None)
    assert finished.manifest["resumed_at_steps"] == [6]


def test_a_corrupt_mid_run_checkpoint_is_skipped_with_a_warning(
    data_dir: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codelupe_dagster.training.trainer import run_training

    index = _prepared(data_dir, with_tiny_model)
    _crashed_run(data_dir, index, monkeypatch, at_step=7)
    newest, _older = checkpoints.partial_dirs(data_dir)
    trainer_file = newest / "trainer.pt"
    trainer_file.write_bytes(trainer_file.read_bytes()[:100])  # half-written
    # A staging directory a kill interrupted: never published, so never read.
    half = checkpoints.partial_root(data_dir) / ".step-00000009.tmp"
    half.mkdir()
    (half / "adapter.pt").write_bytes(b"\x00" * 10)

    lines: list[str] = []
    warnings: list[str] = []
    finished = run_training(_config(data_dir), index, log=lines.append, warn=warnings.append)
    assert len(warnings) == 1 and "ignoring unreadable mid-run checkpoint" in warnings[0]
    assert "step-00000006" in warnings[0]
    assert finished.manifest["resumed_at_steps"] == [3]  # the older one, kept for this
    assert not checkpoints.partial_root(data_dir).exists()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            lambda path: (path / "state.json").write_text('{"format": 1, "plan'), id="truncated-json"
        ),
        pytest.param(lambda path: (path / "state.json").unlink(), id="no-state"),
        pytest.param(lambda path: (path / "adapter.pt").write_bytes(b"not a zip"), id="garbage-adapter"),
    ],
)
def test_no_readable_checkpoint_means_a_fresh_run_not_a_crash(
    damage, data_dir: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codelupe_dagster.training.trainer import run_training

    index = _prepared(data_dir, with_tiny_model)
    _crashed_run(data_dir, index, monkeypatch, at_step=4, max_steps=5)
    (only,) = checkpoints.partial_dirs(data_dir)
    damage(only)
    warnings: list[str] = []
    finished = run_training(_config(data_dir, max_steps=5), index, log=lambda _: None, warn=warnings.append)
    assert len(warnings) == 1 and f"ignoring unreadable mid-run checkpoint {only}" in warnings[0]
    assert finished.manifest["resumed_at_steps"] == [] and finished.manifest["steps"] == 5
    assert not checkpoints.partial_root(data_dir).exists()


def test_partial_state_is_never_taken_for_a_finished_checkpoint_and_only_two_are_kept(tmp_path: Path) -> None:
    for step in (3, 6, 9):
        staging = checkpoints.stage_partial(tmp_path, step)
        (staging / "adapter.pt").write_bytes(b"weights")
        assert checkpoints.publish_partial(staging, {"next_step": step}).name == f"step-{step:08d}"
    checkpoints.stage_partial(tmp_path, 12)  # a kill while writing: hidden, never listed
    assert [p.name for p in checkpoints.partial_dirs(tmp_path)] == ["step-00000009", "step-00000006"]
    assert checkpoints.read_partial_state(checkpoints.partial_dirs(tmp_path)[0]) == {"next_step": 9}
    # Next to mid-run state, the finished checkpoints and their numbering are what they were.
    assert checkpoints.latest_checkpoint(tmp_path) is None
    assert checkpoints.next_version(tmp_path) == "v0001"
    staging = checkpoints.staging_dir(tmp_path, "v0001")
    assert checkpoints.publish(staging, "v0001", {"version": "v0001"}).version == "v0001"
    assert [c.version for c in checkpoints.list_checkpoints(tmp_path)] == ["v0001"]
    checkpoints.remove_partials(tmp_path)
    assert checkpoints.partial_dirs(tmp_path) == [] and checkpoints.latest_checkpoint(tmp_path) is not None


def test_resume_settings_are_validated_and_left_out_of_the_plan(tmp_path: Path) -> None:
    from codelupe_dagster.training.config import TrainingConfig

    with pytest.raises(ValueError, match="checkpoint_every must be 0"):
        TrainingConfig(data_dir=tmp_path, checkpoint_every=-1)
    with pytest.raises(ValueError, match="max_seconds must be positive"):
        TrainingConfig(data_dir=tmp_path, max_seconds=0)
    base = TrainingConfig(data_dir=tmp_path)
    faster = TrainingConfig(data_dir=tmp_path / "elsewhere", compile=True, checkpoint_every=0, max_seconds=60)
    assert base.plan_settings() == faster.plan_settings()
    assert base.plan_settings() != TrainingConfig(data_dir=tmp_path, seed=1).plan_settings()
