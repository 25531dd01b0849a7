"""The whole per-file core (`process_file`) with the quality scorer of a base revision against today's, in
one process: what the compiled scanner (`codelupe_dagster._native`) gives end to end of a file.

    PYTHONPATH=. .venv/bin/python bench/native_process_file.py [--base b3aa80b] [--repeats 5] [--limit N]

The base revision's `core/quality.py` is read with `git show` and loaded as its own module; its
`score_v2` is registered as the scorer `v2_base`, so `process_file` runs the same code for everything but
the scorer. Files: every file of CPython's standard library (`sysconfig`), read once into memory.
Base and new take turns per file (which goes first alternates), each call timed in the thread's CPU time
(`time.thread_time`) so that other jobs on a shared machine slow both alike; the table shows medians of
the repeats and the ratio base / new. Every result is compared first: a difference stops the bench.
DECONTAMINATE_SETS is `auto`, as in the pipeline.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codelupe_dagster.backends import eval_sets
from codelupe_dagster.core import quality
from codelupe_dagster.stages.file_processing import Dropped, ProcessingConfig, process_file

ROOT = Path(__file__).resolve().parents[1]


def load_base_quality(base: str) -> ModuleType:
    """`core/quality.py` at `base`, as a module of its own (it imports today's other core modules)."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{base}:codelupe_dagster/core/quality.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader("quality_base", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["quality_base"] = module  # dataclasses look their module up
    exec(compile(source, f"{base}:core/quality.py", "exec"), module.__dict__)
    return module


def stdlib_files(limit: int) -> list[tuple[str, bytes]]:
    root = sysconfig.get_paths()["stdlib"]
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in {"__pycache__", "site-packages"})
        for name in sorted(names):
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    found.append((os.path.relpath(path, root), handle.read()))
    return found[:limit] if limit else found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="b3aa80b", help="revision whose quality.py is the baseline")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = parser.parse_args()

    base = load_base_quality(args.base)
    quality.SCORERS["v2_base"] = base.score_v2
    sets = eval_sets.resolve_spec("auto")
    configs = (
        ProcessingConfig(scorer="v2_base", decontaminate_sets=sets),
        ProcessingConfig(decontaminate_sets=sets),
    )
    files = stdlib_files(args.limit)
    print(
        f"{len(files):,} stdlib files, {sum(len(d) for _, d in files) / 1e6:.1f} MB; base {args.base}; "
        f"decontaminate {sets or 'none'}; load average {os.getloadavg()}"
    )

    kept = 0
    for path, data in files:
        old, new = (process_file(path, data, config) for config in configs)
        if old != new:
            print(f"DIFFERENT on {path}:\n  base {old}\n  new  {new}")
            return 1
        kept += not isinstance(new, Dropped)
    print(f"identical results on every file ({kept:,} kept)")

    clock = time.thread_time
    totals: list[tuple[float, float]] = []
    for _ in range(args.repeats):
        spent = [0.0, 0.0]
        for number, (path, data) in enumerate(files):
            for side in (number % 2, 1 - number % 2):
                started = clock()
                process_file(path, data, configs[side])
                spent[side] += clock() - started
        totals.append((spent[0], spent[1]))
        print(f"  repeat: base {spent[0]:.2f} s, new {spent[1]:.2f} s, x{spent[0] / spent[1]:.2f}")
    old_s = statistics.median(t[0] for t in totals)
    new_s = statistics.median(t[1] for t in totals)
    print(
        f"process_file, median of {args.repeats}: base {old_s:.2f} s ({len(files) / old_s:,.0f} files/s), "
        f"new {new_s:.2f} s ({len(files) / new_s:,.0f} files/s): x{old_s / new_s:.2f}; "
        f"load average {os.getloadavg()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
