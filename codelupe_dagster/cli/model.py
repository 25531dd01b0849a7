"""`codelupe model`: the finished checkpoints as models — list them, merge one into its base model.

`codelupe model merge v0003` writes `DATA_DIR/models/v0003-merged/` (or `--out`): safetensors, config,
generation config, tokenizer and model card, which `AutoModelForCausalLM.from_pretrained` and
`pipeline("text-generation")` load without peft. torch, transformers and peft are imported only when a
merge runs, so `codelupe model --help` and `codelupe model list` start fast and work without the [train]
extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.cli.errors import FAILED, UNAVAILABLE, USAGE, CommandError
from codelupe_dagster.training import checkpoints
from codelupe_dagster.training.merge import (
    DTYPES,
    BaseModelUnavailable,
    OutputNotEmpty,
    UnknownCheckpoint,
    default_output,
    find_checkpoint,
)

TRAIN_EXTRA = "pip install 'codelupe-dagster[train]'"


@click.group()
def model() -> None:
    """Finished checkpoints as models: list them, merge one into its base model."""


def _row(checkpoint: checkpoints.Checkpoint) -> dict[str, Any]:
    manifest = checkpoint.manifest
    return {
        "version": checkpoint.version,
        "base_model": manifest.get("base_model"),
        "steps": manifest.get("steps"),
        "eval_loss_before": manifest.get("eval_loss_before"),
        "eval_loss_after": manifest.get("eval_loss_after"),
        "created_at": manifest.get("created_at"),
        "path": str(checkpoint.adapter_dir),
    }


def _loss(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "n/a"


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_models(as_json: bool) -> None:
    """Finished checkpoints, oldest first: base model, steps, held-out loss, when."""
    rows = [_row(c) for c in checkpoints.list_checkpoints(settings.data_dir())]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no checkpoints in {checkpoints.checkpoints_dir(settings.data_dir())}")
        return
    for row in rows:
        loss = f"eval loss {_loss(row['eval_loss_before'])} -> {_loss(row['eval_loss_after'])}"
        steps = f"{row['steps']} steps"
        click.echo(f"{row['version']}  {row['base_model']}  {steps}  {loss}  {row['created_at']}")


def _require_train_extra() -> None:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise CommandError(
            f"merging needs the [train] extra ({exc.name or 'torch'} is missing): {TRAIN_EXTRA}", UNAVAILABLE
        ) from exc


@model.command()
@click.argument("version")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the merged model (default: DATA_DIR/models/VERSION-merged).",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    default=None,
    help="Weights' dtype (default: the dtype the adapter was trained in).",
)
@click.option("--force", is_flag=True, help="Replace a non-empty output directory.")
def merge(version: str, out: Path | None, dtype: str | None, force: bool) -> None:
    """Merge checkpoint VERSION's adapter into its base model (v0003, 3 or latest)."""
    data_dir = settings.data_dir()
    try:
        checkpoint = find_checkpoint(data_dir, version)
    except UnknownCheckpoint as exc:
        raise CommandError(str(exc), USAGE) from exc
    target = out or default_output(data_dir, checkpoint.version)
    _require_train_extra()
    from codelupe_dagster.training.merge import merge_checkpoint

    try:
        written = merge_checkpoint(
            checkpoint,
            target,
            data_dir=data_dir,
            dtype=dtype,
            force=force,
            log=lambda line: click.echo(line, err=True),
        )
    except OutputNotEmpty as exc:
        raise CommandError(str(exc), USAGE) from exc
    except BaseModelUnavailable as exc:
        raise CommandError(str(exc), UNAVAILABLE) from exc
    except (OSError, RuntimeError) as exc:
        raise CommandError(f"merging {checkpoint.version} failed: {exc}", FAILED) from exc
    click.echo(str(written))
