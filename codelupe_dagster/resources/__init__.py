"""One ConfigurableResource per external system, built from the environment (DESIGN §8).

`default_resources()` is the one place the environment is read for resource fields: the code location
and the CLI both build their resources with it, so a variable means the same thing to both.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.core.keys import DEFAULT_PREFIX
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import CONNECT_ATTEMPTS, RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource


def _optional_env(name: str) -> Any:
    """An EnvVar when the variable is set, so secrets are resolved by Dagster and never shown in the UI."""
    return dg.EnvVar(name) if settings.env_str(name) else None


def pipeline_from_env(data_dir: str | None = None) -> PipelineResource:
    """The pipeline-wide settings, each field from its variable (or its default)."""
    return PipelineResource(
        data_dir=data_dir or str(settings.data_dir()),
        file_workers=settings.env_int("FILE_WORKERS"),
        min_quality=settings.env_float("MIN_QUALITY_THRESHOLD"),
        batch_size=settings.env_int("BATCH_SIZE"),
        batch_max_active_runs=settings.env_int("BATCH_MAX_ACTIVE_RUNS"),
        check_interval=settings.env_int("CHECK_INTERVAL"),
        crawler_mode=settings.env_str("CRAWLER_MODE") or settings.DEFAULTS["CRAWLER_MODE"],
        sync_interval=settings.env_int("SYNC_INTERVAL"),
        source=settings.env_str("CODELUPE_SOURCE"),
    )


def redis_from_env(data_dir: str, connect_attempts: int = CONNECT_ATTEMPTS) -> RedisResource:
    """The queue and dedup store: REDIS_URL when set, else the embedded Valkey of ``data_dir``."""
    return RedisResource(
        url=_optional_env("REDIS_URL"),
        data_dir=data_dir,
        key_prefix=settings.env_str("REDIS_KEY_PREFIX") or DEFAULT_PREFIX,
        lease_ttl_s=settings.env_float("LEASE_TTL"),
        max_repo_attempts=settings.env_int("MAX_REPO_ATTEMPTS"),
        max_repo_crashes=settings.env_int("MAX_REPO_CRASHES"),
        retry_backoff_s=settings.env_float("REPO_RETRY_BACKOFF"),
        connect_attempts=connect_attempts,
    )


def search_from_env(data_dir: str) -> SearchIndexResource:
    """The code and repo indexes: ELASTICSEARCH_URL when set, else the SQLite file under ``data_dir``."""
    return SearchIndexResource(
        elasticsearch_url=_optional_env("ELASTICSEARCH_URL"),
        api_key=_optional_env("ELASTICSEARCH_API_KEY"),
        username=_optional_env("ELASTICSEARCH_USERNAME"),
        password=_optional_env("ELASTICSEARCH_PASSWORD"),
        data_dir=data_dir,
        code_index_name=settings.env_str("ES_CODE_INDEX") or "codelupe-code",
        repo_index_name=settings.env_str("ES_REPO_INDEX") or "github-coding-repos",
    )


def training_from_env(data_dir: str) -> TrainingResource:
    """The trainer's settings; WANDB_MODE stays None when unset, so WANDB_API_KEY can still pick online."""
    return TrainingResource(
        data_dir=data_dir,
        base_model=settings.env_str("BASE_MODEL") or settings.DEFAULTS["BASE_MODEL"],
        min_quality=settings.env_float("TRAIN_MIN_QUALITY"),
        max_documents=settings.env_int("MAX_DATASET_SIZE"),
        min_new_files=settings.env_int("MIN_NEW_FILES"),
        wandb_mode=settings.env_str("WANDB_MODE", "") or None,
    )


def default_resources(redis_connect_attempts: int = CONNECT_ATTEMPTS) -> dict[str, Any]:
    """Resources for the current environment; unset services fall back to the embedded default.

    Short-lived commands (`codelupe status`, `retry`) pass fewer connection attempts: an operator waiting
    at a prompt should hear sooner that Redis is down.
    """
    pipeline = pipeline_from_env()
    data_dir = pipeline.data_dir  # the one DATA_DIR every resource shares
    resources: dict[str, Any] = {
        "pipeline": pipeline,
        "redis": redis_from_env(data_dir, redis_connect_attempts),
        "search": search_from_env(data_dir),
        "training": training_from_env(data_dir),
    }
    return resources


__all__ = [
    "PipelineResource",
    "RedisResource",
    "SearchIndexResource",
    "TrainingResource",
    "default_resources",
    "pipeline_from_env",
    "training_from_env",
]
