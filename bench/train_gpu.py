"""Training throughput: per-file padded batches vs the project's trainer step, on one GPU and on two.

Self-contained for one run on an NVIDIA H200 with torch, transformers and peft installed and no
network: the models are random-weight Qwen2 models with the Qwen2.5-Coder-0.5B and -7B shapes
(written out below), LoRA r=16 on every linear projection, seq 2048; the data are synthetic documents
with a code-file-like length distribution, packed by the project's packer and handed to the model by
`training.model.packed_inputs` exactly as the trainer does (so FlashAttention 2 gets the varlen
boundaries and never attends across documents).

Each variant runs in its own process under a time bound (`--variant-timeout`, and its share of the
global `--timeout`): an error, an out-of-memory or a hang costs that row only, the CUDA context of the
next variant starts clean, and Liger's patching of Qwen2 does not leak into the rows after it. One
table at the end, with the targets beside the rows (0.5B >= 150k tokens/s, 7B >= 50% MFU on an H200).
`--smoke` runs a tiny shape on the CPU so the script is tested here (tests/training/test_bench_smoke.py).

    python bench/train_gpu.py --timeout 540   # full run, prints a markdown table
    python bench/train_gpu.py --smoke         # CPU, seconds

Variants: padded (one file per row, padded, full logits + HF loss: the old way), packed (sdpa, the
project's chunked loss), fa2 (flash_attention_2, varlen; when flash_attn imports), compile
(torch.compile of the decoder), liger (Liger's RoPE/RMSNorm/SwiGLU kernels and fused linear
cross-entropy; when liger_kernel is installed), ddp2 (packed on two processes, LoRA gradients averaged
by all-reduce; when more than one GPU is visible, on gloo in the smoke run), fsdp (packed with the base
model sharded by FSDP2 as TRAIN_SHARDING=fsdp does, `training/fsdp.py`: on two GPUs when visible, on one
otherwise, which shows it runs; the 7B shape only; two gloo processes in the smoke run), flex
(flex_attention, on request only).

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
import contextlib
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codelupe_dagster.core.packing import pack_documents  # noqa: E402

H200_BF16_FLOPS = 989e12
RESULT = "BENCH_RESULT "  # the line a variant's process hands its outcome back on

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
VARIANTS = {
    "padded": "padded per-file (baseline)",
    "packed": "packed sdpa",
    "fa2": "packed flash_attention_2",
    "compile": "packed sdpa + compile",
    "liger": "packed sdpa + liger",
    "ddp2": "packed sdpa, 2 processes",
    "fsdp": "packed sdpa, FSDP2",
    "flex": "packed flex_attention",
}
# What each shape is held to on an H200: (what is measured, at least this much, as printed).
TARGETS = {"0.5B": ("tokens_per_s", 150_000.0, ">= 150k tokens/s"), "7B": ("mfu", 0.5, ">= 50% MFU")}


@dataclass
class Outcome:
    model: str
    variant: str
    tokens_per_s: float = 0.0
    mfu: float = 0.0
    peak_gib: float = 0.0
    note: str = ""


# ---------------------------------------------------------------- the parent: one process per variant


def unavailable(variant: str, args: argparse.Namespace, shape: str = "7B") -> str | None:
    """Why a variant cannot run on this machine, or for this shape (its row says so), or None."""
    if variant == "fa2" and importlib.util.find_spec("flash_attn") is None:
        return "flash_attn is not installed"
    if variant == "liger":
        if importlib.util.find_spec("liger_kernel") is None:
            return "liger_kernel is not installed"
        if args.device == "cpu":
            return "Liger needs CUDA"
    if variant == "ddp2" and args.device == "cuda" and args.gpus < 2:
        return f"{args.gpus} GPU visible"
    if variant == "fsdp" and shape == "0.5B":
        return "a 0.5B model fits every GPU whole: the FSDP row is the 7B one"
    return None


def fsdp_processes(args: argparse.Namespace) -> int:
    """Two gloo processes on a CPU; on GPUs two when visible, else one (world 1: it runs, shards nothing)."""
    if args.device != "cuda":
        return 2
    return max(1, min(getattr(args, "gpus", 1), 2))


def worker_command(shape: str, variant: str, args: argparse.Namespace, seconds: float) -> list[str]:
    options = [
        "--worker",
        f"{shape}:{variant}",
        f"--seq-len={args.seq_len}",
        f"--steps={args.steps}",
        f"--warmup={args.warmup}",
        f"--bound={seconds}",
        f"--device={args.device}",
    ]
    if args.loss_chunk is not None:
        options.append(f"--loss-chunk={args.loss_chunk}")
    script = str(Path(__file__).resolve())
    if variant not in ("ddp2", "fsdp"):
        return [sys.executable, script, *options]
    processes = 2 if variant == "ddp2" else fsdp_processes(args)
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
    ]
    return [*launcher, script, *options]


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (torchrun starts each rank in a session of its own, out of reach
    of a signal to torchrun's process group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM first (torchrun stops its ranks), then SIGKILL to the group and to any rank still there."""
    ranks = _children(process.pid)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    for pid in ranks:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def run_bounded(command: list[str], seconds: float) -> tuple[int | None, str, str]:
    """Run `command` in its own process group; kill the whole group past `seconds` (rc None)."""
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            _stop(process)
            stdout, stderr = process.communicate()
            return None, stdout, stderr
        return process.returncode, stdout, stderr


