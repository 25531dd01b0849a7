"""`codelupe forget PATTERN...`: remove repositories, owners or files everywhere, for good (docs/forget.md).

A pattern is `owner/name`, `owner` (or `owner/*`), or a glob over `owner/name/path`. Each is recorded in
the forget registry first, so the crawl, the queue and the scorer refuse it from then on; then its data
leaves the queue, both indexes, the spools, batch handoffs, clones, exports and the dedup ledger, and the
repositories that carried copies of the removed files are queued for a full re-read so their copies take
the removed ones' place. Running it again is safe and finishes a forget a crash interrupted.
"""

from __future__ import annotations

import json

import click

from codelupe_dagster import settings
from codelupe_dagster.assets.queue import forget_stores
from codelupe_dagster.backends.forget_registry import parse_pattern
from codelupe_dagster.resources import default_resources
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.stages.forget import ForgetReport, ForgetStores
from codelupe_dagster.stages.forget import forget as forget_patterns


def _stores() -> ForgetStores:
    resources = default_resources(redis_connect_attempts=3)
    redis: RedisResource = resources["redis"].process_config_and_initialize()
    search: SearchIndexResource = resources["search"].process_config_and_initialize()
    return forget_stores(redis, search, settings.data_dir(), progress=lambda line: click.echo(line, err=True))


def _print(report: ForgetReport) -> None:
    verb = "would forget" if report.dry_run else "forgot"
    what = f"{len(report.repos)} repositories" if report.kind == "prefix" else f"files in {len(report.repos)}"
    click.echo(f"{verb} {report.pattern} ({report.kind}): {what}, {report.files} indexed documents")
    for repo in report.repos[:20]:
        click.echo(f"  {repo}")
    if len(report.repos) > 20:
        click.echo(f"  ... and {len(report.repos) - 20} more")
    removed = {store: count for store, count in sorted(report.removed.items()) if count}
    if removed:  # stores with nothing to remove are left out; --json lists every store
        click.echo("  removed: " + ", ".join(f"{store} {count:,}" for store, count in removed.items()))
    else:
        click.echo("  nothing left to remove")
    if report.requeued:
        click.echo(f"  carriers re-queued for a full re-read: {', '.join(report.requeued)}")
    for note in report.notes:
        click.echo(f"  note: {note}")


@click.command()
@click.argument("patterns", nargs=-1, required=True)
@click.option("--reason", default="", help="Why (kept in the forget registry).")
@click.option("--dry-run", is_flag=True, help="Show what matches; change nothing.")
@click.option("--undo", is_flag=True, help="Drop the registry entries: the names may be crawled again.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def forget(patterns: tuple[str, ...], reason: str, dry_run: bool, undo: bool, as_json: bool) -> None:
    """Forget repositories (owner/name), owners (owner, owner/*) or files (a glob over owner/name/path)."""
    try:
        parsed = [parse_pattern(text) for text in patterns]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    stores = _stores()  # an unreachable store is one line and exit 69 (`cli.errors`)
    if undo:
        for pattern in parsed:
            done = stores.registry.undo(pattern)
            click.echo(f"{'dropped' if done else 'not in the registry:'} {pattern.text}")
        return
    reports = forget_patterns(patterns, stores, reason=reason, source="cli", dry_run=dry_run)
    if as_json:
        click.echo(json.dumps([report.to_dict() for report in reports], indent=2))
        return
    for report in reports:
        _print(report)
