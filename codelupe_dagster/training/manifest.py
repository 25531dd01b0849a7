"""What a checkpoint records about its run: data, losses, speed, hardware and the full config.

Pure (no torch): the trainer measures, this module only assembles, so the manifest's shape can be
read in one place. The asset's metadata and blocking data check are read from these keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import CorpusSelection
from codelupe_dagster.training.progress import loss_curve


@dataclass(frozen=True)
class LoopStats:
    """What the train loop measured."""

    trained_tokens: int
    step_losses: list[float]
    seconds: float  # training time, across mid-run resumes
    stopped_on: str = "completed"  # or "time_budget" (TRAIN_MAX_SECONDS)
    resumed_at_steps: tuple[int, ...] = ()  # steps a re-run continued from mid-run checkpoints

    @property
    def tail_loss(self) -> float:
        """Mean loss of the last tenth of the steps: less noisy than the last step alone."""
        tail = self.step_losses[-max(1, len(self.step_losses) // 10) :]
        return sum(tail) / len(tail)

    @property
    def tokens_per_second(self) -> float:
        return self.trained_tokens / max(self.seconds, 1e-9)


@dataclass(frozen=True)
class Evaluation:
    """Held-out loss before and after the run (None without held-out tokens)."""

    before: float | None
    after: float | None


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


def data_fields(selection: CorpusSelection) -> dict[str, Any]:
    """The corpus a checkpoint was trained on: counts, what was dropped, and the watermark."""
    return {
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
        "licenses": selection.licenses,
        "policy": selection.policy,
        "excluded": selection.excluded,
        "data_checks": data_checks(selection.train, selection.eval),
        "trained_on": trained_on(selection),
    }


def trained_on(selection: CorpusSelection) -> dict[str, Any]:
    """The repositories and content ids the run saw (train and held-out), so `codelupe status` can name
    checkpoints trained on data forgotten since. `publish` moves the ids into a compact side file
    (`checkpoints.CONTENT_IDS`) and leaves their count, file name and digest here."""
    docs = [*selection.train, *selection.eval]
    return {
        "repos": sorted({str(doc.get("repo") or "") for doc in docs} - {""}),
        "content_ids": sorted({str(doc["id"]) for doc in docs if doc.get("id")}),
    }


def codelupe_version() -> str | None:
    """The installed package's version (None from a bare checkout): the model card names it."""
    try:
        return metadata.version("codelupe-dagster")
    except metadata.PackageNotFoundError:
        return None


def build_manifest(
    *,
    version: str,
    config: TrainingConfig,
    base_model_path: str,
    resumed_from: str | None,
    selection: CorpusSelection,
    tokens: int,
    eval_tokens: int,
    steps: int,  # planned; the loop may stop sooner on the time budget
    loop: LoopStats,
    evaluation: Evaluation,
    wall_seconds: float,
    hardware: dict[str, Any],
    git_commit: str | None,
) -> dict[str, Any]:
    """The manifest.json of one checkpoint; `hardware` holds device, dtype, liger, parameters, memory."""
    return {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "base_model": config.base_model,
        "base_model_path": base_model_path,
        "resumed_from": resumed_from,
        **data_fields(selection),
        "tokens": tokens,
        "eval_tokens": eval_tokens,
        "trained_tokens": loop.trained_tokens,
        "steps": len(loop.step_losses),  # optimizer steps trained
        "steps_planned": steps,
        "stopped_on": loop.stopped_on,
        "resumed_at_steps": list(loop.resumed_at_steps),
        "train_loss": loop.tail_loss,
        "train_loss_first_step": loop.step_losses[0],
        "loss_curve": loss_curve(loop.step_losses),  # per step, averaged down to at most 200 points
        "eval_loss_before": evaluation.before,
        "eval_loss_after": evaluation.after,
        "tokens_per_second": loop.tokens_per_second,
        "train_seconds": loop.seconds,
        "wall_seconds": wall_seconds,
        **hardware,
        "git_commit": git_commit,
        "codelupe_version": codelupe_version(),
        "config": config.to_manifest(),
    }
