"""bench/train_gpu.py must run end to end (tiny shapes, CPU) so the one GPU run is not its first run."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "train_gpu.py"


def _bench(*options: str) -> tuple[subprocess.CompletedProcess, dict[str, list[str]]]:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", *options],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {}
    for line in result.stdout.splitlines():
        if line.startswith("| smoke |"):
            cells = [cell.strip() for cell in line.split("|")[1:-1]]
            rows[cells[1]] = cells
    return result, rows


def test_gpu_bench_smoke_prints_one_table_with_a_row_per_variant() -> None:
    _, rows = _bench()
    assert list(rows) == [
        "padded per-file (baseline)",
        "packed sdpa",
        "packed flash_attention_2",
        "packed sdpa + liger",
        "packed sdpa, 2 processes",
        "packed sdpa, FSDP2",
    ]
    # Measured rows carry a rate; on the CPU there is no MFU against an H200 and no target to meet.
    for name in (
        "padded per-file (baseline)",
        "packed sdpa",
        "packed sdpa, 2 processes",
        "packed sdpa, FSDP2",
    ):
        _model, _variant, rate, mfu, _peak, ratio, target, note = rows[name]
        assert float(rate.replace(",", "")) > 0 and mfu == "n/a" and ratio.endswith("x"), rows[name]
        assert target == "" and "error" not in note and "timeout" not in note, rows[name]
    assert rows["packed sdpa, 2 processes"][-1].startswith("scaling ")
    assert rows["packed sdpa, FSDP2"][-1] == "2 processes"  # sharded over two gloo processes
    # What this machine lacks shows as a skipped row, not as an error or a missing row.
    if importlib.util.find_spec("flash_attn") is None:
        assert rows["packed flash_attention_2"][-1] == "skipped: flash_attn is not installed"
    assert rows["packed sdpa + liger"][-1].startswith("skipped: ")


def test_a_variant_past_its_time_bound_is_killed_and_the_table_still_prints() -> None:
    result, rows = _bench("--variants", "packed,ddp2", "--variant-timeout", "2", "--min-variant-seconds", "1")
    assert list(rows) == ["packed sdpa", "packed sdpa, 2 processes"]
    for cells in rows.values():
        assert cells[2] == "0" and cells[-1] == "timeout: over its 2s bound", cells
    assert "last lines of its output" in result.stderr


def test_the_loss_chunk_defaults_to_automatic_sizing(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("train_gpu", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "train_gpu", bench)  # its dataclass looks its module up
    spec.loader.exec_module(bench)
    assert bench.parse_args([]).loss_chunk is None
    assert bench.parse_args(["--loss-chunk", "512"]).loss_chunk == 512
    # Two processes on two GPUs go through torch's own launcher, one variant process per rank.
    command = bench.worker_command("7B", "ddp2", bench.parse_args(["--device", "cuda"]), 60.0)
    assert "--nproc-per-node=2" in command and "--worker" in command and "7B:ddp2" in command
    # The FSDP row shards over two GPUs where two are visible and runs on one where one is.
    for gpus, processes in ((1, 1), (2, 2), (8, 2)):
        args = bench.parse_args(["--device", "cuda"])
        args.gpus = gpus
        command = bench.worker_command("7B", "fsdp", args, 60.0)
        assert f"--nproc-per-node={processes}" in command and "7B:fsdp" in command
