"""The end of a training run: its adapter and tokenizer staged, then published as the next checkpoint
with its manifest (data, loop, evaluation and hardware facts) and model card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from codelupe_dagster.training import checkpoints, distributed
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import CorpusSelection
from codelupe_dagster.training.manifest import Evaluation, LoopStats, build_manifest
from codelupe_dagster.training.packed_corpus import PackedData
from codelupe_dagster.training.schedule import row_tokens
from codelupe_dagster.training.tracking import git_commit
from codelupe_dagster.training.trainable import StartingPoint, TrainableModel


def save_checkpoint(
    config: TrainingConfig,
    start: StartingPoint,
    trainable: TrainableModel,
    selection: CorpusSelection,
    data: PackedData,
    loop: LoopStats,
    evaluation: Evaluation,
    started: float,
    adapter: dict[str, Any] | None = None,
) -> checkpoints.Checkpoint:
    """Write adapter and tokenizer to a staging directory, then publish it with its manifest and card.
    `adapter`, the whole adapter tensors, stands in for the model's own when those are sharded."""
    data_dir = Path(config.data_dir)
    version = checkpoints.next_version(data_dir)
    staging = checkpoints.staging_dir(data_dir, version)
    # The tokenizer beside the adapter, so the directory loads on its own; `publish` adds the model card.
    trainable.model.save_pretrained(str(staging / checkpoints.ADAPTER), state_dict=adapter)
    start.tokenizer.save_pretrained(str(staging / checkpoints.ADAPTER))
    manifest = build_manifest(
        version=version,
        config=config,
        base_model_path=start.base_model_path,
        resumed_from=start.previous.version if start.previous else None,
        selection=selection,
        tokens=int(row_tokens(data.train_rows)),
        eval_tokens=int(row_tokens(data.eval_rows)),
        steps=len(data.steps),
        loop=loop,
        evaluation=evaluation,
        wall_seconds=time.perf_counter() - started,
        hardware=hardware_facts(trainable),
        git_commit=git_commit(),
    )
    return checkpoints.publish(staging, version, manifest)


def hardware_facts(trainable: TrainableModel) -> dict[str, Any]:
    """Peak memory, device name, dtype, whether Liger kernels ran, and the adapter's size."""
    import torch

    from codelupe_dagster.training import model as modeling

    device = trainable.device
    return {
        "peak_memory_bytes": modeling.peak_memory_bytes(device),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "dtype": str(trainable.dtype).removeprefix("torch."),
        "liger": trainable.liger,
        "trainable_parameters": sum(p.numel() for p in trainable.trainable),
        "world_size": distributed.current().world_size,  # processes (GPUs) the run trained on
        "sharding": trainable.sharding,  # replicate, or fsdp: the base model sharded over them
    }
