"""`codelupe export`: the code index as a dataset in the Hugging Face Hub layout, with its card and stats.

The work is `stages.dataset_export` (layout, policy, redaction, card, registry); this module reads the
settings, prints progress and the summary. An export leaves the pipeline, so every document is redacted
again on the way out (secrets, and the PII of PII_REDACT), and only what the export policy admits
(LICENSE_POLICY, default permissive; contaminated documents left out unless --include-contaminated) is
written; what was left out is printed per reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.corpus_stats import CorpusStats
from codelupe_dagster.backends.document_spool import SpoolManifest
from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.cli import stores
from codelupe_dagster.cli.errors import FAILED, CommandError, classify
from codelupe_dagster.cli.redaction_output import configured_pii_kinds, fail_on_setting, redaction_lines
from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.stages.dataset_export import (
    EXPORT_FIELDS,
    EXPORT_SCHEMA,
    STATS_FILE,
    ExportOptions,
    ExportTargetError,
    export_dataset,
)

__all__ = ["EXPORT_FIELDS", "EXPORT_SCHEMA", "export", "export_corpus"]

PROGRESS_EVERY = 10_000


def export_corpus(
    index: SearchIndex,
    out: str | Path,
    min_quality: float | None,
    language: str | None = None,
    rows_per_shard: int = 10_000,
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
    policy: ConsumerPolicy | None = None,
) -> SpoolManifest:
    """`export_dataset` with the export policy's defaults, summarised as a manifest: the shards (paths
    relative to `out`), the documents, and what was redacted again (`secrets_redacted`, `pii_redacted`
    per kind, `documents_redacted`)."""
    options = ExportOptions(
        min_quality=min_quality,
        language=language,
        rows_per_shard=rows_per_shard,
        pii_kinds=pii_kinds,
        policy=policy or ConsumerPolicy.default("export"),
    )
    result = export_dataset(index, out, options)
    return _manifest(result.path, result.stats)


def _manifest(out: Path, stats: dict[str, Any]) -> SpoolManifest:
    parts = tuple(str(p.relative_to(out)) for p in sorted(out.glob("data/*/*.parquet")))
    on_export = stats["redaction"]["on_export"]
    info = {
        "min_quality": stats["filters"]["min_quality"],
        "language": stats["filters"]["language"],
        "pii_kinds": stats["redaction"]["pii_kinds"],
        "secrets_redacted": on_export["secrets"],
        "pii_redacted": on_export["pii"],
        "documents_redacted": on_export["documents"],
    }
    return SpoolManifest(parts, int(stats["documents"]), info)


def corpus_totals() -> dict[str, Any] | None:
    """The scoring totals from Redis (REDIS_URL, else DATA_DIR's Valkey); None, with a warning, when
    Redis cannot be reached or no batch was recorded."""
    try:
        totals = CorpusStats(stores.read_redis(attempts=2), stores.redis_keys()).totals()
    except Exception as exc:
        if classify(exc)[0] == FAILED:
            raise  # a bug, not an unreachable, unconfigured or absent Redis
        click.echo(f"warning: corpus statistics unavailable ({exc}); the card omits them", err=True)
        return None
    return totals if totals["batches"] else None


def _policy(license_policy: str | None, include_contaminated: bool) -> ConsumerPolicy:
    try:
        return ConsumerPolicy.from_settings(
            "export",
            license_policy or settings.env_str("LICENSE_POLICY") or settings.DEFAULTS["LICENSE_POLICY"],
            include_contaminated or None,
        )
    except ValueError as exc:
        fail_on_setting(exc)


def _progress(written: int) -> None:
    if written % PROGRESS_EVERY == 0:
        click.echo(f"exported {written:,} documents ...", err=True)


@click.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Dataset directory.")
@click.option("--min-quality", type=float, default=None, help="Only files with quality_score >= Q.")
@click.option("--language", default=None, help="Only files of this language.")
@click.option("--rows-per-shard", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option(
    "--license-policy",
    default=None,
    help="permissive | any | list:<spdx>,... (default: LICENSE_POLICY, else permissive).",
)
@click.option(
    "--include-contaminated",
    is_flag=True,
    default=False,
    help="Keep documents that overlap an evaluation set (left out by default).",
)
@click.option(
    "--force",
    is_flag=True,
    default=False,
    help="Replace an earlier export in --out, whole (a folder that is not an export is never replaced).",
)
def export(
    out: str,
    min_quality: float | None,
    language: str | None,
    rows_per_shard: int,
    license_policy: str | None,
    include_contaminated: bool,
    force: bool,
) -> None:
    """Export the code index as a Hugging Face dataset: data/<language>/train-*.parquet, a README.md
    dataset card and stats.json, redacted again (secrets, and the personal data of PII_REDACT).

    --out must be a new or empty folder; with --force it may hold an earlier export, which is replaced
    once the new one is complete."""
    if not force:
        refuse_non_empty(Path(out))
    options = ExportOptions(
        min_quality=min_quality,
        language=language,
        rows_per_shard=rows_per_shard,
        pii_kinds=configured_pii_kinds(),
        policy=_policy(license_policy, include_contaminated),
    )
    try:
        result = export_dataset(
            stores.open_index(CODE_SCHEMA),
            out,
            options,
            corpus=corpus_totals(),
            data_dir=settings.data_dir(),
            on_written=_progress,
        )
    except ExportTargetError as exc:  # the target folder: a usage error
        raise CommandError(str(exc), 2) from exc
    stats = result.stats
    on_export = stats["redaction"]["on_export"]
    for line in redaction_lines(on_export["secrets"], on_export["pii"]):
        click.echo(line)
    for reason, n in stats["excluded"].items():
        click.echo(f"left out ({reason}): {n:,}")
    policy = stats["policy"]
    click.echo(
        f"policy: licences {policy['license_policy']}, "
        f"contaminated {'left out' if policy['exclude_contaminated'] else 'kept'}"
    )
    shards = sum(int(v["shards"]) for v in stats["languages"].values())
    click.echo(
        f"exported {counted(stats['documents'], 'document')} ({counted(stats['bytes'], 'byte')}) in "
        f"{counted(len(stats['languages']), 'language')}, {counted(shards, 'shard')}, to {result.path}"
    )


def counted(n: int, noun: str) -> str:
    """`1 shard`, `2 shards`, `1,024 documents`."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def refuse_non_empty(out: Path) -> None:
    """Nothing in a folder is overwritten by accident, an earlier export included (its card may have been
    edited, the folder may be a clone of the Hub repository): replacing one takes --force."""
    target = out.expanduser()
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return
    if not target.is_dir():
        raise CommandError(f"{out} is a file; choose a new or empty folder", 2)
    if (target / STATS_FILE).is_file():
        raise CommandError(f"{out} holds an earlier export; --force replaces it", 2)
    raise CommandError(f"{out} is not empty and not an export; choose a new or empty folder", 2)
