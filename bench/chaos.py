"""Chaos: SIGKILL `codelupe run` at random moments, re-run it to completion, count what was lost or doubled.

The fault-injection suite's kill trial (`tests/faults/harness.py`), in a loop at scale: a corpus of small
git repositories built from the standard library, one clean run for the expected document ids, then for
each trial a fresh DATA_DIR, a run killed (its whole process group) at a seeded moment inside a clean run's
duration, and one re-run. Prints one line per trial and a table: trials, lost, duplicated (repeated ids plus
ids a clean run does not have), left in flight, Dagster runs left in progress, median and max recovery
seconds (the re-run to completion) and the re-runs' exit codes.

    .venv/bin/python bench/chaos.py [--kills 50] [--repos 12] [--files 15] [--seed 0] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults.harness import build_corpus, clean_baseline, kill_trial  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="trials (one SIGKILL and one re-run each)")
    parser.add_argument("--repos", type=int, default=12)
    parser.add_argument("--files", type=int, default=15, help="files per repository")
    parser.add_argument("--seed", type=int, default=0, help="first seed; trial i uses seed + i")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, DATA_DIRs)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="codelupe-chaos-"))
    started = time.monotonic()
    try:
        build_corpus(work / "corpus", repos=args.repos, files_per_repo=args.files)
        baseline = clean_baseline(work / "clean", work / "corpus")
        print(
            f"clean run: {len(baseline.ids)} documents from {args.repos} repos in {baseline.seconds:.1f}s",
            flush=True,
        )
        trials = []
        for i in range(args.kills):
            seed = args.seed + i
            trial_dir = work / f"trial-{seed:04d}"
            trial = kill_trial(trial_dir, baseline, seed)
            trials.append(trial)
            v = trial.verdict
            code = "hung" if trial.rerun.timed_out else trial.rerun.returncode
            print(
                f"seed {seed:4d}  kill at {trial.delay:6.2f}s{'' if trial.killed else ' (finished first)'}  "
                f"re-run {trial.rerun.seconds:6.1f}s exit {code}  {v.describe()}",
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(trial_dir, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    recovery = [t.rerun.seconds for t in trials]
    codes = Counter("hung" if t.rerun.timed_out else str(t.rerun.returncode) for t in trials)
    rows = [
        ("trials", str(len(trials))),
        ("killed mid-run", str(sum(t.killed for t in trials))),
        ("lost documents (total)", str(sum(t.verdict.lost for t in trials))),
        ("duplicated documents (total)", str(sum(t.verdict.duplicated for t in trials))),
        ("trials with repos left in flight", str(sum(bool(t.verdict.inflight) for t in trials))),
        ("trials with repos left queued", str(sum(bool(t.verdict.queued) for t in trials))),
        ("trials with repos parked", str(sum(bool(t.verdict.dead) for t in trials))),
        (
            "trials with Dagster runs left in progress",
            str(sum(bool(t.verdict.in_progress_runs) for t in trials)),
        ),
        (
            "trials identical to the clean run",
            str(sum(t.verdict.clean and t.rerun.returncode == 0 for t in trials)),
        ),
        ("recovery median (s)", f"{statistics.median(recovery):.1f}" if recovery else "-"),
        ("recovery max (s)", f"{max(recovery):.1f}" if recovery else "-"),
        ("re-run exit codes", ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))),
        ("wall time (s)", f"{time.monotonic() - started:.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.keep:
        print(f"\nwork directory: {work}")
    failed = [t for t in trials if not (t.verdict.clean and t.rerun.returncode == 0)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
