"""Cross-entropy over a 152k-token vocabulary without ever holding all the logits.

For a 16k-token micro-batch, full fp32 logits of Qwen's vocabulary take ~10 GB, and autograd keeps
them (and their softmax) for the backward pass. Here the lm_head and the loss run a chunk of tokens
at a time, and the gradient with respect to the hidden states is computed in the same pass
(softmax minus one-hot, times the weight), so the backward pass is a multiplication and peak
memory is one chunk's logits. The lm_head is frozen under LoRA, so its gradient is only computed
when something asks for it.
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


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


def chunked_cross_entropy_sum(
    hidden: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, *, chunk_tokens: int = 4096
) -> tuple[torch.Tensor, int]:
    """Summed next-token loss of `hidden` [B, T, H] against unshifted `labels` [B, T], and the
    number of tokens it covers. Positions labelled IGNORE_INDEX are dropped before any matmul."""
    predicting = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    targets = labels[:, 1:].reshape(-1)
    keep = (targets != IGNORE_INDEX).nonzero().squeeze(1)
    predicting = predicting.index_select(0, keep)
    targets = targets.index_select(0, keep)
    if targets.numel() == 0:
        return hidden.sum() * 0.0, 0
    loss = _ChunkedLinearCrossEntropy.apply(predicting, weight, targets, chunk_tokens)
    return loss, int(targets.numel())
