"""Start-up time of the CLI: median wall and CPU time of `codelupe --help`, `status`, `dropped`, `search`.

Against `python -c pass` (the interpreter alone), `python -c "import redis"` (what a command reading Redis
through redis-py would pay) and `python -c "import dagster"` (what a command that imports Dagster pays on
top), all measured in this one run on this machine.

    python bench/cli_start.py [--runs 7] [--baseline DIR]

With --baseline, the `codelupe` cases also run from DIR (another checkout, e.g. `git archive` of an older
commit with the compiled extension beside it), in the same rounds, marked "(baseline)".

The cases run in rounds (one of each per round), so a burst of load from elsewhere stretches every case
alike; the load average is printed before and after. On a loaded machine quote the ratios, and the CPU
times (user + system of the child), which waiting for a core does not inflate.

`status`, `dropped` and `search` read a throwaway state directory (an embedded Valkey, and a SQLite index
holding three small files, so `search` shows hits and pays for redacting them; "no hits" is the same
search finding nothing), stopped and removed at the end. They read Redis through `backends.resp_reader`,
so `import redis` is what they would pay on top with redis-py.

Each case runs once untimed first, with bytecode writing allowed, so the timed runs load compiled modules
as an installed package does (PYTHONDONTWRITEBYTECODE in a developer's shell would otherwise add the
compilation of every module to each run).
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


def timed(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of `argv`.

    Run outside the checkout: `python -m` puts the working directory first on sys.path, which would
    shadow PYTHONPATH (and make a baseline run this checkout's code)."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def _code_file(n: int) -> dict[str, object]:
    """A small indexed Python file that `search "parse json"` finds."""
    from codelupe_dagster.core.documents import CodeDocument

    content = f"import json\n\n\ndef parse_{n}(text):\n    return json.loads(text)  # parse json\n"
    return CodeDocument(
        id=f"{n:032x}",
        content=content,
        path=f"lib/parse_{n}.py",
        filename=f"parse_{n}.py",
        extension="py",
        language="python",
        repo="acme/parsers",
        repo_stars=3,
        license="mit",
        commit="c" * 40,
        quality_score=0.8,
        quality_signals={"lines": 5},
        size_bytes=len(content),
        lines=5,
        batch="b-bench",
    ).to_record()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    options = parser.parse_args()
    runs = options.runs
    sys.path.insert(0, str(ROOT))
    from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
    from codelupe_dagster.backends.search import CODE_SCHEMA, open_search_index

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "state"
        ensure_embedded_valkey(data)
        index = open_search_index(CODE_SCHEMA, data_dir=data)
        index.ensure()
        index.bulk_upsert([_code_file(n) for n in range(3)]).raise_for_errors()
        index.refresh()
        cleared = {"REDIS_URL", "ELASTICSEARCH_URL", "PYTHONDONTWRITEBYTECODE"}
        env = {k: v for k, v in os.environ.items() if k not in cleared}
        env.update(DATA_DIR=str(data), PYTHONPATH=str(ROOT))
        cli = [sys.executable, "-m", "codelupe_dagster.cli"]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import redis'": [sys.executable, "-c", "import redis"],
            "python -c 'import dagster'": [sys.executable, "-c", "import dagster"],
            "codelupe --help": [*cli, "--help"],
            "codelupe status": [*cli, "status"],
            "codelupe status --json": [*cli, "status", "--json"],
            "codelupe search": [*cli, "search", "parse json"],
            "codelupe search (no hits)": [*cli, "search", "nowhere"],
            "codelupe dropped": [*cli, "dropped"],
        }
        envs = {name: env for name in cases}
        if options.baseline is not None:
            for name, argv in list(cases.items()):
                if name.startswith("codelupe"):
                    cases[f"{name} (baseline)"] = argv
                    envs[f"{name} (baseline)"] = {**env, "PYTHONPATH": str(options.baseline.resolve())}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        try:
            for name, argv in cases.items():
                timed(argv, envs[name], tmp)  # warm-up: writes bytecode, fills the page cache
            load_before = os.getloadavg()[0]
            for _ in range(runs):
                for name, argv in cases.items():
                    samples[name].append(timed(argv, envs[name], tmp))
            load_after = os.getloadavg()[0]
        finally:
            stop_embedded_valkey(data)
    wall = {name: statistics.median(w for w, _ in runs_) for name, runs_ in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs_) for name, runs_ in samples.items()}
    base_wall, base_cpu = wall["python -c pass"], cpu["python -c pass"]
    print(
        f"median of {runs} rounds; ratio to `python -c pass`; load average {load_before:.1f} before, "
        f"{load_after:.1f} after, on {os.cpu_count()} CPUs"
    )
    print(f"  {'':28s} {'wall':>8s}  {'ratio':>6s}  {'cpu':>8s}  {'ratio':>6s}")
    for name in cases:
        print(
            f"  {name:28s} {wall[name] * 1000:6.0f} ms  {wall[name] / base_wall:5.1f}x"
            f"  {cpu[name] * 1000:6.0f} ms  {cpu[name] / base_cpu:5.1f}x"
        )


if __name__ == "__main__":
    main()
