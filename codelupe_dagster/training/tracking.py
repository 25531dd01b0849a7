"""Where a run is reported besides its manifest: Weights & Biases (optional) and the code's git commit."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codelupe_dagster.training.config import TrainingConfig

Log = Callable[[str], None]


def git_commit() -> str | None:
    """The commit of the checkout the trainer runs from; None when it is not a git checkout."""
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


def start_wandb(config: TrainingConfig, log: Log) -> Any:
    """A wandb run writing under DATA_DIR/wandb, or None when disabled or not installed."""
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


def finish_wandb(run: Any, manifest: dict[str, Any]) -> None:
    """Copy the manifest's scalars into the run summary and close it (no-op without a run)."""
    if run is None:
        return
    run.summary.update({k: v for k, v in manifest.items() if isinstance(v, int | float | str)})
    run.finish()
