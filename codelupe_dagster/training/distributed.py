"""Training on several processes (one per GPU; gloo processes on a CPU): the process group, the few
collectives the trainer needs, and the launcher the asset runs.

Data parallel by plain all-reduce of the LoRA gradients, not `DistributedDataParallel`: the trainer runs
the decoder and the loss head separately (`TrainableModel.loss_sum`), which DDP's forward hooks would
not see; the adapter's gradients are a few MB, so one flat all-reduce per optimizer step costs little;
and a rank with no micro-batch in a short last step simply adds zeros, which DDP cannot do. The plan
(packing, shuffling, steps) is built identically on every rank from the same seed and data; each rank
trains its share of every step's micro-batches, each micro-batch's loss is divided by the whole step's
token count, and the gradients are summed, so the update is the single-process one at the same
`tokens_per_step`. Only rank 0 writes: checkpoints, manifests, mid-run state, wandb.

`launch` is what the asset calls for more than one process: it reads the corpus once (the same
selection the in-process trainer makes, recorded as it streams), writes it with the config to a private
run directory, starts `python -m torch.distributed.run --nproc-per-node N -m
codelupe_dagster.training.worker` in its own process group, forwards its lines, and reads rank 0's
result back. Rank 0 prints each optimizer step as a `STEP_MARKER` line of JSON; the launcher turns those
back into `progress.report_step` calls here, so whoever listens in the launching process (the asset's
log, `codelupe run`'s bar) sees a launched run's steps as it would an in-process run's. torch is imported
inside the functions, like the rest of training/.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.private_files import ensure_private_dir
from codelupe_dagster.backends.search.base import Filters
from codelupe_dagster.training import checkpoints, progress
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import DocumentSource
from codelupe_dagster.training.tracking import Log

WORKER = ("-m", "codelupe_dagster.training.worker")
RUNS = "train-runs"  # under DATA_DIR: one private directory per launched run, removed afterwards
CONFIG = "config.json"
DOCUMENTS = "documents.jsonl"
RESULT = "result.json"
# A collective that waits longer than this (a rank stuck, not crashed: torchrun stops the others when one
# exits) fails the run instead of hanging it.
COLLECTIVE_TIMEOUT_S = 1800.0
TAIL_LINES = 40
# Prefixes rank 0's per-step report on its stdout (`step_line`); no log line starts like this.
STEP_MARKER = "@codelupe-step "


class DistributedTrainingFailed(RuntimeError):
    """The launched processes exited non-zero; the message ends with their last lines of output."""


@dataclass(frozen=True)
class Context:
    """This process's place in the run: rank, world size and the GPU index on this machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def in_process_group() -> bool:
    """Whether this process joined a process group (a launched run's rank, or the bench's worker)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def current() -> Context:
    """The process group's view when one is set up (the worker), else a single process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    return Context(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def setup(timeout_s: float = COLLECTIVE_TIMEOUT_S) -> Context:
    """Join the process group torchrun described in the environment: NCCL on GPUs, gloo on a CPU."""
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return current()


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def resolve_world_size(train_gpus: int | None) -> int:
    """TRAIN_GPUS: None (auto) is every visible CUDA device, 1 on a CPU-only machine."""
    if train_gpus is not None:
        if train_gpus < 1:
            raise ValueError(f"TRAIN_GPUS must be at least 1, got {train_gpus}")
        return train_gpus
    import torch

    return max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1


def check_shardable(config: TrainingConfig, world_size: int) -> None:
    """Every rank trains the same number of micro-batches per optimizer step, or the run is refused."""
    if world_size > 1 and config.grad_accumulation % world_size:
        raise ValueError(
            f"tokens_per_step {config.tokens_per_step} makes {config.grad_accumulation} micro-batches of "
            f"{config.micro_batch_rows} x {config.seq_len} tokens per optimizer step, which {world_size} "
            f"processes cannot share evenly; make it a multiple of {world_size} micro-batches "
            f"(or set TRAIN_GPUS to a divisor of {config.grad_accumulation})"
        )


