"""Training throughput on one GPU: per-file padded batches (the old way) vs the project's trainer step.

Self-contained for one run on an NVIDIA H200 with torch, transformers and peft installed and no
network: the models are random-weight Qwen2 models with the Qwen2.5-Coder-0.5B and -7B shapes
(written out below), the data are synthetic documents with a code-file-like length distribution.
Every variant runs in the same process, is wrapped in try/except (one failure keeps the table) and
respects a global `--timeout` budget. `--smoke` runs tiny shapes on CPU so the script is tested here.

    python bench/train_gpu.py                 # full run, prints a markdown table
    python bench/train_gpu.py --smoke         # CPU, seconds

FLOPs (documented so MFU figures are comparable): per optimizer-visible token
    6 * N  +  attention
where N counts the parameters of every matmul (all nn.Linear layers, lm_head included; the
embedding lookup excluded) — the standard PaLM/Chinchilla "6N" training convention, which is what
MFU against 989 TFLOP/s (H200 dense bf16) is usually quoted with. Attention adds, per causal
segment of length s, 6 * L * d_attn * s^2 (QK^T and AV, 2 FLOPs per MAC, half the square for
causality, x3 for forward + backward). Only real (non-pad) tokens count. Under LoRA the frozen base
skips its weight gradients, so the hardware executes about 4N, not 6N, per token: the "6N" MFU
here overstates hardware utilisation by up to 1.5x and is reported because the targets use it.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codelupe_dagster.core.packing import pack_documents, stack_rows

H200_BF16_FLOPS = 989e12

SHAPES = {
    "0.5B": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "7B": dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        tie_word_embeddings=False,
    ),
    "smoke": dict(
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=1024,
        tie_word_embeddings=True,
    ),
}
# Rows of seq_len per micro-batch for the packed trainer, and files per padded micro-batch.
PACKED_ROWS = {"0.5B": 16, "7B": 4, "smoke": 2}
PADDED_FILES = {"0.5B": 16, "7B": 4, "smoke": 2}


@dataclass
class Outcome:
    model: str
    variant: str
    tokens_per_s: float = 0.0
    mfu: float = 0.0
    peak_gib: float = 0.0
    note: str = ""
    extra: dict = field(default_factory=dict)


def synthetic_lengths(rng: np.random.Generator, count: int, seq_len: int) -> list[int]:
    """Code-file-like token counts: log-normal, median ~350 tokens, a long tail past seq_len."""
    lengths = rng.lognormal(mean=math.log(350), sigma=1.1, size=count).astype(int)
    return np.clip(lengths, 16, seq_len * 8).tolist()


def matmul_params(model) -> int:
    import torch

    total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            total += module.weight.numel()
    return total


def attention_flops(layers: int, d_attn: int, segment_lengths: list[int]) -> float:
    return 6.0 * layers * d_attn * float(sum(s * s for s in segment_lengths))


def build_model(shape_name: str, device, dtype, attn: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**SHAPES[shape_name], max_position_embeddings=32768, use_cache=False)
    config._attn_implementation = attn
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(dtype)
    return model


def add_lora(model):
    from peft import get_peft_model

    from codelupe_dagster.training.model import lora_config

    return get_peft_model(model, lora_config(r=16, alpha=32, dropout=0.0))


def run_padded(shape: str, args, device, dtype, docs: list[np.ndarray]) -> Outcome:
    """Naive baseline: one file per row, padded to the longest in the batch, full logits + HF loss."""
    import torch

    model = add_lora(build_model(shape, device, dtype, "sdpa"))
    n_matmul = matmul_params(model.get_base_model())
    cfg = model.config
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    files = PADDED_FILES[shape]
    batches = []
    for start in range(0, len(docs), files):
        group = [d[: args.seq_len] for d in docs[start : start + files]]
        width = max(len(d) for d in group)
        ids = np.zeros((len(group), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, d in enumerate(group):
            ids[i, : len(d)] = d
            mask[i, : len(d)] = 1
        labels = np.where(mask == 1, ids, -100)
        batches.append((ids, mask, labels, [len(d) for d in group]))

    def step(batch) -> tuple[int, list[int]]:
        ids, mask, labels, lengths = batch
        tensors = [torch.from_numpy(x).to(device) for x in (ids, mask, labels)]
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = model(input_ids=tensors[0], attention_mask=tensors[1], labels=tensors[2], use_cache=False)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return sum(lengths), lengths

    return timed(shape, "padded per-file (baseline)", step, batches, args, device, n_matmul, cfg)


def run_packed(shape: str, args, device, dtype, docs, *, attn="sdpa", compile_=False, liger=False) -> Outcome:
    """The project's trainer step: packed rows, position-id resets, chunked CE, fused AdamW."""
    import torch

    from codelupe_dagster.training import model as modeling

    if liger and not modeling.apply_liger():
        raise RuntimeError("liger-kernel is not installed")
    model = add_lora(build_model(shape, device, dtype, attn))
    n_matmul = matmul_params(model.get_base_model())
    cfg = model.config
    backbone, head = modeling.backbone_and_head(model)
    forward = torch.compile(backbone) if compile_ else backbone
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, fused=device.type == "cuda")
    rows = list(pack_documents(docs, args.seq_len, drop_last_partial=True))
    per_batch = PACKED_ROWS[shape]
    batches = [rows[i : i + per_batch] for i in range(0, len(rows) - per_batch + 1, per_batch)]

    def step(batch_rows) -> tuple[int, list[int]]:
        batch = modeling.to_device_batch(stack_rows(batch_rows), device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss_sum, count = modeling.micro_batch_loss(forward, head, batch, chunk_tokens=args.loss_chunk)
        (loss_sum / max(count, 1)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return sum(len(r) for r in batch_rows), [s for r in batch_rows for s in r.segment_lengths]

    name = f"packed {attn}" + (" + compile" if compile_ else "") + (" + liger" if liger else "")
    return timed(shape, name, step, batches, args, device, n_matmul, cfg)


def timed(shape, name, step, batches, args, device, n_matmul, cfg) -> Outcome:
    import torch

    if len(batches) < args.warmup + args.steps:
        raise RuntimeError(f"only {len(batches)} batches for {args.warmup}+{args.steps} steps")
    for batch in batches[: args.warmup]:
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    tokens = 0
    flops = 0.0
    d_attn = cfg.num_attention_heads * (cfg.hidden_size // cfg.num_attention_heads)
    started = time.perf_counter()
    for batch in batches[args.warmup : args.warmup + args.steps]:
        n, segments = step(batch)
        tokens += n
        flops += 6.0 * n_matmul * n + attention_flops(cfg.num_hidden_layers, d_attn, segments)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    peak_flops = H200_BF16_FLOPS if device.type == "cuda" else float("nan")
    return Outcome(shape, name, tokens / seconds, flops / seconds / peak_flops, peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on CPU, a few steps")
    parser.add_argument("--models", default="0.5B,7B")
    parser.add_argument("--variants", default=None, help="default: padded,packed,flex,compile,liger")
    parser.add_argument("--seq-len", dest="seq_len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--loss-chunk", dest="loss_chunk", type=int, default=8192)
    parser.add_argument("--timeout", type=float, default=540.0, help="seconds for the whole run")
    args = parser.parse_args(argv)

    import torch

    started = time.perf_counter()
    if args.smoke:
        args.models, args.seq_len, args.steps, args.warmup = "smoke", 128, 2, 1
        # flex-attention has no CPU backward and compiling dominates a CPU smoke run.
        args.variants = args.variants or "padded,packed"
    args.variants = args.variants or "padded,packed,flex,compile,liger"
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    print(
        f"torch {torch.__version__}, device "
        f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}"
    )
    torch.manual_seed(0)

    outcomes: list[Outcome] = []
    for shape in args.models.split(","):
        vocab = SHAPES[shape]["vocab_size"]
        rng = np.random.default_rng(0)
        needed = (args.warmup + args.steps + 2) * max(PACKED_ROWS[shape], PADDED_FILES[shape]) * args.seq_len
        lengths = synthetic_lengths(rng, max(64, needed // 300), args.seq_len)
        docs = [rng.integers(1, vocab, size=n).astype(np.int64) for n in lengths]
        for variant in args.variants.split(","):
            if time.perf_counter() - started > args.timeout:
                outcomes.append(Outcome(shape, variant, note="skipped: --timeout budget spent"))
                continue
            try:
                if variant == "padded":
                    outcome = run_padded(shape, args, device, dtype, docs)
                elif variant == "packed":
                    outcome = run_packed(shape, args, device, dtype, docs)
                elif variant == "flex":
                    outcome = run_packed(shape, args, device, dtype, docs, attn="flex_attention")
                elif variant == "compile":
                    outcome = run_packed(shape, args, device, dtype, docs, compile_=True)
                elif variant == "liger":
                    outcome = run_packed(shape, args, device, dtype, docs, liger=True)
                else:
                    raise ValueError(f"unknown variant {variant}")
            except Exception as exc:  # one failing variant must not lose the table
                traceback.print_exc()
                outcome = Outcome(shape, variant, note=f"error: {type(exc).__name__}: {str(exc)[:120]}")
            outcomes.append(outcome)
            print(
                f"{outcome.model} {outcome.variant}: {outcome.tokens_per_s:,.0f} tok/s {outcome.note}",
                flush=True,
            )
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()

    print()
    print("| model | variant | tokens/s | MFU (6N+attn) | peak GiB | vs padded | note |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    baselines = {
        o.model: o.tokens_per_s for o in outcomes if o.variant.startswith("padded") and o.tokens_per_s
    }
    for o in outcomes:
        ratio = (
            f"{o.tokens_per_s / baselines[o.model]:.1f}x" if o.model in baselines and o.tokens_per_s else ""
        )
        print(
            f"| {o.model} | {o.variant} | {o.tokens_per_s:,.0f} | {o.mfu:.1%} | {o.peak_gib:.1f} "
            f"| {ratio} | {o.note} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
