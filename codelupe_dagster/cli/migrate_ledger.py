"""`codelupe migrate-ledger`: move a dedup ledger written before layout 2 (issue 12) into layout 2.

A ledger in the old layout is refused by every writer with a one-line error naming this command, so an
upgrade never treats old claims as absent (which would index duplicates) or silently keeps paying the old
layout's memory. Stop the pipeline's runs first; the migration is resumable and safe to run again.
"""

from __future__ import annotations

import os

import click

from codelupe_dagster.backends.dedup_ledger import migrate_layout, open_shape
from codelupe_dagster.resources import default_resources


@click.command("migrate-ledger")
@click.option(
    "--expected-files",
    type=click.IntRange(min=1),
    default=None,
    help="Corpus size to shard the ledger for (default: DEDUP_EXPECTED_FILES when set, else the larger "
    "of 10M and twice the old ledger's size).",
)
def migrate_ledger(expected_files: int | None) -> None:
    """Migrate the dedup ledger (REDIS_URL, else the embedded Valkey) to the compact layout 2."""
    if expected_files is None and os.environ.get("DEDUP_EXPECTED_FILES", "").strip():
        expected_files = int(os.environ["DEDUP_EXPECTED_FILES"])
    resource = default_resources(redis_connect_attempts=3)["redis"].process_config_and_initialize()
    client = resource.get_client()  # unreachable or misconfigured: one line, exit 69 or 2 (`cli.errors`)
    keys = resource.redis_keys
    report = migrate_layout(client, keys, expected_files, progress=click.echo)
    click.echo(f"done: {report}; shape {open_shape(client, keys)}")