def run_variant(shape: str, variant: str, args: argparse.Namespace, seconds: float) -> Outcome:
    name = VARIANTS[variant]
    why = unavailable(variant, args, shape)
    if why:
        return Outcome(shape, name, note=f"skipped: {why}")
    rc, stdout, stderr = run_bounded(worker_command(shape, variant, args, seconds), seconds)
    results = [line[len(RESULT) :] for line in stdout.splitlines() if line.startswith(RESULT)]
    if results:
        return Outcome(**json.loads(results[-1]))
    sys.stderr.write(f"--- {shape} {name}: last lines of its output\n{stderr[-3000:]}\n")
    if rc is None:
        return Outcome(shape, name, note=f"timeout: over its {seconds:.0f}s bound")
    errors = [line for line in stderr.splitlines() if "Error" in line or "error" in line]
    return Outcome(shape, name, note=f"error (exit {rc}): {(errors or ['no output'])[-1].strip()[:160]}")


def target_cell(outcome: Outcome) -> str:
    target = TARGETS.get(outcome.model)
    if target is None or not outcome.tokens_per_s:
        return ""
    measure, floor, label = target
    value = getattr(outcome, measure)
    if math.isnan(value):
        return f"{label}: n/a"
    return f"{label}: {'met' if value >= floor else 'missed'}"


