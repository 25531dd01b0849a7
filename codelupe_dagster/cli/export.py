"""`codelupe export`: the code index as Parquet shards that `datasets.load_dataset("parquet", ...)` reads."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codelupe_dagster.backends.document_spool import SpoolManifest
from codelupe_dagster.backends.search import BackendUnavailable, Filters, SearchIndex
from codelupe_dagster.backends.spool import EXPORT_MARKER, ParquetSpool, arrow_schema
from codelupe_dagster.cli.search import open_code_index
from codelupe_dagster.core.documents import STORED_CODE_FIELDS

# The export's columns: the document id and every stored CodeDocument field, the spool's schema. Only
# these fields are read from the index, so index-only fields never reach a dataset.
EXPORT_SCHEMA = arrow_schema(STORED_CODE_FIELDS)
EXPORT_FIELDS: tuple[str, ...] = tuple(spec.name for spec in STORED_CODE_FIELDS)


def export_corpus(
    index: SearchIndex,
    out: str | Path,
    min_quality: float | None,
    language: str | None = None,
    rows_per_shard: int = 10_000,
) -> SpoolManifest:
    """Write every matching document, oldest first, in the spool's schema.

    The completeness marker is hidden (`.SUCCESS`) because `load_dataset` parses every visible file in
    the directory; an interrupted export has no marker and its parts are removed.
    """
    filters = Filters(min_quality=min_quality, languages=(language,) if language else ())
    spool = ParquetSpool(rows_per_part=rows_per_shard, marker=EXPORT_MARKER, schema=EXPORT_SCHEMA)
    with spool.writer(out) as writer:
        writer.write_many(index.iter_documents(filters, fields=EXPORT_FIELDS))
        return writer.commit({"min_quality": min_quality, "language": language})


@click.command()
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Directory for the shards."
)
@click.option("--min-quality", type=float, default=None, help="Only files with quality_score >= Q.")
@click.option("--language", default=None, help="Only files of this language.")
@click.option("--rows-per-shard", type=click.IntRange(min=1), default=10_000, show_default=True)
def export(out: str, min_quality: float | None, language: str | None, rows_per_shard: int) -> None:
    """Export the code index as Parquet (zstd) shards, the same schema as the spool."""
    try:
        manifest = export_corpus(open_code_index(), out, min_quality, language, rows_per_shard)
    except BackendUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"exported {manifest.rows} documents in {len(manifest.parts)} shards to {out}")
