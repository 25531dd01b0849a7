"""One training run: eligible documents from the index → LoRA adapter checkpoint with a manifest.

Continuous by construction: a run starts from the latest checkpoint's adapter when it was trained
on the same base model, and records the data watermark the training sensor counts from.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from codelupe_dagster.core.packing import IGNORE_INDEX, PackedRow, pack_documents, stack_rows
from codelupe_dagster.training import checkpoints
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import DocumentSource, select_corpus, tokenize_documents

Log = Callable[[str], None]


def plan_micro_batches(rows: Sequence[PackedRow], rows_per_batch: int) -> list[list[PackedRow]]:
    """Full rows in groups of `rows_per_batch`; the one short tail row alone (shapes must match)."""
    full_len = max((len(row) for row in rows), default=0)
    full = [row for row in rows if len(row) == full_len]
    short = [row for row in rows if len(row) != full_len]
    batches = [full[i : i + rows_per_batch] for i in range(0, len(full), rows_per_batch)]
    return batches + [[row] for row in short]


def plan_steps(
    micro_batches: list[list[PackedRow]],
    *,
    accumulation: int,
    epochs: float,
    max_steps: int | None,
    seed: int,
) -> list[list[list[PackedRow]]]:
    """Optimizer steps as lists of micro-batches; each epoch visits the micro-batches in a new order."""
    wanted = math.ceil(len(micro_batches) * epochs)
    sequence: list[list[PackedRow]] = []
    epoch = 0
    while len(sequence) < wanted and micro_batches:
        order = list(range(len(micro_batches)))
        random.Random(seed + epoch).shuffle(order)
        sequence.extend(micro_batches[i] for i in order)
        epoch += 1
    sequence = sequence[:wanted]
    steps = [sequence[i : i + accumulation] for i in range(0, len(sequence), accumulation)]
    return steps[:max_steps] if max_steps is not None else steps


def target_count(rows: Sequence[PackedRow]) -> int:
    """Tokens a micro-batch is scored on: every label after the first of a row that isn't ignored."""
    return sum(int((row.labels[1:] != IGNORE_INDEX).sum()) for row in rows)


