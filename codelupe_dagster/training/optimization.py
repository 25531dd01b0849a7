"""The optimisation of a training run: AdamW with its schedule, the loop over optimizer steps (mid-run
checkpoints, the time budget, wandb and progress reports) and one step's gradient accumulation.

Rank-aware: each rank runs its share of a step's micro-batches and the gradients are summed over the
ranks (`distributed.py`); torch is imported inside the functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from codelupe_dagster.training import distributed, resume
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.manifest import LoopStats
from codelupe_dagster.training.progress import report_step
from codelupe_dagster.training.schedule import Step, lr_multiplier, row_tokens, target_count
from codelupe_dagster.training.trainable import TrainableModel


def optimizer_and_schedule(
    config: TrainingConfig, trainable: TrainableModel, total_steps: int
) -> tuple[Any, Any]:
    """AdamW over the adapter's parameters (fused on CUDA), warm-up then cosine to `min_lr_ratio`."""
    import torch

    optimizer = torch.optim.AdamW(
        trainable.trainable,
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=trainable.device.type == "cuda",
    )
    warmup = round(total_steps * config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total_steps, warmup, config.min_lr_ratio)
    )
    return optimizer, scheduler


def train(
    config: TrainingConfig,
    trainable: TrainableModel,
    steps: list[Step],
    optimizer: Any,
    scheduler: Any,
    run: Any,
    progress: resume.Progress,
    save_partial: Callable[[resume.Progress], None],
) -> LoopStats:
    """The optimizer steps from `progress.next_step` on, in order. Every `checkpoint_every` steps the
    run's state goes to `save_partial`; past `max_seconds` of training (counting the time before a
    resume) it stops at the next step boundary."""
    import torch

    device = trainable.device
    ctx = distributed.current()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainable.model.train()
    trained_tokens = progress.trained_tokens
    step_losses = list(progress.step_losses)
    started = time.perf_counter() - progress.train_seconds
    stopped_on = "completed"
    for step_index in range(progress.next_step, len(steps)):
        step = steps[step_index]
        step_losses.append(train_step(config, trainable, step))
        trained_tokens += sum(row_tokens(rows) for rows in step)
        torch.nn.utils.clip_grad_norm_(trainable.trainable, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if run is not None and (step_index % config.log_every == 0 or step_index == len(steps) - 1):
            log_step(
                run, step_index, step_losses[-1], scheduler, trained_tokens, time.perf_counter() - started
            )
        done = step_index + 1
        report_step(done, len(steps), step_losses[-1], trained_tokens, time.perf_counter() - started)
        if done == len(steps):
            break
        if config.max_seconds is not None and distributed.any_rank(
            time.perf_counter() - started >= config.max_seconds, ctx, device
        ):
            stopped_on = "time_budget"
            break
        if config.checkpoint_every and done % config.checkpoint_every == 0:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            save_partial(
                replace(
                    progress,
                    next_step=done,
                    trained_tokens=trained_tokens,
                    step_losses=tuple(step_losses),
                    train_seconds=time.perf_counter() - started,
                )
            )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return LoopStats(trained_tokens, step_losses, seconds, stopped_on, progress.resumed_at_steps)


def log_step(
    run: Any, step_index: int, loss: float, scheduler: Any, trained_tokens: int, elapsed: float
) -> None:
    run.log(
        {
            "train/loss": loss,
            "train/lr": scheduler.get_last_lr()[0],
            "train/tokens": trained_tokens,
            "train/tokens_per_second": trained_tokens / max(elapsed, 1e-9),
        },
        step=step_index,
    )


def train_step(config: TrainingConfig, trainable: TrainableModel, step: Step) -> float:
    """Accumulate the gradients of one step's micro-batches; returns the step's loss per token.

    Each micro-batch's loss is divided by the whole step's token count, so every token weighs the
    same however the tokens fall into micro-batches — or ranks: each rank runs its share of the
    micro-batches and the gradients (and the loss) are summed over the ranks.
    """
    import torch

    ctx = distributed.current()
    step_targets = sum(target_count(rows) for rows in step)
    step_loss = torch.zeros((), device=trainable.device)
    shares = trainable.share(step, ctx)
    for index, (rows, counts) in enumerate(shares):
        trainable.sync_gradients(index == len(shares) - 1)
        with trainable.autocast():
            loss_sum, _ = trainable.loss_sum(rows, config.loss_chunk_tokens)
        if not counts:  # a pad under FSDP: it runs for the collectives and adds nothing
            loss_sum = loss_sum * 0.0
        (loss_sum / step_targets).backward()
        step_loss += loss_sum.detach() / step_targets
    if trainable.sharded is not None:  # FSDP summed the gradients in the last backward
        distributed.sum_tensor(step_loss, ctx)
    else:
        distributed.all_reduce_gradients(trainable.trainable, step_loss, ctx)
    return float(step_loss)
