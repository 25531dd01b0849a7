"""Model setup and the forward/loss of one packed micro-batch, shared by the trainer and the GPU bench.

A packed row holds several documents whose position ids restart at 0; no token may attend to
another document. What each attention path does with a micro-batch (`packed_inputs`, checked
against transformers 5.24; the layout per path is `config.PACKED_ATTENTION`):

- sdpa, eager, flex_attention ("rows"): the micro-batch stays [rows, seq_len] with position ids and
  no attention mask. transformers (`masking_utils.find_packed_sequence_indices`, >= 4.53) builds a
  block-diagonal causal mask from the resets, row by row, at any number of rows. Rows are not
  flattened: these paths compute over the whole mask, so one 4 x 2k row would cost four times the
  attention of four 2k rows.
- flash_attention_2 / _3 ("varlen"): transformers infers boundaries from position ids only when the
  batch has ONE row (`modeling_flash_attention_utils._is_packed_sequence`); with four rows it calls
  the dense causal kernel, which attends across documents. So the micro-batch is flattened into
  one row and handed `cu_seq_lens_q/k` and `max_length_q/k` from the packer's segments, which
  send every layer to the varlen kernel. Tested on CPU through transformers' own flash dispatch
  with a reference kernel standing in for flash-attn; the real kernel must be checked on a GPU.
- anything else is refused by `TrainingConfig` before a model is loaded.

`use_cache=False` is load-bearing on every path: with a KV cache transformers skips packed-sequence
detection and applies a plain causal mask across documents.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from codelupe_dagster.core.packing import PackedRow, flatten_rows, stack_rows
from codelupe_dagster.training.config import DEFAULT_ATTENTION, PACKED_ATTENTION
from codelupe_dagster.training.loss import (
    choose_loss,
    chunked_cross_entropy_sum,
    liger_cross_entropy_sum,
    liger_installed,
)

# Keys of a packed batch that go to the decoder as attention arguments (the varlen layout only).
VARLEN_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")


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
        path, dtype=dtype, attn_implementation=attn_implementation or DEFAULT_ATTENTION
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


def packed_inputs(
    rows: list[PackedRow], device: torch.device, attn_implementation: str | None = None
) -> dict[str, Any]:
    """A micro-batch as the decoder's inputs for `attn_implementation` (see the module doc)."""
    attention = attn_implementation or DEFAULT_ATTENTION
    layout = PACKED_ATTENTION.get(attention)
    if layout == "rows":
        return dict(to_device_batch(stack_rows(rows), device))
    if layout != "varlen":
        raise ValueError(f"attn_implementation {attention!r} cannot keep packed documents apart")
    flat = flatten_rows(rows)
    cu_seqlens = flat.pop("cu_seqlens")
    batch: dict[str, Any] = dict(to_device_batch(flat, device))
    boundaries = torch.from_numpy(cu_seqlens).to(device, non_blocking=True)
    longest = int(np.diff(cu_seqlens).max())  # an int: flash-attn wants a Python int here
    batch.update(
        cu_seq_lens_q=boundaries, cu_seq_lens_k=boundaries, max_length_q=longest, max_length_k=longest
    )
    return batch


def decoder_hidden_states(
    backbone: torch.nn.Module,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor,
    **attention: Any,
) -> torch.Tensor:
    """Last hidden states of a packed batch; `attention` holds the varlen boundaries, if any.

    `use_cache=False` is load-bearing: with a KV cache (the config default), transformers skips
    packed-sequence detection and silently applies a plain causal mask across documents.
    """
    out = backbone(input_ids=input_ids, position_ids=position_ids, use_cache=False, **attention)
    return out.last_hidden_state


def micro_batch_loss(
    backbone: torch.nn.Module,
    head_weight: torch.Tensor,
    batch: dict[str, Any],
    *,
    chunk_tokens: int | None = None,
    loss: str = "auto",
) -> tuple[torch.Tensor, int]:
    """Summed loss and token count of one packed micro-batch (from `packed_inputs`).

    `loss` "auto" takes Liger's fused linear cross-entropy on CUDA when it is installed and the own
    chunked loss otherwise; `chunk_tokens` None sizes the chunk from the head's shape.
    """
    attention = {key: batch[key] for key in VARLEN_KEYS if key in batch}
    hidden = decoder_hidden_states(backbone, batch["input_ids"], batch["position_ids"], **attention)
    if choose_loss(loss, hidden.device.type, liger_installed=liger_installed()) == "liger":
        return liger_cross_entropy_sum(hidden, head_weight, batch["labels"])
    return chunked_cross_entropy_sum(hidden, head_weight, batch["labels"], chunk_tokens=chunk_tokens)


def peak_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB
