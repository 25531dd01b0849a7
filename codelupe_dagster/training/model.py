"""Model setup and the forward/loss of one packed micro-batch, shared by the trainer and the GPU bench.

Packed rows go to the model with `position_ids` and no attention mask: transformers (>= 4.53,
`masking_utils.find_packed_sequence_indices`) then derives a block-diagonal causal mask from the
position-id resets for sdpa, eager and flex-attention, and flash-attention uses the resets as varlen
boundaries. So no token attends across a document boundary whatever the backend (tested on CPU by
comparing a packed row with each document run alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from codelupe_dagster.training.loss import chunked_cross_entropy_sum


def pick_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it; fp32 on CPU, where bf16 matmuls are slow and imprecise."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def apply_liger() -> bool:
    """Patch Qwen2 with Liger kernels (RMSNorm, SwiGLU, RoPE) when installed; the loss stays ours."""
    try:
        from liger_kernel.transformers import apply_liger_kernel_to_qwen2
    except ImportError:
        return False
    apply_liger_kernel_to_qwen2(
        rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=False
    )
    return True


def load_causal_lm(
    path: str, *, device: torch.device, dtype: torch.dtype, attn_implementation: str | None = None
) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, attn_implementation=attn_implementation or "sdpa"
    )
    model.config.use_cache = False  # training: a KV cache would only cost memory
    return model.to(device)


def lora_config(
    *, r: int, alpha: int, dropout: float, target_modules: tuple[str, ...] | str = "all-linear"
) -> Any:
    from peft import LoraConfig

    targets: list[str] | str = (
        list(target_modules) if isinstance(target_modules, tuple | list) else target_modules
    )
    return LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, task_type="CAUSAL_LM"
    )


def backbone_and_head(model: Any) -> tuple[torch.nn.Module, torch.Tensor]:
    """The decoder stack (hidden states out) and the lm_head weight of a plain or peft-wrapped model.

    The trainer calls the decoder itself so the lm_head runs inside the chunked loss instead of
    producing the full [tokens, vocab] logits.
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal_lm.model, causal_lm.get_output_embeddings().weight


def to_device_batch(arrays: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    return {
        name: torch.from_numpy(np.ascontiguousarray(value)).to(device, non_blocking=True)
        for name, value in arrays.items()
    }


def decoder_hidden_states(
    backbone: torch.nn.Module, input_ids: torch.Tensor, position_ids: torch.Tensor
) -> torch.Tensor:
    """Last hidden states of a packed batch.

    `use_cache=False` is load-bearing: with a KV cache (the config default), transformers skips
    packed-sequence detection and silently applies a plain causal mask across documents.
    """
    return backbone(input_ids=input_ids, position_ids=position_ids, use_cache=False).last_hidden_state


def micro_batch_loss(
    backbone: torch.nn.Module,
    head_weight: torch.Tensor,
    batch: dict[str, torch.Tensor],
    *,
    chunk_tokens: int,
) -> tuple[torch.Tensor, int]:
    """Summed loss and token count of one packed micro-batch."""
    hidden = decoder_hidden_states(backbone, batch["input_ids"], batch["position_ids"])
    return chunked_cross_entropy_sum(hidden, head_weight, batch["labels"], chunk_tokens=chunk_tokens)


def peak_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB
