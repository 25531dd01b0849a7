"""Checkpoint directories: `DATA_DIR/checkpoints/v0001/`, `v0002/`, … each with `adapter/` and
`manifest.json`.

`adapter/` is self-contained: the peft adapter, the tokenizer it was trained with and a model card
(README.md, from the manifest), so `AutoTokenizer`, `AutoPeftModelForCausalLM` and the Hub take the
directory as it is. Checkpoints written before that keep the tokenizer in a sibling `tokenizer/`;
`Checkpoint.tokenizer_dir` finds either.

A checkpoint only counts once its manifest exists: the writer fills a hidden temporary directory
and renames it into place, so a crash mid-write never leaves a half checkpoint that the sensor or a
resumed run would pick up. Pure (json + pathlib), so the sensor reads watermarks without torch.

Mid-run state lives apart, in `DATA_DIR/checkpoints/partial/step-00000200/` (see `training/resume.py`):
its name never matches a version, so neither `latest_checkpoint` nor the sensor can take it for a model.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from codelupe_dagster.training.model_card import model_card

MANIFEST = "manifest.json"
ADAPTER = "adapter"
MODEL_CARD = "README.md"  # in the adapter directory, where the Hub and peft look for it
LEGACY_TOKENIZER = "tokenizer"  # where checkpoints kept the tokenizer before it moved into `adapter/`
TOKENIZER_CONFIG = "tokenizer_config.json"
CONTENT_IDS = "content_ids.bin"  # the trained-on content ids, sorted, raw
ID_BYTES = 16
_VERSION = re.compile(r"^v(\d{4,})$")
PARTIAL = "partial"  # mid-run state, under checkpoints/
PARTIAL_STATE = "state.json"  # written last: a partial directory without it is incomplete
_PARTIAL_STEP = re.compile(r"^step-(\d{8,})$")


@dataclass(frozen=True)
class Checkpoint:
    version: str
    path: Path
    manifest: dict[str, Any]

    @property
    def adapter_dir(self) -> Path:
        return self.path / ADAPTER

    @property
    def tokenizer_dir(self) -> Path:
        """The adapter directory, or the sibling `tokenizer/` of a checkpoint written before."""
        legacy = self.path / LEGACY_TOKENIZER
        if not (self.adapter_dir / TOKENIZER_CONFIG).is_file() and (legacy / TOKENIZER_CONFIG).is_file():
            return legacy
        return self.adapter_dir

    @property
    def watermark(self) -> datetime | None:
        """Latest `indexed_at` of the data this checkpoint saw; the sensor counts past it."""
        raw = self.manifest.get("data_watermark")
        return datetime.fromisoformat(raw) if raw else None


def checkpoints_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "checkpoints"


def list_checkpoints(data_dir: Path) -> list[Checkpoint]:
    """Complete checkpoints, oldest first."""
    root = checkpoints_dir(data_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _VERSION.match(child.name)
        manifest_path = child / MANIFEST
        if not (match and manifest_path.is_file()):
            continue
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # unreadable manifest: treat as incomplete rather than crash the sensor
        found.append((int(match.group(1)), Checkpoint(child.name, child, manifest)))
    return [checkpoint for _, checkpoint in sorted(found, key=lambda pair: pair[0])]


def latest_checkpoint(data_dir: Path) -> Checkpoint | None:
    checkpoints = list_checkpoints(data_dir)
    return checkpoints[-1] if checkpoints else None


def next_version(data_dir: Path) -> str:
    root = checkpoints_dir(data_dir)
    numbers = [
        int(match.group(1))
        for child in (root.iterdir() if root.is_dir() else [])
        if (match := _VERSION.match(child.name))
    ]
    return f"v{max(numbers, default=0) + 1:04d}"


def staging_dir(data_dir: Path, version: str) -> Path:
    """Where a checkpoint is written before `publish` renames it into place."""
    path = checkpoints_dir(data_dir) / f".{version}.partial"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_content_ids(staging: Path, manifest: dict[str, Any]) -> None:
    """Move `trained_on.content_ids` (hex ids) into `CONTENT_IDS`: the sorted ids as raw bytes, 16 each
    (a million documents: 16 MB, against ~35 MB as JSON). The manifest keeps the count, the file name
    and its SHA-256."""
    trained = manifest.get("trained_on")
    if not isinstance(trained, dict) or "content_ids" not in trained:
        return
    ids = sorted({bytes.fromhex(i) for i in trained.pop("content_ids")})
    data = b"".join(ids)
    (staging / CONTENT_IDS).write_bytes(data)
    trained.update(
        content_ids=len(ids),
        content_ids_file=CONTENT_IDS,
        content_ids_sha256=hashlib.sha256(data).hexdigest(),
        content_id_bytes=ID_BYTES,
    )


def trained_content_ids(checkpoint: Checkpoint) -> set[bytes]:
    """The content ids a checkpoint trained on (empty for one written before they were recorded)."""
    trained = checkpoint.manifest.get("trained_on") or {}
    name = trained.get("content_ids_file")
    if not name:
        return set()
    data = (checkpoint.path / str(name)).read_bytes()
    width = int(trained.get("content_id_bytes") or ID_BYTES)
    return {data[i : i + width] for i in range(0, len(data), width)}


def trained_repos(checkpoint: Checkpoint) -> list[str]:
    return [str(repo) for repo in (checkpoint.manifest.get("trained_on") or {}).get("repos") or []]


def publish(staging: Path, version: str, manifest: dict[str, Any]) -> Checkpoint:
    """Write the model card over peft's template, the manifest last, and rename the directory: the
    checkpoint appears atomically."""
    write_content_ids(staging, manifest)
    if (staging / ADAPTER).is_dir():
        (staging / ADAPTER / MODEL_CARD).write_text(model_card(manifest))
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    final = staging.parent / version
    if final.exists():
        raise FileExistsError(f"checkpoint {final} already exists; refusing to overwrite it")
    staging.rename(final)
    return Checkpoint(version, final, manifest)


# ---------------------------------------------------------------------------------------------------------
# Mid-run (partial) checkpoints: written every CHECKPOINT_EVERY steps, removed when the run finishes
# ---------------------------------------------------------------------------------------------------------


def partial_root(data_dir: Path) -> Path:
    return checkpoints_dir(data_dir) / PARTIAL


def partial_dirs(data_dir: Path) -> list[Path]:
    """Published mid-run checkpoints, newest (highest step) first; whether each is readable is the
    reader's business (`read_partial_state`)."""
    return _newest_first(partial_root(data_dir))


def _newest_first(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), child) for child in root.iterdir() if (m := _PARTIAL_STEP.match(child.name))]
    return [path for _, path in sorted(found, key=lambda pair: pair[0], reverse=True)]


def read_partial_state(path: Path) -> dict[str, Any]:
    """The state.json of a mid-run checkpoint; ValueError when it is missing or unreadable."""
    try:
        state = json.loads((path / PARTIAL_STATE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable {PARTIAL_STATE}: {exc}") from exc
    if not isinstance(state, dict):
        raise ValueError(f"{PARTIAL_STATE} is not an object")
    return state


def stage_partial(data_dir: Path, next_step: int) -> Path:
    """An empty hidden directory to fill before `publish_partial` renames it into place; a leftover of a
    run killed while writing is cleared first."""
    staging = partial_root(data_dir) / f".step-{next_step:08d}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def publish_partial(staging: Path, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Write state.json last, rename the directory into place, and keep only the newest `keep`: the
    previous one stays so a checkpoint found corrupt still leaves one to resume from."""
    (staging / PARTIAL_STATE).write_text(json.dumps(state, sort_keys=True))
    final = staging.parent / staging.name.removeprefix(".").removesuffix(".tmp")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    for old in _newest_first(staging.parent)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partials(data_dir: Path) -> None:
    """Every mid-run checkpoint (and half-written ones): the run they belong to is over or obsolete."""
    shutil.rmtree(partial_root(data_dir), ignore_errors=True)
