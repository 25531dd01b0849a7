"""Mid-run checkpoints: what a killed run needs to continue exactly where it stopped.

Every `checkpoint_every` optimizer steps the loop writes `checkpoints/partial/step-NNNNNNNN/`:
`adapter.pt` (the trainable tensors by name), `trainer.pt` (optimizer, scheduler and torch RNG states)
and, last, `state.json` (the next step, the plan id, the python and numpy RNG states, and the losses,
tokens and seconds so far). A run started again on the same plan — the same documents packed into the
same steps, from the same starting adapter, with the same optimisation settings — loads the newest
readable one and goes on from its step; one of another plan is removed, an unreadable one is removed with
a warning. torch is imported inside the functions, like the rest of training/.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from codelupe_dagster.training import checkpoints
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import CorpusSelection
from codelupe_dagster.training.schedule import MicroBatch, Step
from codelupe_dagster.training.tracking import Log

FORMAT = 1
ADAPTER = "adapter.pt"
TRAINER = "trainer.pt"
# What a truncated or foreign file raises from json, torch.load or a state dict that does not fit.
_UNREADABLE = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    RuntimeError,
    EOFError,
    pickle.PickleError,
)


@dataclass(frozen=True)
class Progress:
    """How far a run got: the next optimizer step, and what the steps before it measured."""

    next_step: int = 0
    trained_tokens: int = 0
    step_losses: tuple[float, ...] = ()
    train_seconds: float = 0.0  # training time so far, across resumes: TRAIN_MAX_SECONDS counts it all
    eval_before: float | None = None  # measured once, before the first step, not again on resume
    resumed_at_steps: tuple[int, ...] = ()


def plan_id(
    config: TrainingConfig,
    selection: CorpusSelection,
    previous_version: str | None,
    steps: Sequence[Step],
    eval_batches: Sequence[MicroBatch],
) -> str:
    """A digest of everything that decides what step N trains on and how: the plan-relevant settings,
    the checkpoint the run starts from, the data watermark and document ids, and every row's tokens
    and labels in step order (so tokenizer, packing and shuffling are covered without naming them)."""
    digest = hashlib.blake2b(digest_size=12)
    header = {
        "config": config.plan_settings(),
        "previous": previous_version,
        "watermark": selection.watermark,
        "documents": sorted(str(doc.get("id")) for doc in [*selection.train, *selection.eval]),
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    empty: Step = [[]]  # marks where the training steps end and the held-out batches begin
    for batches in [*steps, empty, list(eval_batches)]:
        digest.update(b"\x00step")
        for rows in batches:
            digest.update(b"\x00batch")
            for row in rows:
                digest.update(repr(row.segment_lengths).encode())
                digest.update(row.input_ids.tobytes())
                digest.update(row.labels.tobytes())
    return digest.hexdigest()


def save(
    data_dir: Path,
    plan: str,
    progress: Progress,
    adapter: dict[str, Any],
    optimizer_state: dict[str, Any],
    scheduler: Any,
) -> Path:
    """Write one mid-run checkpoint atomically (hidden directory, state.json last, rename). `adapter` (the
    trainable tensors by name) and `optimizer_state` (`optimizer.state_dict()`) are whole tensors on the
    CPU, gathered from the ranks first when the model is sharded (`fsdp.full_adapter`)."""
    import torch

    staging = checkpoints.stage_partial(data_dir, progress.next_step)
    torch.save(adapter, staging / ADAPTER)
    torch.save(
        {
            "optimizer": optimizer_state,
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
        staging / TRAINER,
    )
    python_version, python_internal, python_gauss = random.getstate()
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state = {
        "format": FORMAT,
        "plan_id": plan,
        **asdict(progress),
        "python_rng": [python_version, list(python_internal), python_gauss],
        "numpy_rng": [name, [int(k) for k in keys], int(position), int(has_gauss), float(cached_gaussian)],
    }
    return checkpoints.publish_partial(staging, state)


def restore(
    data_dir: Path, plan: str, model: Any, optimizer: Any, scheduler: Any, *, log: Log, warn: Log
) -> Progress | None:
    """Load the newest mid-run checkpoint of `plan` into model, optimizer, scheduler and the RNGs, and
    return where to go on from; None when there is none. Others met on the way are removed."""
    for path in checkpoints.partial_dirs(data_dir):
        try:
            state = checkpoints.read_partial_state(path)
            if state.get("plan_id") != plan:
                log(
                    f"removing mid-run checkpoint {path.name}: it belongs to another data plan "
                    f"({state.get('plan_id')}, this run's is {plan})"
                )
                shutil.rmtree(path, ignore_errors=True)
                continue
            progress = _load(path, state, model, optimizer, scheduler)
        except _UNREADABLE as exc:
            warn(f"ignoring unreadable mid-run checkpoint {path}: {type(exc).__name__}: {exc}")
            shutil.rmtree(path, ignore_errors=True)
            continue
        return replace(progress, resumed_at_steps=(*progress.resumed_at_steps, progress.next_step))
    return None


def _load(path: Path, state: dict[str, Any], model: Any, optimizer: Any, scheduler: Any) -> Progress:
    """Read and check everything first, then apply it: a bad file leaves the model as it was. Under FSDP
    each rank takes its shards of the whole tensors in the files, without communication."""
    import torch

    from codelupe_dagster.training import fsdp

    if state.get("format") != FORMAT:
        raise ValueError(f"format {state.get('format')!r}, expected {FORMAT}")
    progress = Progress(
        next_step=int(state["next_step"]),
        trained_tokens=int(state["trained_tokens"]),
        step_losses=tuple(float(loss) for loss in state["step_losses"]),
        train_seconds=float(state["train_seconds"]),
        eval_before=None if state["eval_before"] is None else float(state["eval_before"]),
        resumed_at_steps=tuple(int(step) for step in state["resumed_at_steps"]),
    )
    python_version, python_internal, python_gauss = state["python_rng"]
    generator, keys, position, has_gauss, cached_gaussian = state["numpy_rng"]
    adapter = torch.load(path / ADAPTER, map_location="cpu", weights_only=True)
    trainer = torch.load(path / TRAINER, map_location="cpu", weights_only=True)
    params = {key: p for key, p in model.named_parameters() if p.requires_grad}
    if set(adapter) != set(params):
        raise ValueError("its adapter tensors are not this model's trainable parameters")
    for key, tensor in adapter.items():
        if tensor.shape != params[key].shape:
            raise ValueError(
                f"{key} has shape {tuple(tensor.shape)}, the model's is {tuple(params[key].shape)}"
            )
    groups = [len(group["params"]) for group in trainer["optimizer"]["param_groups"]]
    if groups != [len(group["params"]) for group in optimizer.param_groups]:
        raise ValueError(f"its optimizer has parameter groups of {groups}")
    rng = trainer["torch_rng"]
    if not (
        isinstance(rng, torch.Tensor)
        and rng.dtype == torch.uint8
        and rng.shape == torch.get_rng_state().shape
    ):
        raise ValueError("its torch RNG state is not one")
    if len(python_internal) != len(random.getstate()[1]) or len(keys) != 624:
        raise ValueError("its python or numpy RNG state is not one")
    # Nothing below is expected to fail: a checkpoint is applied whole or not at all.
    ordered = [p for group in optimizer.param_groups for p in group["params"]]
    optimizer.load_state_dict(fsdp.sharded_optimizer_state(trainer["optimizer"], ordered))
    scheduler.load_state_dict(trainer["scheduler"])
    fsdp.load_adapter(model, adapter)
    torch.set_rng_state(rng)
    if torch.cuda.is_available() and len(trainer["cuda_rng"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(trainer["cuda_rng"])
    random.setstate((python_version, tuple(python_internal), python_gauss))
    np.random.set_state((generator, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    return progress
