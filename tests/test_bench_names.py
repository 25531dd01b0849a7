"""bench/ scripts run with bench/ first on sys.path, so a script named like a standard-library module
shadows it for every other script there (a bench/secrets.py once broke numpy's `from secrets import
randbits` in bench/train_gpu.py)."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_no_bench_script_shadows_a_standard_library_module() -> None:
    names = {path.stem for path in BENCH.glob("*.py")}
    assert names, "bench/ has no scripts"
    assert sorted(names & sys.stdlib_module_names) == []
