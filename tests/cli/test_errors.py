"""Every error is one `error:` line with a distinct exit code: 2 usage/configuration, 69 a service
unavailable, 1 failed work; `--verbose` adds the traceback. The real CLI, in a subprocess, per case."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey
from codelupe_dagster.cli.errors import FAILED, UNAVAILABLE, USAGE, WorkFailed, classify
from tests.cli.cli_process import codelupe, error_line


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("status",), {"REDIS_URL": "notaurl"}, "REDIS_URL: Redis URL must specify"),
        (("run", "--no-train"), {"BATCH_SIZE": "0"}, "BATCH_SIZE must be at least 1, got 0"),
        (
            ("migrate", "--dry-run"),
            {"MIN_QUALITY_THRESHOLD": "abc"},
            "MIN_QUALITY_THRESHOLD must be a number",
        ),
        (("run", "--no-train"), {"DAGSTER_HOME": "/nonexistent/dagster-home"}, "DAGSTER_HOME=/nonexistent"),
        (("status", "--watch", "soon"), {}, "'soon' is not a valid float"),
        (("nosuchcommand",), {}, "No such command 'nosuchcommand'"),
    ],
)
def test_configuration_errors_exit_2(tmp_path: Path, args, env, expected) -> None:
    data = tmp_path / "data"
    data.mkdir()
    result = codelupe(*args, DATA_DIR=str(data), **env)
    assert result.returncode == USAGE, result.stderr
    assert expected in error_line(result)
    assert "Traceback" not in result.stderr
    # A configuration error costs nothing: no samples built, no Valkey started, no instance created.
    assert sorted(p.name for p in data.iterdir()) == []


def test_unreachable_redis_exits_69_with_the_password_masked(tmp_path: Path) -> None:
    url = f"redis://ops:s3cret@127.0.0.1:{_closed_port()}/0"
    result = codelupe("run", "--no-train", DATA_DIR=str(tmp_path), REDIS_URL=url, timeout=120)
    assert result.returncode == UNAVAILABLE, result.stderr
    line = error_line(result)
    assert "redis://ops:***@127.0.0.1" in line
    assert "s3cret" not in result.stderr + result.stdout


def test_offline_forge_exits_69_in_one_line(tmp_path: Path) -> None:
    """`run --source gitlab` against an API nobody answers (loopback, closed port): the forge is down."""
    url = f"http://tok:hunter2@127.0.0.1:{_closed_port()}"
    try:
        result = codelupe("run", "--source", "gitlab", "--no-train", DATA_DIR=str(tmp_path), GITLAB_URL=url)
        assert result.returncode == UNAVAILABLE, result.stderr
        assert "127.0.0.1" in error_line(result)
        assert "hunter2" not in result.stderr + result.stdout
    finally:  # the run started this DATA_DIR's Valkey server, which outlives it by design
        stop_embedded_valkey(tmp_path)


def test_verbose_shows_the_traceback_then_the_line(tmp_path: Path) -> None:
    result = codelupe("--verbose", "status", DATA_DIR=str(tmp_path), REDIS_URL="notaurl")
    assert result.returncode == USAGE
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: REDIS_URL:")


def test_failed_training_fails_the_run(tmp_path: Path) -> None:
    """A training that fails makes `codelupe run` exit 1, with the reason in one line."""
    pytest.importorskip("torch")
    result = codelupe(
        "run",
        "--samples",
        "1",
        DATA_DIR=str(tmp_path / "data"),
        BASE_MODEL="local:no-such-model",
        WANDB_MODE="disabled",
        TRAIN_MIN_QUALITY="0",
        timeout=600,
    )
    try:
        assert result.returncode == FAILED, result.stderr
        assert error_line(result).startswith("error: training failed")
        assert "Traceback" not in result.stderr
    finally:
        stop_embedded_valkey(tmp_path / "data")


class _DagsterLikeWrapper(Exception):
    """Stands for a Dagster wrapper type: recognised by its module, it says nothing itself."""


_DagsterLikeWrapper.__module__ = "dagster._core.errors"


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise _DagsterLikeWrapper("error while initializing resource") from exc
    except _DagsterLikeWrapper as outer:
        return outer


@pytest.mark.parametrize(
    ("inner", "code"),
    [
        (ValueError("BATCH_SIZE must be at least 1"), USAGE),
        (ConnectionRefusedError("refused"), UNAVAILABLE),
        (type("RedisUnavailable", (RuntimeError,), {})("down"), UNAVAILABLE),
        (WorkFailed("training failed"), FAILED),
        (RuntimeError("a bug"), FAILED),
    ],
)
def test_classify_looks_through_dagster_wrappers(inner: BaseException, code: int) -> None:
    found, shown = classify(_wrapped(inner))
    assert found == code
    if code != FAILED or isinstance(inner, WorkFailed):
        assert shown is inner
