"""One training run: eligible documents from the index → LoRA adapter checkpoint with a manifest.

Continuous by construction: a run starts from the latest checkpoint's adapter when it was trained
on the same base model, and records the data watermark the training sensor counts from.

`run_training` reads as the list of its steps: seed, select the corpus, pick the starting point
(base model, previous checkpoint, tokenizer), build the model with its adapter, pack the data into
optimizer steps, continue from a mid-run checkpoint of the same plan or evaluate, train (saving
mid-run state every `checkpoint_every` steps, stopping early on `max_seconds`), evaluate again, save
the checkpoint with its manifest. torch is imported inside the functions, so importing this module
costs nothing without the [train] extra.

Rank-aware (`distributed.py`): in a launched run every rank builds the same plan, trains its share of
each step's micro-batches and sums the gradients; only rank 0 logs, writes checkpoints and mid-run
state, and talks to wandb. On a single process every collective is a no-op. The base model is replicated
on every rank or, for one too large for a GPU, sharded with FSDP2 (`sharding.py`, TRAIN_SHARDING).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.packing import PackedRow, pack_documents
from codelupe_dagster.training import checkpoints, distributed, resume, sharding
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import (
    CorpusSelection,
    DocumentSource,
    select_corpus,
    tokenize_documents,
)
from codelupe_dagster.training.manifest import Evaluation, LoopStats, build_manifest
from codelupe_dagster.training.progress import report_step
from codelupe_dagster.training.schedule import (
    MicroBatch,
    Step,
    bounded_rows,
    lr_multiplier,
    plan_micro_batches,
    plan_steps,
    row_tokens,
    target_count,
)
from codelupe_dagster.training.tracking import Log, finish_wandb, git_commit, start_wandb

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class StartingPoint:
    """Where a run begins: the base model's files, the checkpoint it continues (if any), its tokenizer."""

    base_model_path: str
    previous: checkpoints.Checkpoint | None
    tokenizer: Any


