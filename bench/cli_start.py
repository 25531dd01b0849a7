"""Start-up time of the CLI: median wall time of `codelupe --help`, `status` and `search` against
`python -c pass` (the interpreter alone) and `python -c "import dagster"` (what a command that imports
Dagster pays on top), all measured in this one run on this machine.

    python bench/cli_start.py [--runs 7]

`status` and `search` read a throwaway state directory (an embedded Valkey and an empty SQLite index),
stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    sys.path.insert(0, str(ROOT))
    from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
    from codelupe_dagster.backends.search import CODE_SCHEMA, open_search_index

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "state"
        ensure_embedded_valkey(data)
        open_search_index(CODE_SCHEMA, data_dir=data).ensure()
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
        env.update(DATA_DIR=str(data), PYTHONPATH=str(ROOT))
        cli = [sys.executable, "-m", "codelupe_dagster.cli"]
        try:
            cases = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "python -c 'import dagster'": [sys.executable, "-c", "import dagster"],
                "codelupe --help": [*cli, "--help"],
                "codelupe status": [*cli, "status"],
                "codelupe search": [*cli, "search", "parse json"],
            }
            medians = {name: wall(argv, env, runs) for name, argv in cases.items()}
        finally:
            stop_embedded_valkey(data)
    base = medians["python -c pass"]
    print(f"median of {runs} runs; ratio to `python -c pass`")
    for name, seconds in medians.items():
        print(f"  {name:28s} {seconds * 1000:8.0f} ms  {seconds / base:5.1f}x")


if __name__ == "__main__":
    main()
