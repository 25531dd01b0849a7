"""A checkpoint's adapter merged into its base model: a plain transformers model directory.

`merge_checkpoint` loads the base model the manifest names in float32, applies the adapter, folds it
into the weights (peft's `merge_and_unload`), casts to the wanted dtype and writes safetensors, config,
generation config, the tokenizer and a model card. Merging in float32 keeps the sum W + BA exact to
float32 before the one rounding to float16/bfloat16, at the cost of 4 bytes per parameter of memory
while merging (28 GB for a 7B model).

The directory is filled under a hidden temporary name beside the target and renamed into place, so a
crash never leaves a half-written model where a reader would load it. torch, transformers and peft are
imported inside the functions.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codelupe_dagster.training import checkpoints
from codelupe_dagster.training.config import TINY_MODEL
from codelupe_dagster.training.model_card import model_card
from codelupe_dagster.training.tiny_model import tiny_model_dir

DTYPES = ("float16", "bfloat16", "float32")
_VERSION_ARG = re.compile(r"^v?(\d{1,9})$")


class UnknownCheckpoint(LookupError):
    """No finished checkpoint has the version asked for."""


class BaseModelUnavailable(RuntimeError):
    """The base model's files are neither on disk nor reachable (offline, no cache)."""


class OutputNotEmpty(FileExistsError):
    """The output directory already holds something and replacing it was not asked for."""


def find_checkpoint(data_dir: Path, version: str) -> checkpoints.Checkpoint:
    """The finished checkpoint `version` (`v0003`, `v3` and `3` name the same one; `latest` the newest)."""
    found = checkpoints.list_checkpoints(data_dir)
    if version == "latest" and found:
        return found[-1]
    match = _VERSION_ARG.match(version)
    wanted = f"v{int(match.group(1)):04d}" if match else version
    for checkpoint in found:
        if checkpoint.version == wanted:
            return checkpoint
    have = ", ".join(c.version for c in found) or "none"
    raise UnknownCheckpoint(
        f"no checkpoint {version} in {checkpoints.checkpoints_dir(data_dir)} (finished checkpoints: {have})"
    )


def default_output(data_dir: Path, version: str) -> Path:
    return Path(data_dir) / "models" / f"{version}-merged"


def base_model_source(checkpoint: checkpoints.Checkpoint, data_dir: Path) -> str:
    """What to pass to `from_pretrained` for the checkpoint's base model: the directory it was trained
    from when it still exists, this DATA_DIR's tiny model for `local:tiny-qwen2` (the state directory
    may have moved), else the Hub id or path the manifest names."""
    manifest = checkpoint.manifest
    spec = str(manifest.get("base_model") or "")
    recorded = str(manifest.get("base_model_path") or "")
    if recorded and (Path(recorded) / "config.json").is_file():
        return recorded
    if spec == TINY_MODEL:
        local = tiny_model_dir(data_dir)
        if (local / "config.json").is_file():
            return str(local)
        # Rebuilding it would draw other random weights than the adapter was trained on.
        raise BaseModelUnavailable(f"the base model {spec} of {checkpoint.version} is gone from {local}")
    if not spec or spec.startswith("local:"):
        raise BaseModelUnavailable(
            f"{checkpoint.version} names no base model this version can load: {spec!r}"
        )
    return spec


def merged_dtype(checkpoint: checkpoints.Checkpoint, dtype: str | None) -> str:
    """The dtype asked for, else the one the adapter was trained in (float32 when not recorded)."""
    if dtype is not None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        return dtype
    trained = str(checkpoint.manifest.get("dtype") or "")
    return trained if trained in DTYPES else "float32"


def check_output(out: Path, *, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputNotEmpty(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputNotEmpty(f"{out} is not empty (--force replaces it)")


def merge_checkpoint(
    checkpoint: checkpoints.Checkpoint,
    out: Path,
    *,
    data_dir: Path,
    dtype: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Write `checkpoint`'s base model with its adapter merged in to `out`; returns `out`."""
    out = Path(out).absolute()
    check_output(out, force=force)
    target = merged_dtype(checkpoint, dtype)
    model = _merged_model(checkpoint, base_model_source(checkpoint, data_dir), target, log)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint.tokenizer_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        model.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))
        (staging / checkpoints.MODEL_CARD).write_text(model_card(checkpoint.manifest, merged=True))
        _replace(staging, out, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"merged {checkpoint.version} into {out} ({target})")
    return out


def _merged_model(
    checkpoint: checkpoints.Checkpoint, base_path: str, dtype: str, log: Callable[[str], None]
) -> Any:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    log(f"loading the base model {base_path}")
    try:
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    except (OSError, ValueError) as exc:  # not on disk, not cached, hub unreachable or offline
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise BaseModelUnavailable(
            f"cannot load the base model {checkpoint.manifest.get('base_model')} of {checkpoint.version} "
            f"({reason})"
        ) from exc
    merged = PeftModel.from_pretrained(base, str(checkpoint.adapter_dir)).merge_and_unload()
    merged = merged.to(getattr(torch, dtype))
    merged.config.use_cache = True  # an inference model: the trainer's use_cache=False does not belong here
    return merged


def _replace(staging: Path, out: Path, *, force: bool) -> None:
    """Rename `staging` to `out`; an existing `out` (empty, or any with `force`) is moved aside first
    and removed after, so `out` never holds a half-written model."""
    if not out.exists():
        staging.rename(out)
        return
    check_output(out, force=force)
    old = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
