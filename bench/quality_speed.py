"""Speed of the quality scorer and the content and path filters: the code of commit 4d5b659 (frozen in
`tests/support/quality_reference.py`) against today's, on the same files in one process.

The corpus is found at run time (`tests/support/quality_corpus.py`): CPython's stdlib (`.py`) and C
headers, Go's tree (`go env GOROOT`) and npm's JavaScript when `node` is installed. Each group runs
old then new, `--runs` times interleaved; the median of each is printed as files/s and MB/s of text,
with the ratio new/old. Results are compared first: a difference stops the bench.

Groups:
- scoring: `score_v2(text, language, stats=...)` (the stats come from the content filters, as in
  `stages/file_processing`), per language family too;
- content checks: `check_content_stats(path, language, text)`;
- path checks: `check_path(path, size)`.

Usage: .venv/bin/python bench/quality_speed.py [--runs 5] [--per-root N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codelupe_dagster.core import filters, quality
from tests.support import quality_reference as reference
from tests.support.quality_corpus import SourceFile, load_corpus

Work = Callable[[], object]


def timed(work: Work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def compare(name: str, old: Work, new: Work, files: int, megabytes: float, runs: int) -> float:
    """Median seconds of each, interleaved; prints files/s, MB/s and the ratio; returns the ratio."""
    old_times, new_times = [], []
    for _ in range(runs):
        old_times.append(timed(old))
        new_times.append(timed(new))
    old_s, new_s = statistics.median(old_times), statistics.median(new_times)
    ratio = old_s / new_s
    print(
        f"{name:28s} old {files / old_s:9,.0f} files/s {megabytes / old_s:7.2f} MB/s | "
        f"new {files / new_s:9,.0f} files/s {megabytes / new_s:7.2f} MB/s | x{ratio:.2f}"
    )
    return ratio


def check_identical(texts: list[SourceFile]) -> None:
    for f in texts:
        assert f.text is not None and f.language is not None
        reason, stats = filters.check_content_stats(f.path, f.language, f.text)
        old_reason, old_stats = reference.check_content_stats(f.path, f.language, f.text)
        assert (reason, asdict(stats)) == (old_reason, asdict(old_stats)), f.path
        new, old = quality.score_v2(f.text, f.language, stats=stats), reference.score_v2(f.text, f.language)
        assert abs(new.score - old.score) <= 1e-6 and new.signals == old.signals, f.path
        assert filters.check_path(f.path, len(f.data)) == reference.check_path(f.path, len(f.data)), f.path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--per-root", type=int, default=None, help="sample this many files per corpus root")
    args = parser.parse_args()

    corpus = load_corpus(per_root=args.per_root)
    texts = [f for f in corpus if f.text is not None and f.language is not None]
    megabytes = sum(len(f.data) for f in texts) / 1e6
    print(f"{len(corpus):,} files, {len(texts):,} decoded with a language, {megabytes:.1f} MB of text")
    check_identical(texts)
    print("old and new give identical reasons, stats, scores and signals on every file")

    new_stats = [filters.check_content_stats(f.path, f.language or "", f.text or "")[1] for f in texts]
    old_stats = [reference.check_content_stats(f.path, f.language or "", f.text or "")[1] for f in texts]
    pairs = list(zip(texts, new_stats, old_stats, strict=True))

    def scoring(subset: list[tuple[SourceFile, filters.TextStats, reference.TextStats]]) -> tuple[Work, Work]:
        def old() -> None:
            for f, _, stats in subset:
                reference.score_v2(f.text or "", f.language, stats=stats)

        def new() -> None:
            for f, stats, _ in subset:
                quality.score_v2(f.text or "", f.language, stats=stats)

        return old, new

    ratios = {}
    ratios["scoring"] = compare("scoring (score_v2)", *scoring(pairs), len(texts), megabytes, args.runs)
    for language in sorted({f.language for f in texts if f.language}):
        subset = [p for p in pairs if p[0].language == language]
        size = sum(len(p[0].data) for p in subset) / 1e6
        if len(subset) >= 20:
            compare(f"  scoring {language}", *scoring(subset), len(subset), size, args.runs)

    def old_content() -> None:
        for f in texts:
            reference.check_content_stats(f.path, f.language or "", f.text or "")

    def new_content() -> None:
        for f in texts:
            filters.check_content_stats(f.path, f.language or "", f.text or "")

    ratios["content"] = compare("content checks", old_content, new_content, len(texts), megabytes, args.runs)

    paths = [(f.path, len(f.data)) for f in corpus]
    path_mb = sum(size for _, size in paths) / 1e6

    def old_paths() -> None:
        for path, size in paths:
            reference.check_path(path, size)

    def new_paths() -> None:
        for path, size in paths:
            filters.check_path(path, size)

    ratios["paths"] = compare("path checks", old_paths, new_paths, len(paths), path_mb, args.runs)
    summary = ", ".join(f"{name} x{ratio:.2f}" for name, ratio in ratios.items())
    print(f"ratios old/new time (median of {args.runs}): {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
