"""`codelupe migrate`: take over a deployment of the old pipeline (data_pipeline_v2.py) and its work.

The logic lives in `stages/migrate_v2/`; this module connects to the configured Redis and search backend,
draws the progress bar and prints what changed (or, with --dry-run, what would). What the migration
carries over (repo jobs' descriptions and topics, the old index's files) is redacted on the way in with
the configured PII_REDACT kinds, and what was replaced is printed per kind.
"""

from __future__ import annotations

import json
from typing import Any

import click
from elasticsearch import ApiError, TransportError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codelupe_dagster.backends.search import BackendUnavailable
from codelupe_dagster.cli.errors import UNAVAILABLE, CommandError, WorkFailed
from codelupe_dagster.cli.redaction_output import fail_on_setting, redaction_lines
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.resources import default_resources
from codelupe_dagster.resources.redis import RedisUnavailable
from codelupe_dagster.stages.file_processing import ProcessingConfig
from codelupe_dagster.stages.migrate_v2 import (
    IndexMigrationReport,
    OldPipelineStillRunning,
    RedisMigrationReport,
    migrate_index,
    migrate_redis,
)

WHY_REPROCESSED = """\
Re-processed once by the new pipeline, on purpose:
  - {repos:,} repos the old pipeline processed: its ledger holds names only, no HEAD sha, so the new
    pipeline cannot tell an unchanged repo and processes each once more when it is crawled again;
  - {files:,} old file hashes: MD5 of raw file content, where the new ledger keys xxh3-128 of
    normalized, redacted content; one cannot be computed from the other, so the old entries stay in
    the backup and the new ledger fills as files are read (with --from-index, right away)."""


def _role_items(report: RedisMigrationReport, role: str) -> int:
    """Elements of one old key's backups, or of the key itself in a dry run (nothing renamed yet)."""
    pending = sum(k.items for k in report.keys if k.role == role and k.action == "would_back_up")
    return pending + sum(report.backups.get(role, {}).values())


def _redis_lines(report: RedisMigrationReport) -> list[str]:
    verb = "would be" if report.dry_run else "were"
    lines = ["Redis:"]
    for key in report.keys:
        if key.action in ("backed_up", "would_back_up"):
            done = "would be renamed" if key.action == "would_back_up" else "renamed"
            lines.append(
                f"  {key.key} ({key.found_type}, {key.items:,} items, {key.role}) {done} to {key.backup}"
            )
        elif key.action == "new_format":
            lines.append(f"  {key.key} is already the new {key.found_type} ({key.items:,}): left alone")
        elif key.action == "unexpected_type":
            lines.append(f"  {key.key} is a {key.found_type}, not an old-pipeline key: left alone")
        else:
            lines.append(f"  {key.key} absent")
    lines.append(
        f"  repo jobs read: {report.repo_jobs_read:,}; {verb} enqueued on the queue: {report.enqueued:,}"
    )
    for reason, count in sorted(report.skipped.items()):
        lines.append(f"    not enqueued ({reason}): {count:,}")
    for sample in report.unparseable_samples:
        lines.append(f"    unparseable job: {sample}")
    if report.records_redacted:
        lines.append(f"  repo jobs with a description or topic redacted: {report.records_redacted:,}")
    lines += redaction_lines(report.secrets_redacted, report.pii_redacted, indent="  ")
    for role, backups in report.backups.items():
        for name, size in backups.items():
            lines.append(f"  backup {name} ({role}): {size:,} items")
    files = _role_items(report, "file_jobs")
    if files:
        lines.append(f"  {files:,} old file jobs are obsolete (files are read from git per batch); backed up")
    if not report.changed and not report.dry_run:
        lines.append("  nothing to migrate: Redis is already in the new format")
    return lines


def _index_lines(report: IndexMigrationReport) -> list[str]:
    would = "would be " if report.dry_run else ""
    lines = [
        f"Index {report.source} -> {report.target}:",
        f"  read: {report.read:,} (of {report.total:,})",
        f"  {would}kept: {report.kept:,}",
    ]
    for reason, count in sorted(report.dropped.items()):
        lines.append(f"  dropped ({reason}): {count:,}")
    lines.append(f"  exact duplicates: {report.exact_duplicates:,}")
    if report.dry_run:
        lines.append("  near duplicates: not evaluated in a dry run (buckets are claimed, not read)")
    else:
        lines.append(f"  near duplicates: {report.near_duplicates:,}")
        lines.append(f"  indexed: {report.indexed:,}")
    lines += redaction_lines(report.secrets_redacted, report.pii_redacted, indent="  ")
    for error in report.errors[:10]:
        lines.append(f"  error {error.id}: {error.reason}")
    if len(report.errors) > 10:
        lines.append(f"  … and {len(report.errors) - 10:,} more errors")
    return lines


