"""`codelupe`: the operator's command line (status, run, search, export, ...).

Each subcommand lives in its own module, named in `COMMANDS` and imported only when it runs, so
`codelupe --help`, `status` and `search` never pay for importing Dagster (seconds) — only the commands
that run the graph do. Every command says which state directory it uses (one line on stderr), and every
error ends as one line and an exit code (`cli.errors`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.cli import errors, quiet

# name -> ("module:attribute", the one-line help `codelupe --help` shows without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("codelupe_dagster.cli.status:status", "Queue, processed, index and checkpoint counts."),
    "run": ("codelupe_dagster.cli.run:run", "Crawl a source and run every batch (and training), headless."),
    "search": ("codelupe_dagster.cli.search:search", "Search the code index."),
    "export": ("codelupe_dagster.cli.export:export", "Export the code index as a Hugging Face dataset."),
    "services": ("codelupe_dagster.cli.services:services", "Show or stop this state directory's servers."),
    "ui": ("codelupe_dagster.cli.services:ui", "Open the Dagster UI on this state directory's instance."),
    "retry": ("codelupe_dagster.cli.retry:retry", "Re-queue parked (dead-letter) repositories."),
    "dropped": ("codelupe_dagster.cli.dropped:dropped", "Files dropped per reason, and a sample of each."),
    "forget": ("codelupe_dagster.cli.forget:forget", "Forget repositories, owners or files everywhere."),
    "decontaminate": (
        "codelupe_dagster.cli.decontaminate:decontaminate",
        "Re-mark indexed documents against the evaluation sets.",
    ),
    "migrate": (
        "codelupe_dagster.cli.migrate:migrate",
        "Take over the old pipeline's Redis state.",
    ),
    "migrate-ledger": (
        "codelupe_dagster.cli.migrate_ledger:migrate_ledger",
        "Migrate the dedup ledger to the current layout.",
    ),
    "model": ("codelupe_dagster.cli.model:model", "List checkpoints; merge one into its base model."),
}
# Commands that only read: they never create a state directory or start a server where there is none.
READ_ONLY = frozenset({"status", "search", "export", "dropped"})
HELP_ONLY = "codelupe.help_only"


class LazyGroup(click.Group):
    """A group whose subcommands are imported when invoked, listed from `COMMANDS` without importing."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command), f"{module_name}.{attribute} is not a click command"
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        # click empties ctx.args before the group's callback runs; it needs to know about `CMD --help`.
        ctx.meta[HELP_ONLY] = "--help" in ctx.args
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            # Here rather than in `main()`, so in-process callers (click's CliRunner) get the same line and
            # code. A KeyboardInterrupt too: click would turn it into Abort after printing a blank line.
            ctx.exit(errors.report(exc, _verbose))


_verbose = False


@click.group(cls=LazyGroup)
@click.version_option(package_name="codelupe-dagster")
@click.option("--verbose", "-v", is_flag=True, help="Tracebacks, library warnings and progress bars.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """CodeLupe: public code into a searchable, training-ready corpus and a tuned code model.

    State lives in DATA_DIR, else the nearest .codelupe/ directory up from here, else
    ~/.local/share/codelupe; the Dagster instance in DATA_DIR/dagster unless DAGSTER_HOME is set.
    Exit codes: 0 done, 1 the work failed, 2 usage or configuration error, 69 a service is unavailable.
    """
    global _verbose
    _verbose = verbose
    if ctx.meta.get(HELP_ONLY):  # `codelupe status --help`: help needs no state, nor a check of it
        return
    # Before any subcommand writes: DATA_DIR holds code, clones and the Valkey password (DESIGN §9).
    settings.make_process_private()
    state = settings.locate_state_dir()
    click.echo(state.describe(), err=True)
    if ctx.invoked_subcommand in READ_ONLY and needs_local_state() and not state.path.is_dir():
        raise errors.NoState(str(state.path))
    quiet.configure(verbose, state.path)


def is_verbose() -> bool:
    """Whether `--verbose` was given (commands that run the graph show Dagster's console log then)."""
    return _verbose


def needs_local_state() -> bool:
    """Whether reading needs DATA_DIR: unless REDIS_URL and ELASTICSEARCH_URL both point elsewhere."""
    return not (settings.env_str("REDIS_URL", "") and settings.env_str("ELASTICSEARCH_URL", ""))


def _register() -> None:
    """Nothing left to do: `LazyGroup` finds every command in `COMMANDS` (kept for in-process callers)."""


def main(argv: list[str] | None = None) -> None:
    """The `codelupe` entry point: click without its own error printing, so every error is one line."""
    try:
        code = cli.main(args=argv, prog_name="codelupe", standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as exc:  # a usage error before any subcommand (an unknown global option)
        code = errors.report(exc, _verbose)
    except click.Abort:
        code = errors.report(errors.CommandError("interrupted", errors.FAILED), _verbose)
    sys.stdout.flush()
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["COMMANDS", "READ_ONLY", "cli", "is_verbose", "main"]
