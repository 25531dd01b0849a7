"""`codelupe export`: the code index as Parquet shards that `datasets.load_dataset("parquet", ...)` reads.

An export leaves the pipeline, so every document is redacted again on the way out (secrets, and the PII
of PII_REDACT): documents indexed before a detector existed carry only the redaction of their day.
Redaction is idempotent, so the rest pass unchanged; what it replaced is recorded in the export's
marker and printed per kind.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from codelupe_dagster.backends.document_spool import SpoolManifest
from codelupe_dagster.backends.search import BackendUnavailable, Filters, SearchIndex
from codelupe_dagster.backends.spool import EXPORT_MARKER, ParquetSpool, arrow_schema
from codelupe_dagster.cli.redaction_output import configured_pii_kinds, redaction_lines
from codelupe_dagster.cli.search import open_code_index
from codelupe_dagster.core.documents import STORED_CODE_FIELDS
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import RedactionTally, redact_document

# The export's columns: the document id and every stored CodeDocument field, the spool's schema. Only
# these fields are read from the index, so index-only fields never reach a dataset.
EXPORT_SCHEMA = arrow_schema(STORED_CODE_FIELDS)
EXPORT_FIELDS: tuple[str, ...] = tuple(spec.name for spec in STORED_CODE_FIELDS)


def _redacted(
    docs: Iterable[dict[str, Any]], pii_kinds: frozenset[PiiKind], tally: RedactionTally
) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield redact_document(doc, pii_kinds, tally)


def export_corpus(
    index: SearchIndex,
    out: str | Path,
    min_quality: float | None,
    language: str | None = None,
    rows_per_shard: int = 10_000,
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
) -> SpoolManifest:
    """Write every matching document, oldest first, in the spool's schema, content, path and file name
    redacted again (see the module docstring); the marker's info holds `secrets_redacted`,
    `pii_redacted` (per kind) and `documents_redacted`.

    The completeness marker is hidden (`.SUCCESS`) because `load_dataset` parses every visible file in
    the directory; an interrupted export has no marker and its parts are removed.
    """
    filters = Filters(min_quality=min_quality, languages=(language,) if language else ())
    spool = ParquetSpool(rows_per_part=rows_per_shard, marker=EXPORT_MARKER, schema=EXPORT_SCHEMA)
    tally = RedactionTally()
    with spool.writer(out) as writer:
        writer.write_many(_redacted(index.iter_documents(filters, fields=EXPORT_FIELDS), pii_kinds, tally))
        return writer.commit(
            {
                "min_quality": min_quality,
                "language": language,
                "pii_kinds": sorted(kind.value for kind in pii_kinds),
                "secrets_redacted": dict(sorted(tally.secrets.items())),
                "pii_redacted": dict(sorted(tally.pii.items())),
                "documents_redacted": tally.documents,
            }
        )


@click.command()
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Directory for the shards."
)
@click.option("--min-quality", type=float, default=None, help="Only files with quality_score >= Q.")
@click.option("--language", default=None, help="Only files of this language.")
@click.option("--rows-per-shard", type=click.IntRange(min=1), default=10_000, show_default=True)
def export(out: str, min_quality: float | None, language: str | None, rows_per_shard: int) -> None:
    """Export the code index as Parquet (zstd) shards, the same schema as the spool, redacted again
    (secrets, and the personal data of PII_REDACT)."""
    pii_kinds = configured_pii_kinds()
    try:
        manifest = export_corpus(open_code_index(), out, min_quality, language, rows_per_shard, pii_kinds)
    except BackendUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    info = manifest.info
    for line in redaction_lines(info.get("secrets_redacted") or {}, info.get("pii_redacted") or {}):
        click.echo(line)
    click.echo(f"exported {manifest.rows} documents in {len(manifest.parts)} shards to {out}")
