"""One training run: eligible documents from the index → LoRA adapter checkpoint with a manifest.

Continuous by construction: a run starts from the latest checkpoint's adapter when it was trained
on the same base model, and records the data watermark the training sensor counts from.

`run_training` reads as the list of its steps: seed, select the corpus, pick the starting point
(base model, previous checkpoint, tokenizer), build the model with its adapter, pack the data into
optimizer steps, continue from a mid-run checkpoint of the same plan or evaluate, train (saving
mid-run state every `checkpoint_every` steps, stopping early on `max_seconds`), evaluate again, save
the checkpoint with its manifest. The steps live in modules of their own (`packed_corpus.py`,
`trainable.py`, `optimization.py`, `evaluation.py`, `publication.py`); this one orders them and hands
state between the ranks. torch is imported inside the functions, so importing this module costs nothing
without the [train] extra.

Rank-aware (`distributed.py`): in a launched run every rank builds the same plan, trains its share of
each step's micro-batches and sums the gradients; only rank 0 logs, writes checkpoints and mid-run
state, and talks to wandb. On a single process every collective is a no-op. The base model is replicated
on every rank or, for one too large for a GPU, sharded with FSDP2 (`sharding.py`, TRAIN_SHARDING).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from codelupe_dagster.training import checkpoints, distributed, resume, sharding
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import DocumentSource
from codelupe_dagster.training.evaluation import evaluate
from codelupe_dagster.training.manifest import Evaluation
from codelupe_dagster.training.optimization import optimizer_and_schedule, train
from codelupe_dagster.training.packed_corpus import pack_corpus, select_training_corpus
from codelupe_dagster.training.publication import save_checkpoint
from codelupe_dagster.training.tracking import Log, finish_wandb, start_wandb
from codelupe_dagster.training.trainable import TrainableModel, build_model, starting_point


def run_training(
    config: TrainingConfig, source: DocumentSource, *, log: Log = print, warn: Log | None = None
) -> checkpoints.Checkpoint:
    """Train one adapter on the eligible documents of `source` and publish it as the next checkpoint.

    A run killed midway and started again on the same plan continues from its last mid-run checkpoint
    (`resume.py`); `warn` (default: `log`) reports one that could not be read.
    """
    started = time.perf_counter()
    data_dir = Path(config.data_dir)
    ctx = distributed.current()
    distributed.check_shardable(config, ctx.world_size)
    if not ctx.is_main:
        log = _quiet
    seed_everything(config.seed)
    selection = select_training_corpus(config, source, log)
    start = starting_point(config, selection, log)
    choice = distributed.from_main(
        sharding.resolve(config, start.base_model_path, ctx) if ctx.is_main else None, ctx
    )
    log(f"base model sharding: {choice.mode} over {ctx.world_size} process(es) ({choice.reason})")
    trainable = build_model(config, start, log, fsdp=choice.mode == "fsdp")
    data = pack_corpus(config, start.tokenizer, selection)
    optimizer, scheduler = optimizer_and_schedule(config, trainable, len(data.steps))
    previous = start.previous.version if start.previous else None
    plan = resume.plan_id(config, selection, previous, data.steps, data.eval_batches)
    if distributed.from_main(plan, ctx) != plan:
        raise RuntimeError(f"rank {ctx.rank} planned {plan}, unlike rank 0: the ranks saw different data")
    run = start_wandb(config, log) if ctx.is_main else None
    # Last before the loop: restoring the RNG states here makes the resumed steps draw what they would have.
    progress = restore_progress(data_dir, plan, trainable, optimizer, scheduler, ctx, log, warn or log)
    if progress is None:
        progress = resume.Progress(
            eval_before=evaluate(trainable, data.eval_batches, config.loss_chunk_tokens)
        )
        log(f"held-out loss before: {progress.eval_before}")
    else:
        log(
            f"continuing at step {progress.next_step}/{len(data.steps)} "
            f"from a mid-run checkpoint (plan {plan})"
        )

    def save_partial(now: resume.Progress) -> None:
        from codelupe_dagster.training.fsdp import whole_state

        # Replicated, every rank holds the same adapter and optimizer state after a step and rank 0's is
        # taken; sharded, every rank gathers the whole of both (a collective) and rank 0 writes them.
        if ctx.is_main or trainable.sharded is not None:
            adapter, optimizer_state = whole_state(trainable.model, optimizer)
            if ctx.is_main:
                path = resume.save(data_dir, plan, now, adapter, optimizer_state, scheduler)
                log(f"mid-run checkpoint {path.name} ({now.next_step}/{len(data.steps)} steps)")
        distributed.barrier(ctx)

    loop = train(config, trainable, data.steps, optimizer, scheduler, run, progress, save_partial)
    eval_after = evaluate(trainable, data.eval_batches, config.loss_chunk_tokens)
    budget = ", stopped on the time budget" if loop.stopped_on == "time_budget" else ""
    log(
        f"held-out loss after: {eval_after} ({len(loop.step_losses)}/{len(data.steps)} steps, "
        f"{loop.trained_tokens} tokens{budget})"
    )

    evaluation = Evaluation(progress.eval_before, eval_after)
    from codelupe_dagster.training.fsdp import whole_state

    # Sharded, the adapter is gathered whole on every rank (a collective) for rank 0 to save.
    adapter = whole_state(trainable.model, None)[0] if trainable.sharded is not None else None
    checkpoint = None
    if ctx.is_main:
        checkpoint = save_checkpoint(
            config, start, trainable, selection, data, loop, evaluation, started, adapter
        )
        checkpoints.remove_partials(data_dir)  # the run is over: nothing to resume any more
        finish_wandb(run, checkpoint.manifest)
        log(f"wrote checkpoint {checkpoint.path}")
    published: checkpoints.Checkpoint = distributed.from_main(checkpoint, ctx)
    return published


def _quiet(message: str) -> None:
    """The log of ranks other than 0: one voice per run."""


def restore_progress(
    data_dir: Path,
    plan: str,
    trainable: TrainableModel,
    optimizer: Any,
    scheduler: Any,
    ctx: distributed.Context,
    log: Log,
    warn: Log,
) -> resume.Progress | None:
    """`resume.restore` on every rank, rank 0 first: it removes foreign or broken mid-run checkpoints,
    so the others then load the very one it loaded. Then rank 0's adapter is every rank's (replicated;
    sharded, each rank took its shard of the same file, or of the same seeded initialisation)."""
    progress = None
    for turn in (True, False):
        if ctx.is_main == turn:
            progress = resume.restore(
                data_dir, plan, trainable.model, optimizer, scheduler, log=log, warn=warn
            )
        distributed.barrier(ctx)
    step = progress.next_step if progress else None
    if distributed.from_main(step, ctx) != step:
        raise RuntimeError(f"rank {ctx.rank} would continue at step {step}, unlike rank 0")
    if trainable.sharded is None:
        distributed.broadcast_parameters(trainable.trainable, ctx)
    return progress


def seed_everything(seed: int) -> None:
    """Python, numpy and torch RNGs: LoRA initialisation and dropout depend on the last one."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
