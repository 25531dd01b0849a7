"""Where training writes and which base model it starts from; unset fields read the environment
when used (never at import), so one Definitions object serves every deployment."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from codelupe_dagster import settings


class TrainingResource(dg.ConfigurableResource):
    base_model: str | None = None  # None: BASE_MODEL, default the local tiny model
    data_dir: str | None = None  # None: DATA_DIR
    wandb_mode: str | None = None  # None: WANDB_MODE, else online with WANDB_API_KEY, else offline
    min_quality: float | None = None  # None: TRAIN_MIN_QUALITY
    max_documents: int | None = None  # None: MAX_DATASET_SIZE
    min_new_files: int | None = None  # None: MIN_NEW_FILES

    def resolved_base_model(self) -> str:
        return self.base_model or settings.env_str("BASE_MODEL") or "local:tiny-qwen2"

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir).expanduser().resolve() if self.data_dir else settings.data_dir()

    def resolved_wandb_mode(self) -> str | None:
        # Only an explicit WANDB_MODE counts here: settings' default would hide WANDB_API_KEY.
        return self.wandb_mode or os.environ.get("WANDB_MODE") or None

    def resolved_min_quality(self) -> float:
        return self.min_quality if self.min_quality is not None else settings.env_float("TRAIN_MIN_QUALITY")

    def resolved_max_documents(self) -> int:
        return self.max_documents if self.max_documents is not None else settings.env_int("MAX_DATASET_SIZE")

    def resolved_min_new_files(self) -> int:
        return self.min_new_files if self.min_new_files is not None else settings.env_int("MIN_NEW_FILES")
