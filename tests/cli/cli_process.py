"""Run `codelupe` as a user does: a fresh process, a chosen environment, stdout and stderr apart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Variables a test decides on itself; the developer's own settings must not leak into a case.
CLEARED = ("REDIS_URL", "ELASTICSEARCH_URL", "DAGSTER_HOME", "DATA_DIR", "XDG_DATA_HOME", "CODELUPE_SOURCE")


def codelupe(
    *args: str, cwd: Path | None = None, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in CLEARED}
    environ.update(env)
    root = str(Path(__file__).resolve().parents[2])
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "codelupe_dagster.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=timeout,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line, last on stderr, with no traceback before it; fails otherwise."""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return errors[0]
