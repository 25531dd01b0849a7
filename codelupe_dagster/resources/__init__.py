"""One ConfigurableResource per external system, built from the environment (DESIGN §8).

`default_resources()` is the one place the environment is read for resource fields: the code location
and the CLI both build their resources with it, so a variable means the same thing to both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.core.keys import DEFAULT_PREFIX
from codelupe_dagster.resources.forge import ForgeConfig, env_variable
from codelupe_dagster.resources.git import GitResource, comma_list
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import CONNECT_ATTEMPTS, RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.sources import SourcesResource
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
        keep_batch_partitions=settings.env_int("KEEP_BATCH_PARTITIONS"),
        check_interval=settings.env_int("CHECK_INTERVAL"),
        crawler_mode=settings.env_str("CRAWLER_MODE") or settings.DEFAULTS["CRAWLER_MODE"],
        sync_interval=settings.env_int("SYNC_INTERVAL"),
        source=settings.env_str("CODELUPE_SOURCE"),
        pii_redact=settings.env_str("PII_REDACT") or settings.DEFAULTS["PII_REDACT"],
        decontaminate_sets=settings.env_str("DECONTAMINATE_SETS") or settings.DEFAULTS["DECONTAMINATE_SETS"],
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
        dedup_expected_files=settings.env_int("DEDUP_EXPECTED_FILES"),
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
        license_policy=settings.env_str("LICENSE_POLICY") or settings.DEFAULTS["LICENSE_POLICY"],
        include_contaminated=settings.env_bool("TRAIN_INCLUDE_CONTAMINATED"),
        min_new_files=settings.env_int("MIN_NEW_FILES"),
        wandb_mode=settings.env_str("WANDB_MODE", "") or None,
        checkpoint_every=settings.env_int("CHECKPOINT_EVERY"),
        max_seconds=_train_max_seconds(),
        train_gpus=_train_gpus(),
        sharding=(settings.env_str("TRAIN_SHARDING") or "auto").lower(),
    )


def _train_gpus() -> int | None:
    """TRAIN_GPUS: 'auto' (the default) is None, resolved when a run starts; else a count of at least 1."""
    if (settings.env_str("TRAIN_GPUS") or "auto").lower() == "auto":
        return None
    return settings.env_int("TRAIN_GPUS")


def _train_max_seconds() -> float | None:
    """TRAIN_MAX_SECONDS: unset (or empty) is no bound; anything else must be a positive number."""
    if settings.env_str("TRAIN_MAX_SECONDS") is None:
        return None
    seconds = settings.env_float("TRAIN_MAX_SECONDS")
    if not seconds > 0:
        raise settings.ConfigurationError(
            f"TRAIN_MAX_SECONDS must be a positive number of seconds, got {seconds}"
        )
    return seconds


def forge_from_env(block_type: type[ForgeConfig]) -> ForgeConfig:
    """A forge's settings block with each `env_field` whose variable is set taken from it; a secret as an
    EnvVar (resolved by Dagster at run time, never shown), and an unset variable keeps the field default."""
    values: dict[str, Any] = {}
    for name, info in block_type.model_fields.items():
        declared = env_variable(info)
        if declared is None:
            continue
        variable, secret = declared
        raw = settings.env_str(variable)
        if raw is not None:
            values[name] = dg.EnvVar(variable) if secret else raw
    return block_type(**values)


def sources_from_env() -> SourcesResource:
    """Every forge block of the crawl's sources, each from its own variables (GITHUB_TOKEN, GITLAB_URL)."""
    blocks = {
        name: forge_from_env(info.annotation)
        for name, info in SourcesResource.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, ForgeConfig)
    }
    return SourcesResource(**blocks)


def git_from_env(data_dir: str, forge_hosts: Sequence[str]) -> GitResource:
    """Clone settings: REPOS_DIR (default <DATA_DIR>/repos), REPO_WORKERS, CLONE_ALLOWED_SCHEMES, and the
    allowed hosts: the configured forges' hosts plus CLONE_ALLOWED_HOSTS (a comma list)."""
    repos_dir = settings.env_str("REPOS_DIR")
    extra_hosts = comma_list(settings.env_str("CLONE_ALLOWED_HOSTS"))
    return GitResource(
        repos_dir=str(Path(repos_dir).expanduser().resolve()) if repos_dir else str(Path(data_dir) / "repos"),
        allowed_hosts=list(dict.fromkeys([*forge_hosts, *extra_hosts])),
        allowed_schemes=comma_list(settings.env_str("CLONE_ALLOWED_SCHEMES")),
        workers=settings.env_int("REPO_WORKERS"),
    )


def default_resources(redis_connect_attempts: int = CONNECT_ATTEMPTS) -> dict[str, Any]:
    """Resources for the current environment; unset services fall back to the embedded default.

    Short-lived commands (`codelupe status`, `retry`) pass fewer connection attempts: an operator waiting
    at a prompt should hear sooner that Redis is down.
    """
    pipeline = pipeline_from_env()
    data_dir = pipeline.data_dir  # the one DATA_DIR every resource shares
    sources = sources_from_env()
    resources: dict[str, Any] = {
        "pipeline": pipeline,
        "redis": redis_from_env(data_dir, redis_connect_attempts),
        "search": search_from_env(data_dir),
        "training": training_from_env(data_dir),
        "sources": sources,
        "git": git_from_env(data_dir, sources.clone_hosts()),
    }
    return resources


__all__ = [
    "GitResource",
    "PipelineResource",
    "RedisResource",
    "SearchIndexResource",
    "SourcesResource",
    "TrainingResource",
    "default_resources",
    "git_from_env",
    "pipeline_from_env",
    "sources_from_env",
    "training_from_env",
]
