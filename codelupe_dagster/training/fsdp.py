"""FSDP2 (`fully_shard`) on the peft-wrapped model, and the full-tensor state its checkpoints need.

`sharding.py` says why each piece is as it is. Imported only on the sharded path (it imports torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from codelupe_dagster.training import model as modeling


class ShardedLoss(torch.nn.Module):
    """The root FSDP module: the decoder and the chunked loss head in one forward, so the root's
    all-gather holds the head weight unsharded exactly while the loss reads it."""

    def __init__(self, model: Any):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Any], chunk_tokens: int | None, loss: str) -> tuple[torch.Tensor, int]:
        # Looked up here, inside the root's forward, where the module holds the unsharded weight.
        backbone, head_weight = modeling.backbone_and_head(self.model)
        return modeling.micro_batch_loss(backbone, head_weight, batch, chunk_tokens=chunk_tokens, loss=loss)


def decoder_layers(model: Any) -> Any:
    """The decoder layers of a plain or peft-wrapped causal LM (the Qwen2/Llama layout, `model.layers`)."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal_lm.model.layers


def shard_model(model: Any, device: torch.device, compute_dtype: torch.dtype, world_size: int) -> ShardedLoss:
    """Shard `model` over the process group: one FSDP group per decoder layer, the rest under the root
    `ShardedLoss`, which is returned. Parameters move to `device` as they are sharded, so the model may
    be loaded on the CPU first and never be whole on a GPU."""
    mesh = init_device_mesh(device.type, (world_size,))
    policy = MixedPrecisionPolicy()
    if device.type == "cuda" and compute_dtype == torch.bfloat16:
        policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh, mp_policy=policy)
    root = ShardedLoss(model)
    fully_shard(root, mesh=mesh, mp_policy=policy)
    for module in root.modules():
        if isinstance(module, FSDPModule):
            # Summed, not averaged (see sharding.py); sum-only collectives because gloo has no PREMUL_SUM.
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)
    return root


def full_tensor(value: Any) -> Any:
    """A DTensor gathered whole (a collective: every rank calls it, in the same order); else itself."""
    return value.full_tensor() if isinstance(value, DTensor) else value


def full_adapter(model: Any) -> dict[str, torch.Tensor]:
    """The trainable tensors by name, whole and on the CPU (a collective under FSDP)."""
    return {
        name: full_tensor(p.detach()).to("cpu", copy=True)
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def full_optimizer_state(optimizer: Any) -> dict[str, Any]:
    """`optimizer.state_dict()` with every sharded state tensor gathered whole, on the CPU (a collective
    under FSDP): the layout a replicated run writes."""
    state = optimizer.state_dict()
    gathered = {
        index: {key: _on_cpu(full_tensor(value)) for key, value in entry.items()}
        for index, entry in state["state"].items()
    }
    return {**state, "state": gathered}


def _on_cpu(value: Any) -> Any:
    return value.to("cpu", copy=True) if isinstance(value, torch.Tensor) else value


def local_like(full: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`full` as `like` holds it: this rank's shard when `like` is a DTensor (no communication: every
    rank holds the whole of `full`), else `full` on `like`'s device and dtype."""
    if isinstance(like, DTensor):
        whole = full.to(device=like.to_local().device, dtype=like.dtype)
        return distribute_tensor(whole, like.device_mesh, like.placements, src_data_rank=None)
    return full.to(device=like.device, dtype=like.dtype)


def sharded_optimizer_state(state: dict[str, Any], params: Sequence[torch.Tensor]) -> dict[str, Any]:
    """A full `optimizer.state_dict()` whose per-parameter tensors (exp_avg, exp_avg_sq) are made this
    rank's shards of their parameters, for `optimizer.load_state_dict`; scalars (the step) stay whole."""
    local = {}
    for index, entry in state["state"].items():
        param = params[int(index)]
        local[index] = {
            key: local_like(value, param)
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape == param.shape
            else value
            for key, value in entry.items()
        }
    return {**state, "state": local}


def load_adapter(model: Any, adapter: dict[str, torch.Tensor]) -> None:
    """Copy whole adapter tensors into the model's (sharded or not) trainable parameters."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in adapter.items():
            params[name].copy_(local_like(tensor, params[name]))


def whole_state(model: Any, optimizer: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """The adapter's tensors and (given an optimizer) its state, whole and on the CPU: a collective under
    FSDP, a copy otherwise."""
    state = full_optimizer_state(optimizer) if optimizer is not None else None
    return full_adapter(model), state