# Collectives: each is a no-op on a single process, so the trainer calls them unconditionally.


def shard(items: Sequence[Any], ctx: Context) -> list[Any]:
    """This rank's share, round-robin: rank r takes items r, r + W, r + 2W, …"""
    return list(items[ctx.rank :: ctx.world_size])


def all_reduce_gradients(params: Sequence[Any], extra: Any, ctx: Context) -> None:
    """Sum the gradients of `params` (a missing one counts as zeros) and the scalar tensor `extra` over
    the ranks, in place, with one flat all-reduce in fp32."""
    if not ctx.distributed:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads] + [extra.reshape(1).float()])
    dist.all_reduce(flat)
    offset = 0
    for param, grad in zip(params, grads, strict=True):
        count = grad.numel()
        param.grad = flat[offset : offset + count].view_as(grad).to(grad.dtype).clone()
        offset += count
    extra.copy_(flat[offset])


def sum_tensor(tensor: Any, ctx: Context) -> None:
    """`tensor` summed over the ranks, in place."""
    if not ctx.distributed:
        return
    import torch.distributed as dist

    dist.all_reduce(tensor)


def sum_floats(values: Sequence[float], ctx: Context, device: Any) -> list[float]:
    """Each value summed over the ranks (evaluation totals); float64 so the sum does not lose digits."""
    if not ctx.distributed:
        return list(values)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return [float(v) for v in tensor.tolist()]


def any_rank(flag: bool, ctx: Context, device: Any) -> bool:
    """True on every rank when it is true on one: decisions that end the loop (the time budget) must agree."""
    if not ctx.distributed:
        return flag
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def broadcast_parameters(params: Sequence[Any], ctx: Context) -> None:
    """Rank 0's values for `params` on every rank (a fresh adapter is seeded alike; this makes it sure)."""
    if not ctx.distributed:
        return
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for param in params:
            dist.broadcast(param.data, src=0)


def from_main(value: Any, ctx: Context) -> Any:
    """Rank 0's `value` (any picklable object) on every rank."""
    if not ctx.distributed:
        return value
    import torch.distributed as dist

    box = [value if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


# The corpus, read once by the launcher and replayed to every rank.


class RecordingSource:
    """Passes a source through and writes what the trainer's selection read from it to `path`: the
    watermark, then the documents in stream order. Replayed, the selection comes out the same."""

    def __init__(self, source: DocumentSource, path: Path):
        self.source = source
        self.path = path
        self.watermark: Any = None

    def max_value(self, field: str, filters: Filters | None = None) -> Any:
        self.watermark = self.source.max_value(field, filters)
        return self.watermark

    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict]:
        with self.path.open("w", encoding="utf-8") as out:
            for doc in self.source.iter_documents(
                filters=filters,
                fields=fields,
                newest_first=newest_first,
                batch_size=batch_size,
                limit=limit,
            ):
                out.write(json.dumps(doc, default=_json_value) + "\n")
                yield doc


class ReplaySource:
    """What a `RecordingSource` wrote, as a `DocumentSource` (the filters were applied when recorded)."""

    def __init__(self, path: Path, watermark: Any):
        self.path = path
        self.watermark = watermark

    def max_value(self, field: str, filters: Filters | None = None) -> Any:
        return self.watermark

    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict]:
        with self.path.open(encoding="utf-8") as lines:
            for count, line in enumerate(lines):
                if limit is not None and count >= limit:
                    return
                yield json.loads(line)


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def config_to_json(config: TrainingConfig) -> dict[str, Any]:
    return config.to_manifest()


def config_from_json(values: dict[str, Any]) -> TrainingConfig:
    values = dict(values)
    values["data_dir"] = Path(values["data_dir"])
    if isinstance(values.get("lora_target_modules"), list):
        values["lora_target_modules"] = tuple(values["lora_target_modules"])
    return TrainingConfig(**values)


