"""Training on two gloo processes (torchrun, on the CPU) equals training on one at the same global batch,
with the base model replicated or sharded by FSDP2; rank 0 alone writes; a rank that crashes fails the run
with its error, and a re-run continues from the mid-run checkpoint rank 0 wrote; rank 0's steps reach the
launching process as step reports."""

from __future__ import annotations

import json
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
# Four micro-batches of one 128-token row per step: two per rank. 0.38 epochs of the 39 training rows make
# 15 micro-batches, so the last of the 4 steps has 3 and 3 held-out rows make 3 eval batches: one rank has
# one micro-batch fewer than the other in both (FSDP pads it; the test checks the shapes). fp32 on the CPU,
# no dropout (each rank draws its own dropout masks, so with dropout the runs would differ by design).
SETTINGS: dict[str, Any] = dict(
    seq_len=128,
    micro_batch_rows=1,
    tokens_per_step=512,
    epochs=0.38,
    max_steps=4,
    learning_rate=5e-3,
    lora_r=4,
    lora_alpha=8,
    lora_dropout=0.0,
    eval_fraction=0.25,
    max_eval_tokens=384,
    wandb_mode="disabled",
    checkpoint_every=2,
)
# Per-step losses and adapter tensors of 2 ranks vs 1 differ only by the order gradients are summed in
# (fp32 on the CPU: ~1e-7 relative per sum), whether by one all-reduce or FSDP's reduce-scatter; the losses
# move by ~1e-1 over the steps, so a wrong reduction (an average instead of a sum, a rank's micro-batch
# lost) is far outside this.
LOSS_TOLERANCE = 1e-5
ADAPTER_TOLERANCE = 1e-5
# torchrun runs this script on every rank: it records rank 0's step losses (all-reduced: the whole
# step's) and the norm of the summed gradients to CODELUPE_TEST_LOSSES, and with CODELUPE_TEST_CRASH_AT=N
# rank 1 raises in its N-th step. The norm is what catches gradients averaged instead of summed: AdamW
# all but ignores their scale, so the losses alone would not.
WORKER = """
import os, sys
from pathlib import Path
from codelupe_dagster.training import optimization, worker
from tests.training.test_distributed import gradient_norm

losses = Path(os.environ["CODELUPE_TEST_LOSSES"])
crash_at = int(os.environ.get("CODELUPE_TEST_CRASH_AT", "0"))
rank, train_step, calls = int(os.environ["RANK"]), optimization.train_step, []

def recording(*args):
    calls.append(1)
    if rank == 1 and len(calls) == crash_at:
        raise RuntimeError("rank 1 crashed on purpose")
    loss = train_step(*args)
    norm = gradient_norm(args[1])  # every rank: a collective under FSDP
    if rank == 0:
        with losses.open("a") as out:
            out.write(f"{loss!r} {norm!r}\\n")
    return loss

optimization.train_step = recording
sys.exit(worker.entry())
"""


def _index(data_dir: Path, with_tiny_model) -> Any:
    data_dir.mkdir(parents=True, exist_ok=True)
    with_tiny_model(data_dir)
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    index.bulk_upsert(stdlib_docs(["json", "email", "http"], per_package=3, max_chars=2000))
    index.refresh()
    return index


def _config(data_dir: Path, sharding: str = "auto") -> Any:
    from codelupe_dagster.training.config import TrainingConfig

    return TrainingConfig(data_dir=data_dir, sharding=sharding, **SETTINGS)


def _adapter(checkpoint: checkpoints.Checkpoint) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(checkpoint.adapter_dir / "adapter_model.safetensors"))


def gradient_norm(trainable: Any) -> float:
    """The L2 norm of the adapter's gradients as the optimizer will see them (whole, under FSDP)."""
    norm = torch.nn.utils.clip_grad_norm_(trainable.trainable, float("inf"))
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)


def _losses(path: Path) -> list[tuple[float, float]]:
    """(loss, gradient norm) per step, as the worker recorded them."""
    if not path.exists():
        return []
    return [
        (float(loss), float(norm)) for loss, norm in (line.split() for line in path.read_text().splitlines())
    ]