def lr_multiplier(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up, then cosine decay to `floor` of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def wandb_mode(configured: str | None) -> str:
    """An explicit setting wins, then WANDB_MODE; otherwise online only with an API key, so a run
    without a network keeps its log on disk for a later `wandb sync`."""
    if configured:
        return configured
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def _start_wandb(config: TrainingConfig, log: Log) -> Any:
    mode = wandb_mode(config.wandb_mode)
    if mode == "disabled":
        return None
    try:
        import wandb
    except ImportError:
        log("wandb is not installed; metrics go to the manifest only")
        return None
    wandb_dir = Path(config.data_dir) / "wandb"
    wandb_dir.mkdir(parents=True, exist_ok=True)
    return wandb.init(
        project=config.wandb_project,
        dir=str(wandb_dir),
        mode=mode,
        config=config.to_manifest(),
        reinit="finish_previous",
    )


def run_training(
    config: TrainingConfig, source: DocumentSource, *, log: Log = print
) -> checkpoints.Checkpoint:
    """Train one adapter on the eligible documents of `source` and publish it as the next checkpoint."""
    import torch
    from peft import PeftModel, get_peft_model
    from transformers import AutoTokenizer

    from codelupe_dagster.training import model as modeling
    from codelupe_dagster.training.tiny_model import resolve_base_model

    started = time.perf_counter()
    data_dir = Path(config.data_dir)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)

    selection = select_corpus(
        source,
        min_quality=config.min_quality,
        max_documents=config.max_documents,
        eval_fraction=config.eval_fraction,
    )
    log(
        f"selected {len(selection.train)} training and {len(selection.eval)} held-out documents "
        f"({selection.train_repos}/{selection.eval_repos} repositories), watermark {selection.watermark}"
    )
    base_path = resolve_base_model(config.base_model, data_dir, (doc["content"] for doc in selection.train))

    previous = checkpoints.latest_checkpoint(data_dir) if config.resume else None
    if previous is not None and previous.manifest.get("base_model") != config.base_model:
        log(
            f"latest checkpoint {previous.version} is for "
            f"{previous.manifest.get('base_model')}; starting fresh"
        )
        previous = None
    tokenizer = AutoTokenizer.from_pretrained(str(previous.tokenizer_dir if previous else base_path))

    device = modeling.pick_device()
    dtype = modeling.pick_dtype(device)
    liger = modeling.apply_liger() if config.use_liger else False
    base = modeling.load_causal_lm(
        base_path, device=device, dtype=dtype, attn_implementation=config.attn_implementation
    )
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if previous is not None:
        model = PeftModel.from_pretrained(base, str(previous.adapter_dir), is_trainable=True)
        log(f"resuming from {previous.version}")
    else:
        model = get_peft_model(
            base,
            modeling.lora_config(
                r=config.lora_r,
                alpha=config.lora_alpha,
                dropout=config.lora_dropout,
                target_modules=config.lora_target_modules,
            ),
        )
    model.to(device)
    backbone, head_weight = modeling.backbone_and_head(model)
    forward_backbone = torch.compile(backbone) if config.compile else backbone

    train_rows = list(
        pack_documents(
            tokenize_documents(tokenizer, selection.train, shuffle_seed=config.seed), config.seq_len
        )
    )
    eval_rows = _bounded_rows(
        pack_documents(tokenize_documents(tokenizer, selection.eval), config.seq_len), config.max_eval_tokens
    )
    micro_batches = plan_micro_batches(train_rows, config.micro_batch_rows)
    steps = plan_steps(
        micro_batches,
        accumulation=config.grad_accumulation,
        epochs=config.epochs,
        max_steps=config.max_steps,
        seed=config.seed,
    )
    if not steps:
        raise RuntimeError("the training split has no tokens to train on")
    eval_batches = plan_micro_batches(eval_rows, config.micro_batch_rows)

    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if dtype == torch.bfloat16
        else _NullContext()
    )

    def evaluate() -> float | None:
        if not eval_batches:
            return None
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad(), autocast:
            for rows in eval_batches:
                batch = modeling.to_device_batch(stack_rows(rows), device)
                loss_sum, n = modeling.micro_batch_loss(
                    forward_backbone, head_weight, batch, chunk_tokens=config.loss_chunk_tokens
                )
                total += float(loss_sum)
                count += n
        model.train()
        return total / count if count else None

    eval_before = evaluate()
    log(f"held-out loss before: {eval_before}")

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable,
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=device.type == "cuda",
    )
    warmup = round(len(steps) * config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, len(steps), warmup, config.min_lr_ratio)
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    run = _start_wandb(config, log)

    model.train()
    trained_tokens = 0
    step_losses: list[float] = []
    train_started = time.perf_counter()
    for step_index, step in enumerate(steps):
        step_targets = sum(target_count(rows) for rows in step)
        step_loss = torch.zeros((), device=device)
        for rows in step:
            batch = modeling.to_device_batch(stack_rows(rows), device)
            with autocast:
                loss_sum, _ = modeling.micro_batch_loss(
                    forward_backbone, head_weight, batch, chunk_tokens=config.loss_chunk_tokens
                )
            # Normalise by the whole step's token count so every token weighs the same, however
            # the tokens fall into micro-batches.
            (loss_sum / step_targets).backward()
            step_loss += loss_sum.detach() / step_targets
            trained_tokens += sum(len(row) for row in rows)
        torch.nn.utils.clip_grad_norm_(trainable, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_losses.append(float(step_loss))
        if run is not None and (step_index % config.log_every == 0 or step_index == len(steps) - 1):
            elapsed = time.perf_counter() - train_started
            run.log(
                {
                    "train/loss": step_losses[-1],
                    "train/lr": scheduler.get_last_lr()[0],
                    "train/tokens": trained_tokens,
                    "train/tokens_per_second": trained_tokens / max(elapsed, 1e-9),
                },
                step=step_index,
            )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    train_seconds = time.perf_counter() - train_started
    eval_after = evaluate()
    log(f"held-out loss after: {eval_after} ({len(steps)} steps, {trained_tokens} tokens)")

    version = checkpoints.next_version(data_dir)
    staging = checkpoints.staging_dir(data_dir, version)
    model.save_pretrained(str(staging / "adapter"))
    tokenizer.save_pretrained(str(staging / "tokenizer"))
    tail = step_losses[-max(1, len(step_losses) // 10) :]
    manifest = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "base_model": config.base_model,
        "base_model_path": base_path,
        "resumed_from": previous.version if previous else None,
        "data_watermark": selection.watermark,
        "documents": selection.documents,
        "train_documents": len(selection.train),
        "eval_documents": len(selection.eval),
        "train_repos": selection.train_repos,
        "eval_repos": selection.eval_repos,
        "documents_fetched": selection.fetched,
        "duplicates_dropped": selection.duplicate_ids + selection.duplicate_contents,
        "empty_dropped": selection.empty,
        "languages": selection.languages,
        "data_checks": data_checks(selection.train, selection.eval),
        "tokens": int(sum(len(row) for row in train_rows)),
        "eval_tokens": int(sum(len(row) for row in eval_rows)),
        "trained_tokens": trained_tokens,
        "steps": len(steps),
        "train_loss": sum(tail) / len(tail),
        "train_loss_first_step": step_losses[0],
        "eval_loss_before": eval_before,
        "eval_loss_after": eval_after,
        "tokens_per_second": trained_tokens / max(train_seconds, 1e-9),
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - started,
        "peak_memory_bytes": modeling.peak_memory_bytes(device),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "dtype": str(dtype).removeprefix("torch."),
        "liger": liger,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "git_commit": git_commit(),
        "config": config.to_manifest(),
    }
    checkpoint = checkpoints.publish(staging, version, manifest)
    if run is not None:
        run.summary.update({k: v for k, v in manifest.items() if isinstance(v, int | float | str)})
        run.finish()
    log(f"wrote checkpoint {checkpoint.path}")
    return checkpoint


def data_checks(train: Sequence[dict], evaluation: Sequence[dict]) -> dict[str, int]:
    """Facts the blocking asset check asserts: unique documents, no repository in both splits."""
    docs = [*train, *evaluation]
    contents = {
        hashlib.blake2b(d["content"].encode("utf-8", "replace"), digest_size=16).digest() for d in docs
    }
    train_repos = {d.get("repo") for d in train}
    return {
        "unique_ids": len({d["id"] for d in docs}),
        "unique_contents": len(contents),
        "repos_in_both_splits": len(train_repos & {d.get("repo") for d in evaluation}),
    }


def _bounded_rows(rows: Any, max_tokens: int) -> list[PackedRow]:
    kept, total = [], 0
    for row in rows:
        if total + len(row) > max_tokens and kept:
            break
        kept.append(row)
        total += len(row)
    return kept


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
