"""What each rank of a launched training run executes: `python -m torch.distributed.run --nproc-per-node N
-m codelupe_dagster.training.worker --run-dir DIR` (see `distributed.launch`).

It reads `DIR/config.json` (the training config, the corpus watermark, threads and collective timeout),
joins the process group, trains on the corpus replayed from `DIR/documents.jsonl`, and on rank 0 writes
`DIR/result.json` (the published checkpoint's version, path and manifest). Rank 0 logs to stdout, which
the launcher forwards, and prints each optimizer step as a `distributed.STEP_MARKER` line, which the
launcher reports as a step; other ranks print only warnings and their tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from codelupe_dagster.training import distributed, progress


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir
    spec = json.loads((run_dir / distributed.CONFIG).read_text(encoding="utf-8"))

    import torch

    from codelupe_dagster.training.trainer import run_training

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    ctx = distributed.setup(float(spec.get("collective_timeout_s") or distributed.COLLECTIVE_TIMEOUT_S))
    try:
        config = distributed.config_from_json(spec["config"])
        source = distributed.ReplaySource(run_dir / distributed.DOCUMENTS, spec.get("watermark"))

        def log(message: str) -> None:
            if ctx.is_main:
                print(message, flush=True)

        def warn(message: str) -> None:
            print(f"[rank {ctx.rank}] warning: {message}", file=sys.stderr, flush=True)

        def report(step: progress.StepReport) -> None:
            print(distributed.step_line(step), flush=True)

        with progress.listening(report if ctx.is_main else _ignore):
            checkpoint = run_training(config, source, log=log, warn=warn)
        if ctx.is_main:
            result = {
                "version": checkpoint.version,
                "path": str(checkpoint.path),
                "manifest": checkpoint.manifest,
            }
            staging = run_dir / f".{distributed.RESULT}.tmp"
            staging.write_text(json.dumps(result, default=str), encoding="utf-8")
            os.replace(staging, run_dir / distributed.RESULT)
    finally:
        distributed.teardown()
    return 0


def _ignore(step: progress.StepReport) -> None:
    """Ranks other than 0 report nothing: rank 0's steps are the run's."""


def entry(argv: Sequence[str] | None = None) -> int:
    """`main` under torchrun's `record`: a rank's exception reaches torchrun's failure summary, which
    the launcher's error quotes."""
    from torch.distributed.elastic.multiprocessing.errors import record

    return record(main)(argv) or 0


if __name__ == "__main__":
    sys.exit(entry())
