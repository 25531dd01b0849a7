"""`codelupe`: the operator's command line (status, run, search, export).

Each subcommand lives in its own module and is attached in `_register()`.
"""

from __future__ import annotations

import click

from codelupe_dagster import settings


@click.group()
@click.version_option(package_name="codelupe-dagster")
def cli() -> None:
    """CodeLupe: public code into a searchable, training-ready corpus and a tuned code model."""
    # Before any subcommand writes: DATA_DIR holds code, clones and the Valkey password (DESIGN §9).
    settings.make_process_private()


def _register() -> None:
    from codelupe_dagster.cli.status import status

    cli.add_command(status)
    from codelupe_dagster.cli.export import export
    from codelupe_dagster.cli.search import search

    cli.add_command(search)
    cli.add_command(export)
    from codelupe_dagster.cli.run import run

    cli.add_command(run)
    from codelupe_dagster.cli.migrate import migrate

    cli.add_command(migrate)
    from codelupe_dagster.cli.retry import retry

    cli.add_command(retry)
    from codelupe_dagster.cli.forget import forget

    cli.add_command(forget)
    from codelupe_dagster.cli.decontaminate import decontaminate

    cli.add_command(decontaminate)
    from codelupe_dagster.cli.migrate_ledger import migrate_ledger

    cli.add_command(migrate_ledger)
    # one `cli.add_command(...)` per subcommand module, imported here


def main() -> None:
    _register()
    cli()