def _run_index(
    from_index: str,
    keys: RedisKeys,
    client: Any,
    dry_run: bool,
    min_quality: float,
    batch_size: int,
    elasticsearch_configured: bool,
    pii_kinds: frozenset[PiiKind],
) -> IndexMigrationReport:
    from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex
    from codelupe_dagster.cli.search import open_code_index

    if not elasticsearch_configured:
        raise click.UsageError("--from-index reads the old index from Elasticsearch: set ELASTICSEARCH_URL")
    target = open_code_index()
    assert isinstance(target, ElasticSearchIndex)  # ELASTICSEARCH_URL is set
    if target.name == from_index:
        raise click.UsageError(
            f"--from-index {from_index} is also the new code index (ES_CODE_INDEX): the new mappings cannot "
            "share an index with the old documents. Set ES_CODE_INDEX to a new name (e.g. codelupe-code-v3), "
            "or clone the old index to another name first (see docs/migrating-from-v2.md)."
        )
    target.ping()
    es = target.client
    if not es.indices.exists(index=from_index):
        raise click.UsageError(f"index {from_index!r} does not exist on {target.display_url}")
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    total = int(es.count(index=from_index)["count"])
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"{from_index} -> {target.name}", total=total)
        return migrate_index(
            es,
            from_index,
            target,
            client,
            keys,
            config=ProcessingConfig(min_quality=min_quality, pii_kinds=pii_kinds),
            dry_run=dry_run,
            batch_size=batch_size,
            on_progress=lambda n: progress.advance(task, n),
        )


@click.command("migrate")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option(
    "--from-index",
    default=None,
    metavar="NAME",
    help="An old code index on ELASTICSEARCH_URL to re-process into the new code index (ES_CODE_INDEX).",
)
@click.option(
    "--backup-prefix",
    default=None,
    help="Where old-format keys are renamed to. Default: REDIS_KEY_PREFIX + 'v2:' (pipeline:v2:).",
)
@click.option(
    "--min-quality",
    type=float,
    default=None,
    help="Index threshold for migrated documents (default MIN_QUALITY_THRESHOLD, 0.3).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def migrate(
    dry_run: bool,
    from_index: str | None,
    backup_prefix: str | None,
    min_quality: float | None,
    batch_size: int,
    as_json: bool,
) -> None:
    """Take over the old pipeline's Redis state (and, with --from-index, its code index).

    Stop data_pipeline_v2.py and crawler_to_redis.py first. Old-format keys are renamed to backups, never
    deleted; running it again changes nothing.
    """
    try:
        resources = default_resources(redis_connect_attempts=3)
        pii_kinds = resources["pipeline"].pii_kinds()
    except ValueError as exc:
        fail_on_setting(exc)
    redis = resources["redis"].process_config_and_initialize()
    keys = redis.redis_keys
    prefix = backup_prefix or f"{keys.prefix}v2:"
    threshold = min_quality if min_quality is not None else resources["pipeline"].min_quality
    output: dict[str, Any] = {}
    failed = False
    try:
        client = redis.get_client()  # the migration rewrites the stores' own keys: it needs the client
        redis_report = migrate_redis(client, keys, prefix, dry_run=dry_run, pii_kinds=pii_kinds)
        output["redis"] = redis_report.to_dict()
        if not as_json:
            click.echo("\n".join(_redis_lines(redis_report)))
        if from_index:
            es_configured = resources["search"].elasticsearch_url is not None
            index_report = _run_index(
                from_index, keys, client, dry_run, threshold, batch_size, es_configured, pii_kinds
            )
            output["index"] = index_report.to_dict()
            failed = bool(index_report.errors)
            if not as_json:
                click.echo("\n".join(_index_lines(index_report)))
    except (RedisUnavailable, BackendUnavailable, ApiError, TransportError) as exc:
        raise CommandError(str(exc), UNAVAILABLE) from exc
    except (OldPipelineStillRunning, ValueError) as exc:
        raise WorkFailed(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(output, indent=2))
    else:
        counts = {role: _role_items(redis_report, role) for role in ("processed_repos", "processed_files")}
        click.echo(WHY_REPROCESSED.format(repos=counts["processed_repos"], files=counts["processed_files"]))
        if dry_run:
            click.echo("Dry run: nothing was changed.")
    if failed:
        raise WorkFailed("some documents failed to index; run `codelupe migrate` again to retry")
