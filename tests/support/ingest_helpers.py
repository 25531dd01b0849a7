"""Shared builders for the ingest tests: queue contents and the Dagster resources of the ingest stage."""

from __future__ import annotations

import json
from pathlib import Path

from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.resources.git import GitResource
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.sources import SourcesResource

KEYS = RedisKeys("pipeline:")


def enqueue(client, records_with_priority: list[tuple[RepoRecord, float]]) -> None:
    """Put repos on the queue exactly as queued_repos does (metadata first, then the ZSET)."""
    client.hset(
        KEYS.repo_meta, mapping={r.full_name: json.dumps(r.to_doc()) for r, _ in records_with_priority}
    )
    client.zadd(KEYS.repos, {r.full_name: p for r, p in records_with_priority})


def ingest_resources(data_dir: Path, redis_url: str | None, **git: object) -> dict[str, object]:
    return {
        "pipeline": PipelineResource(data_dir=str(data_dir)),
        "redis": RedisResource(url=redis_url, data_dir=str(data_dir)),
        "search": SearchIndexResource(data_dir=str(data_dir)),
        "sources": SourcesResource(),
        "git": GitResource(
            repos_dir=str(data_dir / "repos"),
            # The test git server speaks plain http on loopback: both must be allowed explicitly.
            **{"allowed_hosts": ["127.0.0.1"], "allowed_schemes": ["https", "http"], "workers": 2, **git},
        ),
    }
