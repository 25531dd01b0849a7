"""bench/end_to_end_files.py's growth summary (issue 12's flat-cost target) reads files per CPU-second as
well as files/s: on a shared machine one batch's wall time swings by tens of percent with the neighbours'
load, so the CPU ratio is the one that can show a cost growing with the corpus."""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from end_to_end_files import growth_report


def batch(files_per_s: float, files_per_cpu_s: float | None) -> dict[str, Any]:
    return {
        "files_per_s_end_to_end": files_per_s,
        "text_mb_per_s_end_to_end": 1.0,
        "files_per_cpu_s": files_per_cpu_s,
        "seen": 100,
        "kept": 90,
        "exact_duplicates": 0,
        "near_duplicates": 0,
        "indexed": 90,
        "score_s": 1.0,
        "total_s": 2.0,
    }


def test_growth_summary_gives_the_last_over_first_ratio_of_files_per_cpu_second() -> None:
    # Wall-clock files/s flat, CPU cost per file doubling from the first batch to the last (median of
    # the two series per batch).
    series = [
        [batch(200, 400), batch(200, 300), batch(200, 200)],
        [batch(200, 400), batch(200, 300), batch(200, 200)],
    ]
    summary, rows = growth_report("sqlite", series, workers=2)
    assert "batch 3/1 = 1.00 (200 -> 200 files/s; within 10%" in summary
    assert "files per CPU-second: batch 3/1 = 0.50 (400 -> 200; least-squares line: 0.50)" in summary
    assert "files/CPU-s" in rows[0]
    assert [row.split()[2] for row in rows[1:]] == ["400", "300", "200"]


def test_a_batch_without_cpu_figures_does_not_break_the_summary() -> None:
    series = [[batch(100, None), batch(100, 50)]]
    summary, _ = growth_report("sqlite", series, workers=1)
    assert "files per CPU-second: batch 2/1 = nan" in summary
