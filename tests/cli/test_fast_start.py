"""`codelupe --help`, `status` and `search` do not import Dagster (seconds of start-up): only the
commands that run the graph do. Checked in a fresh interpreter, through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from codelupe_dagster.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from codelupe_dagster.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print("DAGSTER_IMPORTED" if "dagster" in sys.modules else "NO_DAGSTER", code, file=sys.stderr)
"""


def _probe(*args: str, **env: str) -> tuple[str, str]:
    environ = {
        k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL", "DAGSTER_HOME"}
    }
    environ.update(env, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=environ, timeout=120
    )
    return result.stderr.strip().splitlines()[-1], result.stdout


@pytest.mark.parametrize(
    "args", [("--help",), ("status", "--help"), ("services", "--help"), ("search", "--help")]
)
def test_help_does_not_import_dagster(args: tuple[str, ...]) -> None:
    verdict, stdout = _probe(*args)
    assert verdict == "NO_DAGSTER 0", verdict
    assert "Usage: codelupe" in stdout


def test_status_does_not_import_dagster(tmp_path: Path, valkey_url: str) -> None:
    verdict, stdout = _probe("status", "--json", DATA_DIR=str(tmp_path), REDIS_URL=valkey_url)
    assert verdict == "NO_DAGSTER 0", verdict
    assert '"queue"' in stdout


def test_search_does_not_import_dagster(tmp_path: Path, valkey_url: str) -> None:
    verdict, _ = _probe("search", "parse csv", DATA_DIR=str(tmp_path), REDIS_URL=valkey_url)
    assert verdict.startswith("NO_DAGSTER "), verdict


def test_run_still_imports_dagster(tmp_path: Path) -> None:
    """The probe can tell: a command that runs the graph does import it (here, up to a bad setting)."""
    verdict, _ = _probe("run", "--no-train", DATA_DIR=str(tmp_path), FILE_WORKERS="0")
    assert verdict == "DAGSTER_IMPORTED 2"


def test_every_listed_command_is_the_command_its_module_defines() -> None:
    """`COMMANDS` lists names and help without importing; each entry must still resolve to that command."""
    from codelupe_dagster.cli import cli

    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command)
        assert command.name == name