def step_line(report: progress.StepReport) -> str:
    """One optimizer step as the line rank 0 prints for the launcher (`read_step_line` reads it)."""
    fields = {
        "step": report.step,
        "planned": report.planned,
        "loss": report.loss,
        "tokens": report.tokens,
        "seconds": report.seconds,
    }
    return STEP_MARKER + json.dumps(fields)


def read_step_line(line: str) -> progress.StepReport | None:
    """The step report a `step_line` holds; None for any other line (or a marked one that is not one)."""
    if not line.startswith(STEP_MARKER):
        return None
    try:
        fields = json.loads(line[len(STEP_MARKER) :])
        return progress.StepReport(
            step=int(fields["step"]),
            planned=int(fields["planned"]),
            loss=float(fields["loss"]),
            tokens=int(fields["tokens"]),
            seconds=float(fields["seconds"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def launch(
    config: TrainingConfig,
    source: DocumentSource,
    world_size: int,
    *,
    log: Log = print,
    warn: Log | None = None,
    worker: Sequence[str] = WORKER,
    threads: int | None = None,
    collective_timeout_s: float = COLLECTIVE_TIMEOUT_S,
) -> checkpoints.Checkpoint:
    """Train with `world_size` processes under torchrun and return the checkpoint rank 0 published.

    The corpus is selected here, once (NoEligibleSamples surfaces before any process starts), and every
    rank replays it, so all build the same plan. A non-zero exit raises `DistributedTrainingFailed` with
    the last lines of output; an exception here (a cancelled run) terminates the process group first.
    Rank 0's step lines are reported here (`progress.report_step`), not logged.
    `worker` is what torchrun runs (`-m module` or a script path); `threads` sets torch's threads per rank.
    """
    from codelupe_dagster.training.packed_corpus import select_training_corpus

    check_shardable(config, world_size)
    data_dir = Path(config.data_dir)
    run_dir = ensure_private_dir(data_dir / RUNS / f"run-{os.getpid()}-{time.time_ns()}")
    try:
        recorder = RecordingSource(source, run_dir / DOCUMENTS)
        selection = select_training_corpus(config, recorder, log)
        spec = {
            "config": config_to_json(config),
            "watermark": _json_value(recorder.watermark) if recorder.watermark is not None else None,
            "threads": threads,
            "collective_timeout_s": collective_timeout_s,
        }
        (run_dir / CONFIG).write_text(json.dumps(spec, default=str), encoding="utf-8")
        log(f"training on {world_size} processes ({selection.documents} documents replayed to each)")
        _run_torchrun(run_dir, world_size, worker, log)
        result = json.loads((run_dir / RESULT).read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return checkpoints.Checkpoint(
        version=result["version"], path=Path(result["path"]), manifest=result["manifest"]
    )


def torchrun_command(run_dir: Path, world_size: int, worker: Sequence[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a free local port for the rendezvous: runs side by side do not collide
        f"--nproc-per-node={world_size}",
        *worker,
        "--run-dir",
        str(run_dir),
    ]


def _run_torchrun(run_dir: Path, world_size: int, worker: Sequence[str], log: Log) -> None:
    command = torchrun_command(run_dir, world_size, worker)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: cancelling stops torchrun and every rank
    )
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            step = read_step_line(line)
            if step is not None:  # rank 0's optimizer step, for this process's listeners
                progress.report_step(step.step, step.planned, step.loss, step.tokens, step.seconds)
                continue
            tail.append(line)
            log(line)
        returncode = process.wait()
    except BaseException:
        stop_process_group(process)
        raise
    if returncode != 0:
        last = "\n".join(tail)
        raise DistributedTrainingFailed(
            f"training on {world_size} processes failed (torchrun exited with {returncode}); "
            f"its last lines:\n{last}"
        )
    if not (run_dir / RESULT).exists():
        raise DistributedTrainingFailed("training processes exited cleanly but rank 0 wrote no result")


def stop_process_group(process: subprocess.Popen[str], grace_s: float = 30.0) -> None:
    """SIGTERM to the group `process` leads (torchrun passes it on to the ranks), SIGKILL after `grace_s`."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
