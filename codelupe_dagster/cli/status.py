"""`codelupe status`: the old pipeline's monitoring commands (LLEN/SCARD on the queue keys, `_count` and the
quality-range aggregation on `codelupe-code`) gathered in one place."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.repo_queue import dead_letters
from codelupe_dagster.backends.search import (
    CODE_SCHEMA,
    REPO_SCHEMA,
    BackendUnavailable,
    open_configured_index,
)
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.masking import mask_url
from codelupe_dagster.resources.redis import RedisUnavailable, connect_redis


def collect_status() -> dict[str, Any]:
    """Counts from Redis and both indexes, named as operators know them."""
    data_dir = settings.data_dir()
    redis_url = settings.env_str("REDIS_URL")
    es_url = settings.env_str("ELASTICSEARCH_URL")
    keys = RedisKeys(settings.env_str("REDIS_KEY_PREFIX") or "pipeline:")

    client = connect_redis(redis_url, str(data_dir), attempts=3)
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.repos)
    pipe.hlen(keys.inflight)
    pipe.zcard(keys.batches)
    pipe.hlen(keys.processed_repos)
    pipe.hlen(keys.processed_files)
    pipe.zcard(keys.delayed)
    queued, inflight, batches, processed_repos, processed_files, delayed = pipe.execute()
    parked = dead_letters(client, keys)

    code = open_configured_index(CODE_SCHEMA)
    repos = open_configured_index(REPO_SCHEMA)
    # Creating an empty index with the right mappings is harmless and keeps a later writer from getting
    # dynamic mappings; it also makes a fresh DATA_DIR report zeros instead of errors.
    code.ensure()
    repos.ensure()
    return {
        "redis": {"url": mask_url(redis_url) if redis_url else "embedded", "prefix": keys.prefix},
        "queue": {
            keys.repos: queued,
            keys.inflight: inflight,
            keys.batches: batches,
            keys.delayed: delayed,
            keys.dead: len(parked),
        },
        # Parked after MAX_REPO_ATTEMPTS failures (or MAX_REPO_CRASHES dead runs); `codelupe retry` re-queues.
        "dead_letters": {
            repo: {
                "attempts": entry.get("attempts", 0),
                "crashes": entry.get("crashes", 0),
                "reason": entry.get("reason"),
            }
            for repo, entry in sorted(parked.items())
        },
        "processed": {
            keys.processed_repos: processed_repos,
            keys.processed_files: processed_files,
        },
        "index": {
            "backend": "elasticsearch" if es_url else "sqlite",
            code.name: code.count(),
            repos.name: repos.count(),
            "quality": code.quality_histogram(),
            "languages": code.terms("language", size=15),
        },
    }


def _render(status: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="CodeLupe status", show_header=True)
    table.add_column("what")
    table.add_column("key / bucket")
    table.add_column("count", justify="right")
    for section in ("queue", "processed"):
        for key, value in status[section].items():
            table.add_row(section, key, f"{value:,}")
    index = status["index"]
    for key, value in index.items():
        if isinstance(value, int):
            table.add_row(f"index ({index['backend']})", key, f"{value:,}")
    for repo, entry in status["dead_letters"].items():
        why = f"{entry['attempts']} failures, {entry['crashes']} crashes: {entry['reason']}"
        table.add_row("dead letter", f"{repo} — {why}", "parked")
    for bucket, value in index["quality"].items():
        table.add_row("quality", bucket, f"{value:,}")
    for language, value in index["languages"].items():
        table.add_row("language", language, f"{value:,}")
    console.print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--watch", type=float, default=None, metavar="SECONDS", help="Refresh every SECONDS.")
def status(as_json: bool, watch: float | None) -> None:
    """Queue lengths, processed counts, index counts and the quality distribution."""
    while True:
        try:
            current = collect_status()
        except (RedisUnavailable, BackendUnavailable) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        if as_json:
            click.echo(json.dumps(current, indent=None if watch else 2, sort_keys=False))
        else:
            if watch:
                click.clear()
            _render(current)
        if not watch:
            return
        time.sleep(watch)
