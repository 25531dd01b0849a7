"""bench/train_gpu.py must run end to end (tiny shapes, CPU) so the one GPU run is not its first run."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_bench_smoke_prints_a_table_for_both_variants() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "train_gpu.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| smoke |")]
    assert [row.split("|")[2].strip() for row in rows] == ["padded per-file (baseline)", "packed sdpa"]
    assert all("error" not in row for row in rows), rows
