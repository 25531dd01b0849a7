"""`codelupe status`: the old pipeline's monitoring commands (LLEN/SCARD on the queue keys, `_count` and the
quality-range aggregation on `codelupe-code`) gathered in one place."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.search import CODE_SCHEMA, REPO_SCHEMA
from codelupe_dagster.cli import stores
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.masking import mask_url

if TYPE_CHECKING:
    import redis

    from codelupe_dagster.backends.forget_registry import RedisForgetRegistry


def collect_status() -> dict[str, Any]:
    """Counts from Redis and both indexes, named as operators know them; the state directory first.

    Opened through `cli.stores` (no Dagster import): `codelupe status` answers in a fraction of a second.
    """
    located = settings.locate_state_dir()
    client = stores.read_redis(attempts=3)
    from codelupe_dagster.backends.forget_registry import RedisForgetRegistry

    keys = stores.redis_keys()
    redis_url = settings.env_str("REDIS_URL", "")

    queue = stores.repo_queue(client)
    state = queue.state()
    parked = queue.dead_letters()

    code = stores.open_index(CODE_SCHEMA)
    repos = stores.open_index(REPO_SCHEMA)
    # Creating an empty index with the right mappings is harmless and keeps a later writer from getting
    # dynamic mappings; it also makes a fresh DATA_DIR report zeros instead of errors.
    code.ensure()
    repos.ensure()
    registry = RedisForgetRegistry(client, keys)
    return {
        "state": {"data_dir": str(located.path), "origin": located.origin},
        "redis": {"url": mask_url(redis_url) if redis_url else "embedded", "prefix": keys.prefix},
        "queue": {
            keys.repos: state.queued,
            keys.inflight: state.in_flight,
            keys.delayed: state.delayed,
            keys.dead: len(parked),
        },
        # Batch records are kept for every batch ever started (a re-materialized partition reads its
        # record), so their count only grows: not work waiting, and outcomes would mean reading them all.
        "batches": {"in_progress": len(queue.batches_in_progress()), keys.batches: state.batches},
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
            keys.processed_repos: queue.processed_count(),
            keys.processed_files: exact_claims(client, keys),
        },
        "index": {
            "backend": "elasticsearch" if stores.elasticsearch_url() else "sqlite",
            code.name: code.count(),
            repos.name: repos.count(),
            "quality": code.quality_histogram(),
            "languages": code.terms("language", size=15),
        },
        "forgotten": {
            pattern: {"at": entry.get("at"), "state": entry.get("state"), "source": entry.get("source")}
            for pattern, entry in registry.entries().items()
        },
        "checkpoints_on_forgotten_data": checkpoints_on_forgotten_data(registry, settings.data_dir()),
    }


def exact_claims(client: redis.Redis, keys: RedisKeys) -> int:
    """The unique contents the exact dedup ledger holds, read without opening it.

    `backends.dedup_ledger` imports numpy and builds the content normaliser (~0.25 s at import) and
    would record a ledger layout on a fresh server; a reader needs one counter. A ledger still in an
    older layout (layout 1's HASH, the v2 pipeline's SET) has no counter, so its size is read instead.
    """
    pipe = client.pipeline(transaction=False)
    pipe.get(f"{keys.exact_shard_base}count")
    pipe.type(keys.processed_files)
    counter, kind = pipe.execute()
    if counter is not None:
        return int(counter)
    if kind == b"hash":
        return client.hlen(keys.processed_files)
    if kind == b"set":
        return client.scard(keys.processed_files)
    return 0


def checkpoints_on_forgotten_data(registry: RedisForgetRegistry, data_dir: Path) -> dict[str, dict[str, Any]]:
    """Checkpoints whose manifest names a repository or content id forgotten since: version -> what."""
    entries = registry.entries()
    if not entries:
        return {}
    # Here: checkpoints brings the model and dataset cards, a tenth of what `status` costs otherwise.
    from codelupe_dagster.training.checkpoints import list_checkpoints, trained_content_ids, trained_repos

    rules = registry.rules()
    forgotten_ids = registry.forgotten_ids()
    found: dict[str, dict[str, Any]] = {}
    for checkpoint in list_checkpoints(data_dir):
        repos = [repo for repo in trained_repos(checkpoint) if rules.repo_forgotten(repo)]
        ids = trained_content_ids(checkpoint) & forgotten_ids.keys() if forgotten_ids else set()
        if repos or ids:
            found[checkpoint.version] = {
                "repos": repos,
                "content_ids": len(ids),
                "patterns": sorted({forgotten_ids[i] for i in ids}),
            }
    return found


def _render(status: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="CodeLupe status", show_header=True)
    table.add_column("what")
    table.add_column("key / bucket")
    table.add_column("count", justify="right")
    table.add_row("state", status["state"]["data_dir"], "")
    for key, value in status["queue"].items():
        table.add_row("queue", key, f"{value:,}")
    batches = dict(status["batches"])
    table.add_row("batches", "in progress (holding leased repos)", f"{batches.pop('in_progress'):,}")
    for key, value in batches.items():
        table.add_row("batches", f"{key} (records of every batch started)", f"{value:,}")
    for key, value in status["processed"].items():
        table.add_row("processed", key, f"{value:,}")
    index = status["index"]
    for key, value in index.items():
        if isinstance(value, int):
            table.add_row(f"index ({index['backend']})", key, f"{value:,}")
    for repo, entry in status["dead_letters"].items():
        why = f"{entry['attempts']} failures, {entry['crashes']} crashes: {entry['reason']}"
        table.add_row("dead letter", f"{repo} — {why}", "parked")
    for pattern, entry in status["forgotten"].items():
        table.add_row("forgotten", f"{pattern} ({entry['source']}, {entry['state']})", "")
    for version, what in status["checkpoints_on_forgotten_data"].items():
        names = ", ".join(what["repos"][:5]) or ", ".join(what["patterns"][:5])
        table.add_row("checkpoint on forgotten data", f"{version}: {names}", f"{what['content_ids']:,} ids")
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
        current = collect_status()  # an error is one line and an exit code (`cli.errors`)
        if as_json:
            click.echo(json.dumps(current, indent=None if watch else 2, sort_keys=False))
        else:
            if watch:
                click.clear()
            _render(current)
        if not watch:
            return
        time.sleep(watch)
