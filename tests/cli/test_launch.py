"""`execute_as_location_run` leaves the process's signal handling as it found it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A process started as a shell's background job (`nohup codelupe run &`) begins with SIGINT ignored.
BACKGROUND_PARENT = """
import signal

import dagster as dg

from codelupe_dagster.cli.launch import execute_as_location_run

signal.signal(signal.SIGINT, signal.SIG_IGN)


@dg.op
def noop() -> None:
    pass


@dg.job
def tiny_job() -> None:
    noop()


def sigterm_ignored() -> bool:
    with open("/proc/self/status") as status:
        ignored = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
    return bool(ignored & (1 << (signal.SIGTERM - 1)))


before = sigterm_ignored()
with dg.DagsterInstance.ephemeral() as instance:
    assert execute_as_location_run(tiny_job, instance).success
print(before, sigterm_ignored())
"""


def test_sigterm_still_stops_a_background_codelupe_run_after_a_run() -> None:
    """Dagster points SIGTERM at SIGINT's handler around a run and leaves it there: ignored, here."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", BACKGROUND_PARENT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-2:] == ["False", "False"]
