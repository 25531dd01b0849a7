"""`codelupe services status|stop` and `codelupe ui`: the servers a state directory starts, and its UI.

The embedded Valkey outlives the command that started it (every process of a session shares it); these
commands find it only through what this DATA_DIR recorded (`valkey/server.json`, its run id and pid), so
they never touch a server some other directory or user started. `ui` runs `dagster dev` on this state
directory's instance (DAGSTER_HOME), so the UI shows the runs `codelupe run` made.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click

from codelupe_dagster import settings
from codelupe_dagster.backends.embedded_valkey import embedded_valkey_state, stop_embedded_valkey
from codelupe_dagster.cli.errors import USAGE, CommandError


def server_report(data_dir: Path) -> list[dict[str, Any]]:
    """One entry per embedded server this state directory records: what, where, pid, running."""
    state = embedded_valkey_state(data_dir)
    if not state:
        return []
    started = state.get("started")
    return [
        {
            "server": "valkey",
            "url": state.get("url"),  # recorded without its password
            "pid": state.get("pid"),
            "running": bool(state.get("running")),
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else None,
            "files": str(data_dir / "valkey"),
        }
    ]


@click.group()
def services() -> None:
    """Show or stop the embedded servers this state directory started (the embedded Valkey)."""


@services.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def services_status(as_json: bool) -> None:
    """Which embedded servers this state directory started, and whether they still run."""
    report = server_report(settings.data_dir())
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not report:
        click.echo("no embedded servers recorded for this state directory")
    for entry in report:
        what = "running" if entry["running"] else "stopped"
        click.echo(
            f"{entry['server']}: {what}, {entry['url']}, pid {entry['pid']}, started {entry['started']}"
        )
    if settings.env_str("REDIS_URL", ""):
        click.echo("note: REDIS_URL is set, so commands use that server, not the embedded one")


@services.command("stop")
def services_stop() -> None:
    """Stop this state directory's embedded Valkey (its data is saved; the next command restarts it)."""
    if stop_embedded_valkey(settings.data_dir()):
        click.echo("valkey: stopped")
    else:
        click.echo("valkey: not running")


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def ui(dagster_args: tuple[str, ...]) -> None:
    """Run `dagster dev` on this state directory's instance; extra arguments go to `dagster dev`.

    DATA_DIR and DAGSTER_HOME are exported to it, so the UI shows the runs `codelupe run` made and its
    sensors continue from the same queue.
    """
    data_dir = settings.data_dir()
    home = settings.prepare_dagster_home()  # after DATA_DIR is known: DATA_DIR/dagster unless set
    os.environ["DATA_DIR"] = str(data_dir)
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    if dagster is None:
        raise CommandError("the `dagster` command is not installed next to this Python", USAGE)
    workspace = Path("workspace.yaml")
    # Without workspace.yaml the location is still named `codelupe`, so the runs `codelupe run` records for
    # that location (cli/launch.py) are listed under their jobs.
    target = (
        ["-w", str(workspace)]
        if workspace.is_file()
        else ["-m", "codelupe_dagster.definitions", "--location-name", "codelupe"]
    )
    click.echo(f"dagster dev on DAGSTER_HOME={home}", err=True)
    os.execv(dagster, [dagster, "dev", *target, *dagster_args])
