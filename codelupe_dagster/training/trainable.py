"""The model a training run trains: where it starts (base model, previous checkpoint, tokenizer) and the
peft-wrapped model with its adapter on this rank's device, replicated or sharded with FSDP2.

torch, transformers and peft are imported inside the functions, so importing this module costs nothing
without the [train] extra.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codelupe_dagster.training import checkpoints, distributed, sharding
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import CorpusSelection
from codelupe_dagster.training.schedule import MicroBatch
from codelupe_dagster.training.tracking import Log

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class StartingPoint:
    """Where a run begins: the base model's files, the checkpoint it continues (if any), its tokenizer."""

    base_model_path: str
    previous: checkpoints.Checkpoint | None
    tokenizer: Any


@dataclass(frozen=True)
class TrainableModel:
    """The peft-wrapped model and what the loss needs to run it: the decoder, the head, the device.

    Under FSDP (`sharded`, the root `fsdp.ShardedLoss`) the loss runs through the root's forward, which
    unshards the head weight while it is read; `head_weight` is then unused."""

    model: Any
    forward_backbone: Any  # the decoder stack, compiled when asked
    head_weight: torch.Tensor
    trainable: list[torch.nn.Parameter]
    device: torch.device
    dtype: torch.dtype
    liger: bool
    attention: str | None = None  # the attn_implementation, which decides the micro-batch layout
    loss: str = "auto"
    sharded: Any = None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on a bf16 device; nothing on fp32."""
        import torch

        if self.dtype == torch.bfloat16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def loss_sum(self, rows: MicroBatch, chunk_tokens: int | None) -> tuple[torch.Tensor, int]:
        """Summed loss and scored-token count of one micro-batch (call inside `autocast`)."""
        from codelupe_dagster.training import model as modeling

        batch = modeling.packed_inputs(rows, self.device, self.attention)
        if self.sharded is not None:
            loss_sum, count = self.sharded(batch, chunk_tokens, self.loss)
            return loss_sum, count
        return modeling.micro_batch_loss(
            self.forward_backbone, self.head_weight, batch, chunk_tokens=chunk_tokens, loss=self.loss
        )

    @property
    def sharding(self) -> str:
        return "fsdp" if self.sharded is not None else "replicate"

    def share(self, items: list[MicroBatch], ctx: distributed.Context) -> list[tuple[MicroBatch, bool]]:
        """This rank's micro-batches of `items`, each with whether it counts. Under FSDP every rank runs
        as many forwards as the others (each one all-gathers), padded with ones that do not count."""
        if self.sharded is not None:
            return sharding.padded_share(items, ctx.rank, ctx.world_size)
        return [(rows, True) for rows in distributed.shard(items, ctx)]

    def sync_gradients(self, sync: bool) -> None:
        """Under FSDP: reduce-scatter the gradients after this backward (the step's last) or keep
        accumulating them unsharded; the replicated path all-reduces once per step anyway."""
        if self.sharded is not None:
            self.sharded.set_requires_gradient_sync(sync)


def starting_point(config: TrainingConfig, selection: CorpusSelection, log: Log) -> StartingPoint:
    """The base model (the local tiny one is built from the corpus if missing) and the checkpoint to
    continue: the latest one, unless resuming is off or it was trained on another base model."""
    from transformers import AutoTokenizer

    from codelupe_dagster.training.tiny_model import resolve_base_model

    data_dir = Path(config.data_dir)
    base_path = resolve_base_model(config.base_model, data_dir, (doc["content"] for doc in selection.train))
    previous = checkpoints.latest_checkpoint(data_dir) if config.resume else None
    if previous is not None and previous.manifest.get("base_model") != config.base_model:
        log(
            f"latest checkpoint {previous.version} is for "
            f"{previous.manifest.get('base_model')}; starting fresh"
        )
        previous = None
    tokenizer = AutoTokenizer.from_pretrained(str(previous.tokenizer_dir if previous else base_path))
    return StartingPoint(base_model_path=base_path, previous=previous, tokenizer=tokenizer)


def build_model(config: TrainingConfig, start: StartingPoint, log: Log, fsdp: bool = False) -> TrainableModel:
    """The base model on the best device (this rank's GPU in a launched run), with the previous adapter
    or a fresh LoRA adapter; with `fsdp`, loaded on the CPU and sharded onto the device, so it is never
    whole on a GPU."""
    import torch
    from peft import PeftModel, get_peft_model

    from codelupe_dagster.training import model as modeling

    device = modeling.pick_device()
    if device.type == "cuda" and distributed.current().distributed:
        device = torch.device("cuda", distributed.current().local_rank)
    dtype = modeling.pick_dtype(device)
    liger = modeling.apply_liger() if config.use_liger else False
    base = modeling.load_causal_lm(
        start.base_model_path,
        device=torch.device("cpu") if fsdp else device,
        dtype=dtype,
        attn_implementation=config.attn_implementation,
    )
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if start.previous is not None:
        model = PeftModel.from_pretrained(base, str(start.previous.adapter_dir), is_trainable=True)
        log(f"resuming from {start.previous.version}")
    else:
        adapter = modeling.lora_config(
            r=config.lora_r,
            alpha=config.lora_alpha,
            dropout=config.lora_dropout,
            target_modules=config.lora_target_modules,
        )
        model = get_peft_model(base, adapter)
    sharded = None
    if fsdp:
        from codelupe_dagster.training import fsdp as fsdp_sharding

        if config.compile:
            log("compile is not applied to a sharded model")
        sharded = fsdp_sharding.shard_model(model, device, dtype, distributed.current().world_size)
    else:
        model.to(device)
    backbone, head_weight = modeling.backbone_and_head(model)
    return TrainableModel(
        model=model,
        forward_backbone=torch.compile(backbone) if config.compile and not fsdp else backbone,
        head_weight=head_weight,
        trainable=[p for p in model.parameters() if p.requires_grad],
        device=device,
        dtype=dtype,
        liger=liger,
        attention=config.attn_implementation,
        loss=config.loss,
        sharded=sharded,
    )
