"""One state directory, found the same way by every command, announced on stderr; commands that only
read never create one or start a first Valkey; `services status|stop` manage this directory's server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
from codelupe_dagster.cli.errors import USAGE
from tests.cli.cli_process import codelupe, error_line


@pytest.mark.parametrize("command", [("status",), ("search", "parse json"), ("export", "OUT")])
def test_reading_commands_refuse_a_missing_state_directory(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "nothing-here"
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    result = codelupe(*args, DATA_DIR=str(missing))
    assert result.returncode == USAGE, result.stderr
    assert error_line(result) == (
        f"error: no CodeLupe data at {missing}; run `codelupe run` first (or set DATA_DIR)"
    )
    assert result.stderr.startswith(f"state: {missing} (DATA_DIR)\n")
    assert not missing.exists()


def test_status_never_starts_a_first_valkey(tmp_path: Path) -> None:
    """A state directory without a queue (never run): status says so, and starts no server there."""
    result = codelupe("status", DATA_DIR=str(tmp_path))
    assert result.returncode == USAGE
    assert f"no CodeLupe data at {tmp_path / 'valkey'}" in error_line(result)
    assert not (tmp_path / "valkey").exists()


def test_the_nearest_dot_codelupe_up_from_the_working_directory(tmp_path: Path, valkey_url: str) -> None:
    project = tmp_path / "project"
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    (project / ".codelupe").mkdir()
    result = codelupe("status", "--json", cwd=deep, REDIS_URL=valkey_url, HOME=str(tmp_path / "home"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == f"state: {project / '.codelupe'} (nearest .codelupe/)"
    assert json.loads(result.stdout)["state"] == {"data_dir": str(project / ".codelupe"), "origin": "found"}


def test_the_per_user_default_follows_xdg(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    result = codelupe("status", cwd=tmp_path, XDG_DATA_HOME=str(xdg))
    assert result.stderr.splitlines()[0] == f"state: {xdg / 'codelupe'} (per-user default)"
    assert result.returncode == USAGE and not (xdg / "codelupe").exists()


def test_status_shows_the_state_directory_first(tmp_path: Path, valkey_url: str) -> None:
    result = codelupe("status", DATA_DIR=str(tmp_path), REDIS_URL=valkey_url, COLUMNS="200")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    assert "state" in rows[0] and str(tmp_path) in rows[0]


def test_services_status_and_stop_touch_only_this_directory(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    try:
        assert "no embedded servers recorded" in codelupe("services", "status", DATA_DIR=str(mine)).stdout
        ensure_embedded_valkey(mine)
        ensure_embedded_valkey(other)
        report = json.loads(codelupe("services", "status", "--json", DATA_DIR=str(mine)).stdout)
        assert [(e["server"], e["running"]) for e in report] == [("valkey", True)]
        pid = report[0]["pid"]
        assert "password" not in json.dumps(report) and ":@" not in report[0]["url"]

        stopped = codelupe("services", "stop", DATA_DIR=str(mine))
        assert stopped.returncode == 0 and stopped.stdout.strip() == "valkey: stopped"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        after = json.loads(codelupe("services", "status", "--json", DATA_DIR=str(mine)).stdout)
        assert after[0]["running"] is False
        assert codelupe("services", "stop", DATA_DIR=str(mine)).stdout.strip() == "valkey: not running"
        # The other directory's server was not touched.
        other_report = json.loads(codelupe("services", "status", "--json", DATA_DIR=str(other)).stdout)
        assert other_report[0]["running"] is True
    finally:
        stop_embedded_valkey(mine)
        stop_embedded_valkey(other)
