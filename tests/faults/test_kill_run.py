"""SIGKILL `codelupe run` at seeded random moments, run it again: the result is exactly a clean run's.

`--seeds N` tries N moments (default 10). Each trial kills the run's whole process group (the run and its
scoring workers, as a crashed machine or an OOM-killed container would), then runs the same command
once more and requires, with no human action in between: exit 0, the clean run's document ids (none lost,
none duplicated), nothing queued or in flight, nothing parked, and no Dagster run left in progress.
"""

from __future__ import annotations

import pytest

from tests.faults.harness import Baseline, kill_trial

pytestmark = pytest.mark.slow


def test_sigkill_run_then_rerun_matches_clean_run(tmp_path, baseline: Baseline, kill_seed: int):
    trial = kill_trial(tmp_path, baseline, kill_seed)
    where = f"seed {kill_seed}: killed at {trial.delay}s (killed={trial.killed})"
    assert not trial.rerun.timed_out, f"{where}: the re-run hung\n{trial.rerun.tail()}"
    assert trial.rerun.returncode == 0, f"{where}: re-run exit {trial.rerun.returncode}\n{trial.rerun.tail()}"
    verdict = trial.verdict
    assert verdict.clean, f"{where}: {verdict.describe()} {verdict.detail}\n{trial.rerun.tail()}"


def test_repeated_kills_on_the_same_state_then_one_run_matches_clean_run(tmp_path, baseline: Baseline):
    """The old pipeline's worst case: killed again and again before it ever finished. Every repo held by a
    dead run counts a crash, never an attempt, so no repo is parked by kills from outside."""
    trial = kill_trial(tmp_path, baseline, seed=7, kills=6)
    assert trial.killed, "no run was killed: the trial proves nothing"
    assert not trial.rerun.timed_out, f"the final run hung\n{trial.rerun.tail()}"
    assert trial.rerun.returncode == 0, f"final run exit {trial.rerun.returncode}\n{trial.rerun.tail()}"
    assert trial.verdict.clean, f"{trial.verdict.describe()} {trial.verdict.detail}\n{trial.rerun.tail()}"