def print_table(outcomes: list[Outcome]) -> None:
    print()
    print("| model | variant | tokens/s | MFU (6N+attn) | peak GiB | vs padded | target | note |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
    baselines = {
        o.model: o.tokens_per_s for o in outcomes if o.variant == VARIANTS["padded"] and o.tokens_per_s
    }
    one_process = {o.model: o.tokens_per_s for o in outcomes if o.variant == VARIANTS["packed"]}
    for o in outcomes:
        measured = bool(o.tokens_per_s)
        if o.variant == VARIANTS["ddp2"] and measured and one_process.get(o.model):
            o.note = f"scaling {o.tokens_per_s / one_process[o.model]:.2f}x of one process {o.note}".strip()
        ratio = f"{o.tokens_per_s / baselines[o.model]:.1f}x" if o.model in baselines and measured else ""
        mfu = "n/a" if math.isnan(o.mfu) else f"{o.mfu:.1%}"
        print(
            f"| {o.model} | {o.variant} | {o.tokens_per_s:,.0f} | {mfu if measured else ''} "
            f"| {'' if math.isnan(o.peak_gib) or not measured else f'{o.peak_gib:.1f}'} | {ratio} "
            f"| {target_cell(o)} | {o.note} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    import torch

    started = time.perf_counter()
    args.gpus = torch.cuda.device_count()
    if args.smoke:
        args.models, args.seq_len, args.steps, args.warmup = "smoke", 128, 2, 1
        # compile on a CPU costs minutes of C++ builds; the other variants show as skipped or run.
        args.variants = args.variants or "padded,packed,fa2,liger,ddp2,fsdp"
    args.device = "cuda" if args.gpus and not args.smoke else "cpu"
    default = "padded,packed,fa2,compile,liger" + (",ddp2" if args.gpus > 1 else "") + ",fsdp"
    variants = (args.variants or default).split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    describe_machine(torch, args)
    shapes = args.models.split(",")
    outcomes: list[Outcome] = []
    for index, shape in enumerate(shapes):
        # Each shape runs until its share of the budget is spent (what one leaves, the next may use), so a
        # slow first shape cannot starve the second.
        shape_deadline = started + args.timeout * (index + 1) / len(shapes)
        for variant in variants:
            seconds = min(args.variant_timeout, shape_deadline - time.perf_counter())
            if seconds < args.min_variant_seconds:
                outcomes.append(Outcome(shape, VARIANTS[variant], note="skipped: --timeout budget spent"))
                continue
            outcome = run_variant(shape, variant, args, seconds)
            outcomes.append(outcome)
            print(
                f"{shape} {outcome.variant}: {outcome.tokens_per_s:,.0f} tokens/s {outcome.note}", flush=True
            )
    print_table(outcomes)
    return 0


def describe_machine(torch, args: argparse.Namespace) -> None:
    import transformers

    versions = [f"torch {torch.__version__}", f"transformers {transformers.__version__}"]
    for module in ("peft", "flash_attn", "liger_kernel"):
        if importlib.util.find_spec(module) is not None:
            versions.append(f"{module} {getattr(__import__(module), '__version__', '?')}")
    names = [torch.cuda.get_device_name(i) for i in range(args.gpus)] if args.device == "cuda" else ["cpu"]
    print(
        f"{', '.join(versions)}; {args.gpus} GPUs: {', '.join(names)}; "
        f"MFU against {H200_BF16_FLOPS / 1e12:.0f} TFLOP/s per GPU",
        flush=True,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny shape on CPU, a few steps")
    parser.add_argument("--models", default="0.5B,7B")
    parser.add_argument("--variants", default=None, help=f"of {', '.join(VARIANTS)}; default: all but flex")
    parser.add_argument("--seq-len", dest="seq_len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--loss-chunk", dest="loss_chunk", type=int, default=None, help="default: sized from the head's shape"
    )
    parser.add_argument("--timeout", type=float, default=540.0, help="seconds for the whole run")
    parser.add_argument("--variant-timeout", dest="variant_timeout", type=float, default=180.0)
    parser.add_argument("--min-variant-seconds", dest="min_variant_seconds", type=float, default=15.0)
    # Set by the parent for the process of one variant.
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--bound", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- one variant, in its own process


def worker_main(args: argparse.Namespace) -> int:
    import torch

    started = time.perf_counter()
    shape, variant = args.worker.split(":")
    distributed = variant in ("ddp2", "fsdp")
    if distributed:
        import torch.distributed as dist

        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    device = (
        torch.device(args.device, torch.cuda.current_device())
        if args.device == "cuda"
        else torch.device("cpu")
    )
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    # The variant's own soft limit: stop measuring short of the parent's hard kill, keep what was measured.
    deadline = started + 0.85 * (args.bound or float("inf"))
    docs = synthetic_docs(shape, args, world)
    if variant == "padded":
        outcome = run_padded(shape, args, device, dtype, docs, deadline)
    else:
        options = {
            "packed": {},
            "ddp2": {"world": world, "rank": rank},
            "fsdp": {"world": world, "rank": rank, "fsdp": True},
            "fa2": {"attn": "flash_attention_2"},
            "flex": {"attn": "flex_attention"},
            "compile": {"compile_": True},
            "liger": {"liger": True},
        }[variant]
        outcome = run_packed(shape, args, device, dtype, docs, deadline, **options)
    outcome.variant = VARIANTS[variant]
    if rank == 0:
        print(RESULT + json.dumps(asdict(outcome)), flush=True)
    if distributed:
        torch.distributed.destroy_process_group()
    return 0


def synthetic_docs(shape: str, args: argparse.Namespace, world: int) -> list[np.ndarray]:
    """The same documents for every variant of a shape: enough for warm-up and timed steps on every rank."""
    vocab = SHAPES[shape]["vocab_size"]
    rng = np.random.default_rng(0)
    rows = max(PACKED_ROWS[shape], PADDED_FILES[shape])
    needed = (args.warmup + args.steps + 2) * rows * args.seq_len * world
    lengths = synthetic_lengths(rng, max(64, needed // 300), args.seq_len)
    return [rng.integers(1, vocab, size=n).astype(np.int64) for n in lengths]


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


def run_padded(shape: str, args, device, dtype, docs: list[np.ndarray], deadline: float) -> Outcome:
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
        out = model(input_ids=tensors[0], attention_mask=tensors[1], labels=tensors[2], use_cache=False)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return sum(lengths), lengths

    return timed(shape, step, batches, args, device, n_matmul, cfg, deadline)


def run_packed(
    shape: str,
    args,
    device,
    dtype,
    docs,
    deadline: float,
    *,
    attn: str = "sdpa",
    compile_: bool = False,
    liger: bool = False,
    world: int = 1,
    rank: int = 0,
    fsdp: bool = False,
) -> Outcome:
    """The project's trainer step: packed rows through `packed_inputs` (the layout `attn` needs), the
    chunked loss (Liger's fused one for the liger row), fused AdamW; with `world` > 1 each process takes
    every world-th micro-batch and the LoRA gradients are averaged before the update, or, with `fsdp`,
    the model is sharded as the trainer shards it and FSDP reduces the gradients."""
    import torch

    from codelupe_dagster.training import model as modeling

    if liger and not modeling.apply_liger():  # patches Qwen2's classes: before the model is built
        raise RuntimeError("liger-kernel is not installed")
    model = add_lora(build_model(shape, device, dtype, attn))
    n_matmul = matmul_params(model.get_base_model())
    backbone, head = modeling.backbone_and_head(model)
    forward = torch.compile(backbone) if compile_ else backbone
    sharded = None
    if fsdp:
        from codelupe_dagster.training import fsdp as fsdp_sharding

        sharded = fsdp_sharding.shard_model(model, device, dtype, world)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, fused=device.type == "cuda")
    rows = list(pack_documents(docs, args.seq_len, drop_last_partial=True))
    per_batch = PACKED_ROWS[shape]
    batches = [rows[i : i + per_batch] for i in range(0, len(rows) - per_batch + 1, per_batch)][rank::world]
    loss = "liger" if liger else "chunked"

    def step(batch_rows) -> tuple[int, list[int]]:
        batch = modeling.packed_inputs(batch_rows, device, attn)
        if sharded is not None:
            loss_sum, count = sharded(batch, args.loss_chunk, loss)
        else:
            loss_sum, count = modeling.micro_batch_loss(
                forward, head, batch, chunk_tokens=args.loss_chunk, loss=loss
            )
        (loss_sum / max(count, 1)).backward()
        if world > 1 and sharded is None:
            average_gradients(trainable, world)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return sum(len(r) for r in batch_rows), [s for r in batch_rows for s in r.segment_lengths]

    outcome = timed(shape, step, batches, args, device, n_matmul, model.config, deadline, world=world)
    if fsdp:
        outcome.note = f"{world} process{'es' if world > 1 else ''} {outcome.note}".strip()
    return outcome


def average_gradients(params, world: int) -> None:
    """One all-reduce of every LoRA gradient, flattened (they are small: ~40 MB on 7B at r=16)."""
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def out_of_time(deadline: float, device, world: int) -> bool:
    """Past the variant's soft limit; with several processes, when any is (they must stop together,
    or one would wait in an all-reduce the others never join)."""
    late = time.perf_counter() > deadline
    if world == 1:
        return late
    import torch
    import torch.distributed as dist

    flag = torch.tensor([float(late)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def timed(shape, step, batches, args, device, n_matmul, cfg, deadline: float, world: int = 1) -> Outcome:
    """Warm-up steps, then up to `args.steps` measured ones, fewer when the variant's time runs out."""
    import torch

    if len(batches) < args.warmup + args.steps:
        raise RuntimeError(f"only {len(batches)} batches for {args.warmup}+{args.steps} steps")
    for batch in batches[: args.warmup]:
        step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    tokens, flops, measured = 0, 0.0, 0
    d_attn = cfg.num_attention_heads * (cfg.hidden_size // cfg.num_attention_heads)
    started = time.perf_counter()
    for batch in batches[args.warmup : args.warmup + args.steps]:
        n, segments = step(batch)
        tokens += n
        flops += 6.0 * n_matmul * n + attention_flops(cfg.num_hidden_layers, d_attn, segments)
        measured += 1
        if out_of_time(deadline, device, world):
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    if world > 1:  # every process's tokens over the slowest one's time
        import torch.distributed as dist

        totals = torch.tensor([float(tokens), flops], dtype=torch.float64, device=device)
        dist.all_reduce(totals)
        slowest = torch.tensor([seconds], dtype=torch.float64, device=device)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        tokens, flops, seconds = int(totals[0]), float(totals[1]), float(slowest[0])
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    peak_flops = H200_BF16_FLOPS * world if device.type == "cuda" else float("nan")
    note = f"{measured} of {args.steps} steps (time bound)" if measured < args.steps else ""
    return Outcome(shape, "", tokens / seconds, flops / seconds / peak_flops, peak, note)


if __name__ == "__main__":
    raise SystemExit(main())
