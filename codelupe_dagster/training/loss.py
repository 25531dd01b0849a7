"""Cross-entropy over a 152k-token vocabulary without ever holding all the logits.

For a 16k-token micro-batch, full fp32 logits of Qwen's vocabulary take ~10 GB, and autograd keeps
them (and their softmax) for the backward pass. Here the lm_head and the loss run a chunk of tokens
at a time, and the gradient with respect to the hidden states is computed in the same pass
(softmax minus one-hot, times the weight), so the backward pass is a multiplication and peak
memory is one chunk's logits. The lm_head is frozen under LoRA, so its gradient is only computed
when something asks for it.

The chunk is sized from the vocabulary and hidden size so that one chunk's fp32 working set (logits,
turned into their gradient in place, and the hidden rows) stays under `LOSS_CHUNK_BYTES`: 384
tokens (223 MiB of logits) for Qwen2.5-7B's 152,064 x 3,584 head, not 4,096 tokens and 2.5 GB.

On CUDA with `liger_kernel` installed, Liger's fused linear cross-entropy (Triton, the same idea in
one kernel) is the default instead (`choose_loss`); this module's loss is the CPU fallback.
"""

from __future__ import annotations

import functools

import torch

IGNORE_INDEX = -100
LOSS_CHUNK_BYTES = 256 * 2**20  # fp32 working set of one chunk
FP32_BYTES = 4


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, chunk: int):  # type: ignore[override]
        needs_hidden_grad = ctx.needs_input_grad[0]
        needs_weight_grad = ctx.needs_input_grad[1]
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if needs_hidden_grad else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if needs_weight_grad else None
        for start in range(0, hidden.shape[0], chunk):
            h = hidden[start : start + chunk]
            y = labels[start : start + chunk]
            logits = (h @ weight.T).float()
            log_norm = torch.logsumexp(logits, dim=-1)
            target_logit = logits.gather(1, y.unsqueeze(1)).squeeze(1)
            total += (log_norm - target_logit).sum()
            if needs_hidden_grad or needs_weight_grad:
                # d(loss)/d(logits) = softmax - one_hot, computed in place over the chunk's logits.
                probs = logits.sub_(log_norm.unsqueeze(1)).exp_()
                probs[torch.arange(len(y), device=y.device), y] -= 1.0
                probs = probs.to(hidden.dtype)
                if grad_hidden is not None:
                    grad_hidden[start : start + chunk] = probs @ weight
                if grad_weight is not None:
                    grad_weight += (probs.T @ h).float()
        ctx.save_for_backward(*(t for t in (grad_hidden, grad_weight) if t is not None))
        ctx.has_hidden_grad = grad_hidden is not None
        ctx.has_weight_grad = grad_weight is not None
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        saved = list(ctx.saved_tensors)
        grad_hidden = grad_weight = None
        if ctx.has_hidden_grad:
            stored = saved.pop(0)
            grad_hidden = stored * grad_output.to(stored.dtype)
        if ctx.has_weight_grad:
            grad_weight = (saved.pop(0) * grad_output).to(ctx.weight_dtype)
        return grad_hidden, grad_weight, None, None


def loss_chunk_tokens(
    vocab_size: int, hidden_size: int, *, budget_bytes: int = LOSS_CHUNK_BYTES, multiple: int = 64
) -> int:
    """Tokens per chunk whose fp32 logits and hidden rows fit in `budget_bytes`, rounded down to a
    multiple of `multiple` (matmul tiles) but never below it."""
    per_token = FP32_BYTES * (vocab_size + hidden_size)
    tokens = budget_bytes // per_token
    return max(multiple, tokens - tokens % multiple)


def choose_loss(requested: str, device_type: str, *, liger_installed: bool) -> str:
    """ "liger" or "chunked" for a run's `loss` setting ("auto", "liger" or "chunked")."""
    if requested == "chunked":
        return "chunked"
    liger_runs = device_type == "cuda" and liger_installed
    if requested == "liger" and not liger_runs:
        why = (
            "liger-kernel is not installed" if not liger_installed else f"Liger needs CUDA, not {device_type}"
        )
        raise RuntimeError(f"loss='liger' cannot run here: {why}")
    if requested not in ("auto", "liger"):
        raise ValueError(f"unknown loss {requested!r}")
    return "liger" if liger_runs else "chunked"


@functools.cache
def liger_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None


def scored_positions(hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hidden rows [N, H] and their next-token targets [N] of `hidden` [B, T, H] against unshifted
    `labels` [B, T]; positions labelled IGNORE_INDEX are dropped before any matmul."""
    predicting = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    targets = labels[:, 1:].reshape(-1)
    keep = (targets != IGNORE_INDEX).nonzero().squeeze(1)
    return predicting.index_select(0, keep), targets.index_select(0, keep)


def chunked_cross_entropy_sum(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, *, chunk_tokens: int | None = None
) -> tuple[torch.Tensor, int]:
    """Summed next-token loss of `hidden` [B, T, H] against unshifted `labels` [B, T], and the
    number of tokens it covers. `chunk_tokens` None sizes the chunk from `weight`'s shape."""
    predicting, targets = scored_positions(hidden, labels)
    if targets.numel() == 0:
        return hidden.sum() * 0.0, 0
    chunk = chunk_tokens or loss_chunk_tokens(*weight.shape)
    loss = _ChunkedLinearCrossEntropy.apply(predicting, weight, targets, chunk)
    return loss, int(targets.numel())


def liger_cross_entropy_sum(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, int]:
    """The same sum through Liger's fused linear cross-entropy (CUDA only)."""
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    predicting, targets = scored_positions(hidden, labels)
    if targets.numel() == 0:
        return hidden.sum() * 0.0, 0
    fused = LigerFusedLinearCrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="sum")
    return fused(weight, predicting, targets), int(targets.numel())
