"""How a launched run holds the frozen base model, replicated on every rank or sharded with FSDP2, and
how TRAIN_SHARDING=auto chooses; `fsdp.py` does the sharding.

`replicate` is `distributed.py`'s path: every rank holds the whole model and the LoRA gradients are summed
by one flat all-reduce. `fsdp` is for a base model whose weights and activations do not fit one GPU:
`torch.distributed.fsdp.fully_shard` (FSDP2, the per-module API) shards every parameter, frozen or not,
over the ranks, one group per decoder layer and one for the rest (embeddings, final norm, head).

What the trainer has to respect on that path (each is load-bearing):

- The loss head runs outside the decoder's forward (`TrainableModel.loss_sum` scores hidden states
  against the lm_head / tied embedding weight in chunks), so the root FSDP module is `ShardedLoss`, whose
  forward runs the decoder *and* the loss: the root's pre-forward all-gather unshards the head weight
  exactly while the loss reads it, and its backward reduce-scatters the head's gradient.
- Gradients are summed over the ranks, not averaged: each micro-batch's loss is divided by the whole
  step's token count, so the ranks' gradients add up to the single-process one. FSDP's divide factor is
  set to 1 with sum-only collectives (gloo has no PREMUL_SUM).
- Every forward all-gathers, so every rank runs the same number of forwards: a short last step or the
  held-out batches are padded with micro-batches that count zero (`padded_share`).
- On a GPU the sharded weights are all-gathered and computed in bf16, and gradients reduced in fp32
  (`MixedPrecisionPolicy`).
- Checkpoints hold full tensors: every rank gathers the adapter and the optimizer state (a collective),
  rank 0 writes them in the layout the replicated path writes, so a mid-run checkpoint resumes under
  either mode; loading takes each rank's shard of the full tensor without communication.

`auto` picks fsdp when the base model's bf16 weights plus one micro-batch's activations would not fit
`MEMORY_FRACTION` of a GPU, and replicate otherwise (always on a CPU, and on one process). Pure but for
`model_shape`, which imports torch inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codelupe_dagster.training.config import SHARDING_MODES, TrainingConfig

if TYPE_CHECKING:
    from codelupe_dagster.training.distributed import Context

MODES = SHARDING_MODES
# Of a GPU's memory, the share weights and activations may plan for: the rest is the CUDA context, the
# allocator's fragmentation, the adapter's optimizer state and the loss head's chunk of logits.
MEMORY_FRACTION = 0.8
# Bytes of activations a transformer layer keeps for backward per token and unit of hidden size in 16-bit
# precision with fused (flash / sdpa) attention: 34 * s * b * h (Korthikanti et al. 2022, "Reducing
# Activation Recomputation in Large Transformer Models", eq. 1, without the 5 * a * s^2 term that fused
# attention does not store). With gradient checkpointing a layer keeps only its 2-byte input.
ACTIVATION_BYTES_PER_HIDDEN = 34
CHECKPOINTED_BYTES_PER_HIDDEN = 2
BF16_BYTES = 2


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs of a base model, read from its config without loading weights."""

    parameters: int
    hidden_size: int
    layers: int


@dataclass(frozen=True)
class Choice:
    """The sharding a run uses and, for the log, why."""

    mode: str
    reason: str


def activation_bytes(shape: ModelShape, tokens: int, gradient_checkpointing: bool) -> int:
    """Activations one micro-batch of `tokens` keeps for backward, over all layers (16-bit)."""
    per_hidden = CHECKPOINTED_BYTES_PER_HIDDEN if gradient_checkpointing else ACTIVATION_BYTES_PER_HIDDEN
    return per_hidden * tokens * shape.hidden_size * shape.layers


def choose(
    mode: str,
    *,
    device_type: str,
    world_size: int,
    shape: ModelShape | None,
    tokens: int,
    gradient_checkpointing: bool,
    device_memory_bytes: int | None,
) -> Choice:
    """Resolve TRAIN_SHARDING for this run. Pure: the caller measures the model and the GPU."""
    if mode not in MODES:
        raise ValueError(f"TRAIN_SHARDING must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != "auto":
        return Choice(mode, "set by TRAIN_SHARDING")
    if device_type != "cuda":
        return Choice("replicate", "auto on a CPU: memory is not the limit there")
    if world_size < 2:
        return Choice("replicate", "auto on one process: there is nothing to shard over")
    if shape is None or not device_memory_bytes:
        return Choice("replicate", "auto without a model size or GPU memory to compare")
    weights = BF16_BYTES * shape.parameters
    need = weights + activation_bytes(shape, tokens, gradient_checkpointing)
    budget = int(MEMORY_FRACTION * device_memory_bytes)
    gib = 2**30
    sizes = f"{need / gib:.1f} GiB of weights and activations, {budget / gib:.1f} GiB budget per GPU"
    if need > budget:
        return Choice("fsdp", f"auto: {sizes}")
    return Choice("replicate", f"auto: {sizes}")


def model_shape(path: str) -> ModelShape:
    """Parameter count, hidden size and layers of the model at `path` (a directory or hub id), counted on
    the meta device: no weights are read or allocated."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    return ModelShape(
        parameters=sum(p.numel() for p in model.parameters()),
        hidden_size=int(config.hidden_size),
        layers=int(config.num_hidden_layers),
    )


def padded_share(items: Sequence[Any], rank: int, world_size: int) -> list[tuple[Any, bool]]:
    """This rank's round-robin share of `items`, each with whether it counts, padded to the same length
    on every rank with copies of the first item that do not count (their loss is weighted zero)."""
    mine = [(item, True) for item in items[rank::world_size]]
    rounds = -(-len(items) // world_size)
    return mine + [(items[0], False)] * (rounds - len(mine))


def resolve(config: TrainingConfig, base_model_path: str, ctx: Context) -> Choice:
    """TRAIN_SHARDING (`config.sharding`) resolved for this run from this machine's GPU and the base
    model's shape. FSDP needs the process group of a launched run: a run in one process, not launched,
    holds the whole model whatever the setting."""
    import torch

    from codelupe_dagster.training import distributed

    if not distributed.in_process_group():
        return Choice("replicate", "one process, not launched: nothing to shard over")
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    shape, memory = None, None
    if config.sharding == "auto" and device_type == "cuda" and ctx.world_size > 1:
        shape = model_shape(base_model_path)
        memory = torch.cuda.get_device_properties(ctx.local_rank).total_memory
    return choose(
        config.sharding,
        device_type=device_type,
        world_size=ctx.world_size,
        shape=shape,
        tokens=config.micro_batch_rows * config.seq_len,
        gradient_checkpointing=config.gradient_checkpointing,
        device_memory_bytes=memory,
    )
