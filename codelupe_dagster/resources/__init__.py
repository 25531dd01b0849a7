"""One ConfigurableResource per external system, built from the environment (DESIGN §8)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource


def _optional_env(name: str) -> Any:
    """An EnvVar when the variable is set, so secrets are resolved by Dagster and never shown in the UI."""
    return dg.EnvVar(name) if settings.env_str(name) else None


def default_resources() -> dict[str, Any]:
    """Resources for the current environment; unset services fall back to the embedded default."""
    data_dir = str(settings.data_dir())
    resources: dict[str, Any] = {
        "redis": RedisResource(
            url=_optional_env("REDIS_URL"),
            data_dir=data_dir,
            key_prefix=settings.env_str("REDIS_KEY_PREFIX") or "pipeline:",
            lease_ttl_s=settings.env_float("LEASE_TTL"),
            max_repo_attempts=settings.env_int("MAX_REPO_ATTEMPTS"),
            max_repo_crashes=settings.env_int("MAX_REPO_CRASHES"),
            retry_backoff_s=settings.env_float("REPO_RETRY_BACKOFF"),
        ),
        "search": SearchIndexResource(
            elasticsearch_url=_optional_env("ELASTICSEARCH_URL"),
            api_key=_optional_env("ELASTICSEARCH_API_KEY"),
            username=_optional_env("ELASTICSEARCH_USERNAME"),
            password=_optional_env("ELASTICSEARCH_PASSWORD"),
            data_dir=data_dir,
            code_index_name=settings.env_str("ES_CODE_INDEX") or "codelupe-code",
            repo_index_name=settings.env_str("ES_REPO_INDEX") or "github-coding-repos",
        ),
    }
    return resources


__all__ = ["RedisResource", "SearchIndexResource", "default_resources"]