def _single_process(data_dir: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list]:
    from codelupe_dagster.training import optimization, trainer

    index = _index(data_dir, with_tiny_model)
    losses: list[tuple[float, float]] = []
    train_step, evaluate = optimization.train_step, trainer.evaluate
    shapes: dict[str, list[int]] = {"step_micro_batches": [], "eval_batches": []}

    def recording(*args: Any) -> float:
        loss = train_step(*args)
        losses.append((loss, gradient_norm(args[1])))
        shapes["step_micro_batches"].append(len(args[2]))
        return loss

    def counting(trainable: Any, eval_batches: list, *args: Any) -> Any:
        shapes["eval_batches"].append(len(eval_batches))
        return evaluate(trainable, eval_batches, *args)

    monkeypatch.setattr(optimization, "train_step", recording)
    monkeypatch.setattr(trainer, "evaluate", counting)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        checkpoint = trainer.run_training(_config(data_dir), index, log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
        monkeypatch.undo()
    # Odd counts, so two ranks share them unevenly (FSDP's padding runs): the plan is what the test says.
    assert shapes == {"step_micro_batches": [4, 4, 4, 3], "eval_batches": [3, 3]}
    return checkpoint, losses


@pytest.mark.parametrize("sharding", ["replicate", "fsdp"])
def test_two_gloo_processes_train_like_one_and_a_crashed_rank_fails_then_resumes(
    tmp_path: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch, sharding: str
) -> None:
    from codelupe_dagster.training import distributed
    from codelupe_dagster.training.progress import StepReport, listening

    single, single_losses = _single_process(tmp_path / "one", with_tiny_model, monkeypatch)
    assert single.manifest["world_size"] == 1 and len(single_losses) == SETTINGS["max_steps"]

    data_dir = tmp_path / "two"
    index = _index(data_dir, with_tiny_model)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    launch = dict(worker=(str(script),), threads=1, collective_timeout_s=60.0, log=lambda _: None)

    # Rank 1 crashes in step 3, after rank 0 wrote the mid-run checkpoint of step 2: the run fails with
    # rank 1's error instead of hanging in rank 0's all-reduce.
    monkeypatch.setenv("CODELUPE_TEST_LOSSES", str(tmp_path / "crashed.txt"))
    monkeypatch.setenv("CODELUPE_TEST_CRASH_AT", "3")
    with pytest.raises(distributed.DistributedTrainingFailed) as failed:
        distributed.launch(_config(data_dir, sharding), index, 2, **launch)
    assert "rank 1 crashed on purpose" in str(failed.value)
    assert "training on 2 processes failed" in str(failed.value)
    assert checkpoints.list_checkpoints(data_dir) == []
    assert [p.name for p in checkpoints.partial_dirs(data_dir)] == ["step-00000002"]
    assert not any((data_dir / distributed.RUNS).iterdir())  # the replayed corpus is not left behind

    # The re-run continues from step 2 and ends where the single process ended.
    monkeypatch.setenv("CODELUPE_TEST_LOSSES", str(tmp_path / "resumed.txt"))
    monkeypatch.delenv("CODELUPE_TEST_CRASH_AT")
    lines: list[str] = []
    reports: list[StepReport] = []
    with listening(reports.append):
        resumed = distributed.launch(_config(data_dir, sharding), index, 2, **{**launch, "log": lines.append})
    assert any("continuing at step 2/4" in line for line in lines)
    assert any(f"base model sharding: {sharding} over 2 process(es)" in line for line in lines)
    # Rank 0's steps 3 and 4 came back as reports here, with the run's losses, and not as log lines.
    assert [(r.step, r.planned) for r in reports] == [(3, 4), (4, 4)]
    assert [r.loss for r in reports] == pytest.approx(
        [loss for loss, _ in single_losses[2:]], abs=LOSS_TOLERANCE
    )
    assert reports[-1].tokens == single.manifest["trained_tokens"]
    assert not any(line.startswith(distributed.STEP_MARKER) for line in lines)

    losses = _losses(tmp_path / "crashed.txt") + _losses(tmp_path / "resumed.txt")
    assert [loss for loss, _ in losses] == pytest.approx(
        [loss for loss, _ in single_losses], abs=LOSS_TOLERANCE
    )
    # Summed, not averaged: the norms match the single process's (a mean over 2 ranks would halve them).
    norms = [norm for _, norm in single_losses]
    assert min(norms) > 1e3 * LOSS_TOLERANCE
    assert [norm for _, norm in losses] == pytest.approx(norms, rel=1e-4)
    manifest = resumed.manifest
    assert manifest["world_size"] == 2 and manifest["resumed_at_steps"] == [2]
    assert manifest["sharding"] == sharding and single.manifest["sharding"] == "replicate"
    assert manifest["steps"] == single.manifest["steps"] == SETTINGS["max_steps"]
    assert manifest["trained_tokens"] == single.manifest["trained_tokens"]
    assert manifest["eval_loss_before"] == pytest.approx(single.manifest["eval_loss_before"], abs=1e-6)
    after = single.manifest["eval_loss_after"]
    assert manifest["eval_loss_after"] == pytest.approx(after, abs=LOSS_TOLERANCE)
    # Rank 0 alone published: one checkpoint, its manifest on disk, no mid-run state left.
    assert [c.version for c in checkpoints.list_checkpoints(data_dir)] == ["v0001"] == [resumed.version]
    assert json.loads((resumed.path / checkpoints.MANIFEST).read_text())["world_size"] == 2
    assert checkpoints.partial_dirs(data_dir) == []

    ours, theirs = _adapter(resumed), _adapter(single)
    assert set(ours) == set(theirs)
    moved = max(float((theirs[k] - _adapter_start(k, theirs)).abs().max()) for k in theirs)
    assert moved > 100 * ADAPTER_TOLERANCE  # training changed the adapter far more than the tolerance
    for key in theirs:
        torch.testing.assert_close(ours[key], theirs[key], atol=ADAPTER_TOLERANCE, rtol=0)


def _adapter_start(key: str, adapter: dict[str, Any]) -> Any:
    """LoRA's B matrices start at zero; A matrices are compared against themselves (no movement claim)."""
    return torch.zeros_like(adapter[key]) if "lora_B" in key else adapter[key]


def test_a_step_that_ranks_cannot_share_evenly_is_refused_before_anything_starts(tmp_path: Path) -> None:
    from codelupe_dagster.training import distributed
    from codelupe_dagster.training.config import TrainingConfig

    config = TrainingConfig(data_dir=tmp_path, **{**SETTINGS, "tokens_per_step": 384})  # 3 micro-batches
    with pytest.raises(ValueError, match=r"3 micro-batches .* which 2 processes cannot share evenly"):
        distributed.launch(config, _Unread(), 2)
    distributed.check_shardable(config, 3)  # three ranks take one each
    assert not (tmp_path / distributed.RUNS).exists()


class _Unread:
    def max_value(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("the corpus was read before the configuration was checked")

    def iter_documents(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("the corpus was read before the configuration was checked")


def _asset_run(data_dir: Path, train_gpus: int, instance: Any = None, **config: Any) -> Any:
    import dagster as dg

    from codelupe_dagster.assets.train import QwenCheckpointConfig, qwen_checkpoint
    from codelupe_dagster.resources.pipeline import PipelineResource
    from codelupe_dagster.resources.training import TrainingResource

    resources = {
        "search": SearchIndexResource(data_dir=str(data_dir)),
        "training": TrainingResource(data_dir=str(data_dir), wandb_mode="disabled", train_gpus=train_gpus),
        "pipeline": PipelineResource(data_dir=str(data_dir)),
    }
    run_config = dg.RunConfig(ops={"qwen_checkpoint": QwenCheckpointConfig(**config)})
    return dg.materialize(
        [qwen_checkpoint], resources=resources, run_config=run_config, raise_on_error=False, instance=instance
    )


def test_the_asset_launches_two_processes_and_reports_rank_0s_checkpoint(
    data_dir: Path, with_tiny_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from tests.support.planted import GITHUB_TOKEN

    with_tiny_model(data_dir)
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    docs = stdlib_docs(["json", "email", "http"], per_package=3, max_chars=2000)
    docs[0]["content"] = f'TOKEN = "{GITHUB_TOKEN}"\n' + docs[0]["content"]
    index.bulk_upsert(docs).raise_for_errors()
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the ranks import this checkout, as an install would
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    instance = dg.DagsterInstance.ephemeral()
    result = _asset_run(
        data_dir,
        2,
        instance,
        seq_len=128,
        micro_batch_rows=1,
        tokens_per_step=256,
        max_steps=2,
        eval_fraction=0.3,
    )
    assert result.success
    # Rank 0's steps reached the asset as step reports: its log has the step line of the last step (the
    # asset logs every log_every = 10 steps and the last), as for a run in its process, and no raw marker.
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert len([m for m in messages if m.startswith("step 2/2: loss ")]) == 1, messages
    assert not any(m.startswith("step 1/2") for m in messages)
    assert not any("@codelupe-step" in m for m in messages)
    (materialization,) = result.asset_materializations_for_node("qwen_checkpoint")
    metadata = materialization.metadata
    assert metadata["world_size"].value == 2 and metadata["steps"].value == 2
    assert metadata["version"].value == "v0001" and metadata["eval_loss_after"].value > 0
    # The launcher read (and redacted) the corpus once; the ranks trained on that copy.
    assert metadata["secrets_redacted"].value == {"github_pat": 1}
    assert [c.version for c in checkpoints.list_checkpoints(data_dir)] == ["v0001"]


def test_the_asset_refuses_a_step_its_gpus_cannot_share_before_loading_anything(data_dir: Path) -> None:
    import dagster as dg

    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    index.bulk_upsert(stdlib_docs(["json"], per_package=2)).raise_for_errors()
    result = _asset_run(data_dir, 2, seq_len=128, micro_batch_rows=1, tokens_per_step=384)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "TRAIN_GPUS=2: tokens_per_step 384 makes 3 micro-batches" in str(failure.step_failure_data.error)
    assert not (data_dir / "models").exists()  # no base model was built


HANGING_WORKER = """
import os, sys, time
from pathlib import Path
Path(sys.argv[-1], "pid-" + os.environ["RANK"]).write_text(str(os.getpid()))
print("rank", os.environ["RANK"], "ready", flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited; nobody may be left to reap it here


def test_cancelling_the_launch_stops_torchrun_and_every_rank(tmp_path: Path, monkeypatch) -> None:
    import time

    from codelupe_dagster.training import distributed

    script = tmp_path / "hang.py"
    script.write_text(HANGING_WORKER)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    ready: list[str] = []

    def log(line: str) -> None:
        if line.endswith("ready"):
            ready.append(line)
        if len(ready) == 2:
            raise KeyboardInterrupt  # what Ctrl-C (or Dagster's cancel) raises in the launching thread

    with pytest.raises(KeyboardInterrupt):
        distributed._run_torchrun(run_dir, 2, (str(script),), log)
    pids = [int((run_dir / f"pid-{rank}").read_text()) for rank in (0, 1)]
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