@dataclass(frozen=True)
class TrainableModel:
    """The peft-wrapped model and what the loss needs to run it: the decoder, the head, the device.

    Under FSDP (`sharded`, the root `fsdp.ShardedLoss`) the loss runs through the root's forward, which
    unshards the head weight while it is read; `head_weight` is then unused."""

    model: Any
    forward_backbone: Any  # the decoder stack, compiled when asked
    head_weight: torch.Tensor
    trainable: list[torch.nn.Parameter]
    device: torch.device
    dtype: torch.dtype
    liger: bool
    attention: str | None = None  # the attn_implementation, which decides the micro-batch layout
    loss: str = "auto"
    sharded: Any = None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on a bf16 device; nothing on fp32."""
        import torch

        if self.dtype == torch.bfloat16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def loss_sum(self, rows: MicroBatch, chunk_tokens: int | None) -> tuple[torch.Tensor, int]:
        """Summed loss and scored-token count of one micro-batch (call inside `autocast`)."""
        from codelupe_dagster.training import model as modeling

        batch = modeling.packed_inputs(rows, self.device, self.attention)
        if self.sharded is not None:
            loss_sum, count = self.sharded(batch, chunk_tokens, self.loss)
            return loss_sum, count
        return modeling.micro_batch_loss(
            self.forward_backbone, self.head_weight, batch, chunk_tokens=chunk_tokens, loss=self.loss
        )

    @property
    def sharding(self) -> str:
        return "fsdp" if self.sharded is not None else "replicate"

    def share(self, items: list[MicroBatch], ctx: distributed.Context) -> list[tuple[MicroBatch, bool]]:
        """This rank's micro-batches of `items`, each with whether it counts. Under FSDP every rank runs
        as many forwards as the others (each one all-gathers), padded with ones that do not count."""
        if self.sharded is not None:
            return sharding.padded_share(items, ctx.rank, ctx.world_size)
        return [(rows, True) for rows in distributed.shard(items, ctx)]

    def sync_gradients(self, sync: bool) -> None:
        """Under FSDP: reduce-scatter the gradients after this backward (the step's last) or keep
        accumulating them unsharded; the replicated path all-reduces once per step anyway."""
        if self.sharded is not None:
            self.sharded.set_requires_gradient_sync(sync)


@dataclass(frozen=True)
class PackedData:
    """The corpus as packed rows, and the rows grouped into optimizer steps and eval batches."""

    train_rows: list[PackedRow]
    eval_rows: list[PackedRow]
    steps: list[Step]
    eval_batches: list[MicroBatch]


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


def select_training_corpus(config: TrainingConfig, source: DocumentSource, log: Log) -> CorpusSelection:
    """Eligible, unique documents split by repository (raises NoEligibleSamples when there are none)."""
    selection = select_corpus(
        source,
        min_quality=config.min_quality,
        max_documents=config.max_documents,
        eval_fraction=config.eval_fraction,
        policy=ConsumerPolicy.from_settings("training", config.license_policy, config.include_contaminated),
    )
    if selection.excluded:
        left_out = ", ".join(f"{n} for {reason}" for reason, n in sorted(selection.excluded.items()))
        log(f"training policy ({selection.policy['license_policy']} licences) left out {left_out}")
    log(
        f"selected {len(selection.train)} training and {len(selection.eval)} held-out documents "
        f"({selection.train_repos}/{selection.eval_repos} repositories), watermark {selection.watermark}"
    )
    return selection


def starting_point(config: TrainingConfig, selection: CorpusSelection, log: Log) -> StartingPoint:
    """The base model (the local tiny one is built from the corpus if missing) and the checkpoint to
    continue: the latest one, unless resuming is off or it was trained on another base model."""
    from transformers import AutoTokenizer

    from codelupe_dagster.training.tiny_model import resolve_base_model

    data_dir = Path(config.data_dir)
    base_path = resolve_base_model(config.base_model, data_dir, (doc["content"] for doc in selection.train))
    previous = checkpoints.latest_checkpoint(data_dir) if config.resume else None
    if previous is not None and previous.manifest.get("base_model") != config.base_model:
        log(
            f"latest checkpoint {previous.version} is for "
            f"{previous.manifest.get('base_model')}; starting fresh"
        )
        previous = None
    tokenizer = AutoTokenizer.from_pretrained(str(previous.tokenizer_dir if previous else base_path))
    return StartingPoint(base_model_path=base_path, previous=previous, tokenizer=tokenizer)


def build_model(config: TrainingConfig, start: StartingPoint, log: Log, fsdp: bool = False) -> TrainableModel:
    """The base model on the best device (this rank's GPU in a launched run), with the previous adapter
    or a fresh LoRA adapter; with `fsdp`, loaded on the CPU and sharded onto the device, so it is never
    whole on a GPU."""
    import torch
    from peft import PeftModel, get_peft_model

    from codelupe_dagster.training import model as modeling

    device = modeling.pick_device()
    if device.type == "cuda" and distributed.current().distributed:
        device = torch.device("cuda", distributed.current().local_rank)
    dtype = modeling.pick_dtype(device)
    liger = modeling.apply_liger() if config.use_liger else False
    base = modeling.load_causal_lm(
        start.base_model_path,
        device=torch.device("cpu") if fsdp else device,
        dtype=dtype,
        attn_implementation=config.attn_implementation,
    )
    if config.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if start.previous is not None:
        model = PeftModel.from_pretrained(base, str(start.previous.adapter_dir), is_trainable=True)
        log(f"resuming from {start.previous.version}")
    else:
        adapter = modeling.lora_config(
            r=config.lora_r,
            alpha=config.lora_alpha,
            dropout=config.lora_dropout,
            target_modules=config.lora_target_modules,
        )
        model = get_peft_model(base, adapter)
    sharded = None
    if fsdp:
        from codelupe_dagster.training import fsdp as fsdp_sharding

        if config.compile:
            log("compile is not applied to a sharded model")
        sharded = fsdp_sharding.shard_model(model, device, dtype, distributed.current().world_size)
    else:
        model.to(device)
    backbone, head_weight = modeling.backbone_and_head(model)
    return TrainableModel(
        model=model,
        forward_backbone=torch.compile(backbone) if config.compile and not fsdp else backbone,
        head_weight=head_weight,
        trainable=[p for p in model.parameters() if p.requires_grad],
        device=device,
        dtype=dtype,
        liger=liger,
        attention=config.attn_implementation,
        loss=config.loss,
        sharded=sharded,
    )


def pack_corpus(config: TrainingConfig, tokenizer: Any, selection: CorpusSelection) -> PackedData:
    """Tokenize, pack into `seq_len` rows and plan the optimizer steps; evaluation is token-bounded."""
    train_docs = tokenize_documents(tokenizer, selection.train, shuffle_seed=config.seed)
    train_rows = list(pack_documents(train_docs, config.seq_len))
    eval_docs = tokenize_documents(tokenizer, selection.eval)
    eval_rows = bounded_rows(pack_documents(eval_docs, config.seq_len), config.max_eval_tokens)
    steps = plan_steps(
        plan_micro_batches(train_rows, config.micro_batch_rows),
        accumulation=config.grad_accumulation,
        epochs=config.epochs,
        max_steps=config.max_steps,
        seed=config.seed,
    )
    if not steps:
        raise RuntimeError("the training split has no tokens to train on")
    return PackedData(
        train_rows=train_rows,
        eval_rows=eval_rows,
        steps=steps,
        eval_batches=plan_micro_batches(eval_rows, config.micro_batch_rows),
    )


def evaluate(trainable: TrainableModel, eval_batches: list[MicroBatch], chunk_tokens: int) -> float | None:
    """Mean held-out loss per scored token; None without held-out rows. Leaves the model in train mode.
    Each rank scores its share of the batches; the sums are added up over the ranks."""
    import torch

    if not eval_batches:
        return None
    ctx = distributed.current()
    trainable.model.eval()
    total, count = 0.0, 0
    with torch.no_grad(), trainable.autocast():
        for rows, counts in trainable.share(eval_batches, ctx):
            loss_sum, n = trainable.loss_sum(rows, chunk_tokens)
            if counts:
                total += float(loss_sum)
                count += n
    trainable.model.train()
    total, count_sum = distributed.sum_floats([total, float(count)], ctx, trainable.device)
    return total / count_sum if count_sum else None


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


def save_checkpoint(
    config: TrainingConfig,
    start: StartingPoint,
    trainable: TrainableModel,
    selection: CorpusSelection,
    data: PackedData,
    loop: LoopStats,
    evaluation: Evaluation,
    started: float,
    adapter: dict[str, Any] | None = None,
) -> checkpoints.Checkpoint:
    """Write adapter and tokenizer to a staging directory, then publish it with its manifest and card.
    `adapter`, the whole adapter tensors, stands in for the model's own when those are sharded."""
    data_dir = Path(config.data_dir)
    version = checkpoints.next_version(data_dir)
    staging = checkpoints.staging_dir(data_dir, version)
    # The tokenizer beside the adapter, so the directory loads on its own; `publish` adds the model card.
    trainable.model.save_pretrained(str(staging / checkpoints.ADAPTER), state_dict=adapter)
    start.tokenizer.save_pretrained(str(staging / checkpoints.ADAPTER))
    manifest = build_manifest(
        version=version,
        config=config,
        base_model_path=start.base_model_path,
        resumed_from=start.previous.version if start.previous else None,
        selection=selection,
        tokens=int(row_tokens(data.train_rows)),
        eval_tokens=int(row_tokens(data.eval_rows)),
        steps=len(data.steps),
        loop=loop,
        evaluation=evaluation,
        wall_seconds=time.perf_counter() - started,
        hardware=hardware_facts(trainable),
        git_commit=git_commit(),
    )
    return checkpoints.publish(staging, version, manifest)


def hardware_facts(trainable: TrainableModel) -> dict[str, Any]:
    """Peak memory, device name, dtype, whether Liger kernels ran, and the adapter's size."""
    import torch

    from codelupe_dagster.training import model as modeling

    device = trainable.device
    return {
        "peak_memory_bytes": modeling.peak_memory_bytes(device),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "dtype": str(trainable.dtype).removeprefix("torch."),
        "liger": trainable.liger,
        "trainable_parameters": sum(p.numel() for p in trainable.trainable),
        "world_size": distributed.current().world_size,  # processes (GPUs) the run trained on
        "sharding": trainable.sharding,  # replicate, or fsdp: the base model sharded over them
    }
