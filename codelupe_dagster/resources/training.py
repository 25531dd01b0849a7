"""The trainer's settings as one resource: which base model, which data, when the sensor trains.

Plain fields, shown in the launchpad; `default_resources()` fills them from the environment in one
place (a field's description starts with the variable it comes from), with the same DATA_DIR as every
other resource. Built without arguments, a field takes the documented default, never the environment.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field, field_validator

from codelupe_dagster.core.licenses import LicensePolicy
from codelupe_dagster.settings import DEFAULTS


class TrainingResource(dg.ConfigurableResource):
    """Where checkpoints go, what they start from, which documents they learn and when to retrain."""

    data_dir: str = Field(
        default=DEFAULTS["DATA_DIR"],
        description="DATA_DIR: state directory; checkpoints, the local base model and wandb logs live here.",
    )
    base_model: str = Field(
        default=DEFAULTS["BASE_MODEL"],
        description="BASE_MODEL: a Hugging Face model id, or 'local:tiny-qwen2' (built on first use).",
    )
    min_quality: float = Field(
        default=float(DEFAULTS["TRAIN_MIN_QUALITY"]),
        description="TRAIN_MIN_QUALITY: the lowest quality score a document is trained on.",
    )
    max_documents: int = Field(
        default=int(DEFAULTS["MAX_DATASET_SIZE"]),
        description="MAX_DATASET_SIZE: the newest eligible documents a run trains on, at most.",
    )
    license_policy: str = Field(
        default=DEFAULTS["LICENSE_POLICY"],
        description="LICENSE_POLICY: licences trained on: 'permissive', 'any' or 'list:<spdx>,...'.",
    )
    include_contaminated: bool = Field(
        default=False,
        description=(
            "TRAIN_INCLUDE_CONTAMINATED: train on documents that overlap an evaluation set too "
            "(off by default: they are left out)."
        ),
    )
    min_new_files: int = Field(
        default=int(DEFAULTS["MIN_NEW_FILES"]),
        description="MIN_NEW_FILES: new eligible documents since the last checkpoint that start a run.",
    )
    wandb_mode: str | None = Field(
        default=None,
        description=(
            "WANDB_MODE: 'online', 'offline' or 'disabled'; unset: online when WANDB_API_KEY is set, "
            "else offline."
        ),
    )

    checkpoint_every: int = Field(
        default=int(DEFAULTS["CHECKPOINT_EVERY"]),
        ge=0,
        description=(
            "CHECKPOINT_EVERY: optimizer steps between mid-run checkpoints a re-run after a crash continues "
            "from; 0: none."
        ),
    )
    max_seconds: float | None = Field(
        default=None,
        gt=0,
        description=(
            "TRAIN_MAX_SECONDS: training time after which a run stops at the next optimizer step, then "
            "evaluates and saves as usual; unset: no bound."
        ),
    )
    train_gpus: int | None = Field(
        default=None,
        ge=1,
        description=(
            "TRAIN_GPUS: processes (one per GPU) a training run uses, launched under torchrun when more than "
            "one; unset or 'auto': every visible CUDA device, 1 on a CPU-only machine (N on a CPU: N gloo "
            "processes)."
        ),
    )

    sharding: str = Field(
        default=DEFAULTS["TRAIN_SHARDING"],
        description=(
            "TRAIN_SHARDING: how a launched run (TRAIN_GPUS above 1) holds the base model: 'replicate' "
            "(whole on every GPU), 'fsdp' (sharded with FSDP2), or 'auto': fsdp when its bf16 weights and "
            "activations would not fit one GPU, else replicate (always on a CPU)."
        ),
    )

    @field_validator("sharding")
    @classmethod
    def _valid_sharding(cls, value: str) -> str:
        from codelupe_dagster.training.config import SHARDING_MODES

        if value not in SHARDING_MODES:
            raise ValueError(f"TRAIN_SHARDING must be one of {', '.join(SHARDING_MODES)}, got {value!r}")
        return value

    @field_validator("license_policy")
    @classmethod
    def _valid_license_policy(cls, value: str) -> str:
        LicensePolicy.parse(value)
        return value

    def data_path(self) -> Path:
        """DATA_DIR as an absolute path, so every process of a session agrees on it."""
        return Path(self.data_dir).expanduser().resolve()
