"""The whole per-file core (`stages.file_processing.process_file`) at a base revision against the working
tree, on the same files: what the compiled hot path (`native/`) and every other per-file change give
together, with the answers compared.

    .venv/bin/python bench/process_file_speed.py [--base e8b4b20] [--rounds 3] [--limit N]

The base revision is checked out as a `git worktree` in a temporary folder; each side runs in its own
interpreter (`PYTHONPATH` set to its tree), one after the other, alternating for `--rounds` rounds, and
reports the thread CPU time (`time.thread_time`) of `process_file` over every file, so that other jobs on a
shared machine slow both sides alike. The table shows the medians and the ratio base / new. Files: every
file of CPython's standard library (`sysconfig`) and Go's `src` (`go env GOROOT`), found at run time, read
once per side. DECONTAMINATE_SETS is `auto`, as in the pipeline. Before timing, every result of both
sides is compared (kept or dropped, drop reason, scores, digests, band keys, ...): a difference stops
the bench; the sub-words' line order is compared as a set (the base revision's followed Python's hash
seed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import hashlib, json, os, subprocess, sys, sysconfig, time
from dataclasses import asdict, is_dataclass
from codelupe_dagster.backends import eval_sets
from codelupe_dagster.stages.file_processing import ProcessingConfig, process_file

def files(limit):
    found = []
    roots = [sysconfig.get_paths()["stdlib"]]
    try:
        go = subprocess.run(["go", "env", "GOROOT"], capture_output=True, text=True, check=True)
        roots.append(os.path.join(go.stdout.strip(), "src"))
    except (OSError, subprocess.CalledProcessError):
        pass
    for root in roots:
        for directory, subdirectories, names in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d not in {"__pycache__", "site-packages"})
            for name in sorted(names):
                path = os.path.join(directory, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as handle:
                        found.append((os.path.relpath(path, root), handle.read()))
    return found[:limit] if limit else found

def answer(result):
    record = asdict(result) if is_dataclass(result) else {"value": repr(result)}
    subwords = record.pop("content_subwords", None)
    if isinstance(subwords, str):
        record["content_subwords"] = sorted(subwords.split("\n"))
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=repr).encode()).hexdigest()

limit, check = int(sys.argv[1]), sys.argv[2] == "check"
corpus = files(limit)
config = ProcessingConfig(decontaminate_sets=eval_sets.resolve_spec("auto"))
for path, data in corpus[:20]:
    process_file(path, data, config)  # warm caches (tables, compiled patterns)
if check:
    print(json.dumps([answer(process_file(path, data, config)) for path, data in corpus]))
else:
    started = time.thread_time()
    for path, data in corpus:
        process_file(path, data, config)
    spent = time.thread_time() - started
    print(json.dumps({"files": len(corpus), "mb": sum(len(d) for _, d in corpus) / 1e6, "cpu_s": spent}))
"""


def run_side(tree: Path, limit: int, mode: str) -> str:
    environment = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-c", WORKER, str(limit), mode],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="e8b4b20", help="revision to compare the working tree with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="process-file-base-") as scratch:
        base = Path(scratch) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base], check=True
        )
        try:
            sides = {"base": base, "new": ROOT}
            answers = {name: json.loads(run_side(tree, args.limit, "check")) for name, tree in sides.items()}
            differ = sum(a != b for a, b in zip(answers["base"], answers["new"], strict=True))
            print(
                f"{len(answers['new']):,} files; results differ on {differ}; load average {os.getloadavg()}"
            )
            if differ:
                return 1
            spent: dict[str, list[float]] = {name: [] for name in sides}
            for number in range(args.rounds):
                order = list(sides) if number % 2 == 0 else list(reversed(sides))
                for name in order:
                    figures = json.loads(run_side(sides[name], args.limit, "time"))
                    spent[name].append(figures["cpu_s"])
                print(f"  round {number + 1}: base {spent['base'][-1]:.2f} s, new {spent['new'][-1]:.2f} s")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    files, megabytes = figures["files"], figures["mb"]
    old, new = statistics.median(spent["base"]), statistics.median(spent["new"])
    print(
        f"process_file on {files:,} files ({megabytes:.0f} MB), median CPU of {args.rounds} rounds: "
        f"base {args.base} {old:.2f} s ({files / old:,.0f} files/s), "
        f"new {new:.2f} s ({files / new:,.0f} files/s), x{old / new:.2f}; load average {os.getloadavg()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
