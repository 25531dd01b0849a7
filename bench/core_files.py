"""Throughput of the per-file core (filters, secrets, digest, score, MinHash) on real files.

Reads every file under each `--corpus` root (default: CPython's Lib), then runs
`process_file` on all of them:
- single process, files already in memory (the core's own cost) and read+process;
- a multiprocessing Pool of `--workers` processes (FILE_WORKERS, default 2 here), each worker
  reading and processing its files, the way the scoring asset fans out.
Then the cost per stage, each stage run alone over the same files, the kept/dropped counts per
reason, the ratio to the old pipeline's ~3 files/s, and seed_v1 vs v2 (speed and score spread).
Figures are medians of `--repeats` runs.

Usage: .venv/bin/python bench/core_files.py [--corpus PATH ...] [--workers 2] [--repeats 3] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sysconfig
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing import Pool

from codelupe_dagster.core import filters
from codelupe_dagster.core.dedup import digest_normalized, normalize_content
from codelupe_dagster.core.language import detect_language
from codelupe_dagster.core.minhash import band_keys, signature
from codelupe_dagster.core.quality import score_seed_v1, score_v2
from codelupe_dagster.core.secrets import redact_secrets
from codelupe_dagster.stages.file_processing import Dropped, ProcessedFile, ProcessingConfig, process_file

DEFAULT_CORPUS = sysconfig.get_paths()["stdlib"]  # this interpreter's Lib
OLD_PIPELINE_FILES_PER_S = 3.0  # the old pipeline's measured throughput (DESIGN §10)
CONFIG = ProcessingConfig()
SKIPPED_DIRECTORIES = frozenset({"__pycache__", "site-packages"})


def list_files(roots: list[str], limit: int) -> list[tuple[str, str]]:
    """(absolute path, path relative to its corpus root) of every regular file, sorted."""
    found = []
    for root in roots:
        for directory, subdirectories, names in os.walk(root):
            # Bytecode caches are never committed to a repository, and an interpreter's
            # site-packages is installed third-party code, not part of its Lib.
            subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES]
            for name in names:
                absolute = os.path.join(directory, name)
                if os.path.isfile(absolute) and not os.path.islink(absolute):
                    found.append((absolute, os.path.relpath(absolute, root)))
    found.sort()
    return found[:limit] if limit else found


def read_and_process(item: tuple[str, str]) -> tuple[str, int]:
    absolute, relative = item
    with open(absolute, "rb") as handle:
        data = handle.read()
    result = process_file(relative, data, CONFIG)
    return (result.reason if isinstance(result, Dropped) else "kept"), len(data)


def median_seconds(
    run: Callable[[], object], repeats: int, clock: Callable[[], float] = time.process_time
) -> float:
    """Median duration of `run`; CPU time of this process by default.

    CPU time, because the machine is shared: wall time would measure the neighbours' load too.
    Pool runs pass `time.perf_counter` (their CPU is spent in the workers).
    """
    times = []
    for _ in range(repeats):
        started = clock()
        run()
        times.append(clock() - started)
    return statistics.median(times)


def per_file_us(seconds: float, count: int) -> str:
    return f"{seconds / max(count, 1) * 1e6:8.1f} us/file"


def stage_costs(blobs: list[tuple[str, bytes]], repeats: int) -> list[tuple[str, float, int]]:
    """Each stage alone over the files that reach it: (name, median seconds, files)."""
    passing = [(path, data) for path, data in blobs if filters.check_path(path, len(data)) is None]
    texts = [(path, text) for path, data in passing if (text := filters.decode_text(data)) is not None]
    typed = [(path, lang, text) for path, text in texts if (lang := detect_language(path, text[:4096]))]
    kept = [(path, lang, text) for path, lang, text in typed if not filters.check_content(path, lang, text)]
    contents = [(normalize_content(redact_secrets(text)[0]), lang) for _, lang, text in kept]

    def digest(content: str) -> bytes:
        return digest_normalized(normalize_content(content))

    def minhash(content: str) -> list[bytes]:
        return band_keys(signature(content))

    stages: list[tuple[str, Callable, list[tuple]]] = [
        ("check_path", filters.check_path, [(p, len(d)) for p, d in blobs]),
        ("decode", filters.decode_text, [(d,) for _, d in passing]),
        ("detect_language", detect_language, [(p, t[:4096]) for p, t in texts]),
        ("check_content", filters.check_content, typed),
        ("secrets", redact_secrets, [(t,) for _, _, t in kept]),
        ("normalize+digest", digest, [(c,) for c, _ in contents]),
        ("score v2", score_v2, contents),
        ("score seed_v1", score_seed_v1, contents),
        ("minhash+bands", minhash, [(c,) for c, _ in contents]),
    ]
    timed = []
    for name, fn, arguments in stages:
        seconds = median_seconds(lambda fn=fn, arguments=arguments: [fn(*a) for a in arguments], repeats)
        timed.append((name, seconds, len(arguments)))
    return timed


def scorer_comparison(results: list[ProcessedFile]) -> None:
    print("\nseed_v1 vs v2 on the kept files (same content):")
    print(f"{'scorer':>8} {'mean':>6} {'>=0.3':>6} {'>=0.7':>6} {'distinct scores':>16}")
    for name, scorer in (("seed_v1", score_seed_v1), ("v2", score_v2)):
        scores = [scorer(r.content, r.language).score for r in results]
        share_03 = sum(s >= 0.3 for s in scores) / len(scores)
        share_07 = sum(s >= 0.7 for s in scores) / len(scores)
        print(
            f"{name:>8} {statistics.mean(scores):6.3f} {share_03:6.1%} {share_07:6.1%} {len(set(scores)):>16}"
        )


def read_corpus(files: list[tuple[str, str]], roots: list[str]) -> list[tuple[str, bytes]]:
    started = time.perf_counter()
    blobs = []
    for absolute, relative in files:
        with open(absolute, "rb") as handle:
            blobs.append((relative, handle.read()))
    total_mb = sum(len(d) for _, d in blobs) / 1e6
    print(
        f"corpus: {', '.join(roots)}: {len(blobs):,} files, {total_mb:,.1f} MB "
        f"(read in {time.perf_counter() - started:.2f} s)"
    )
    return blobs


def print_outcomes(outcomes: list[ProcessedFile | Dropped]) -> list[ProcessedFile]:
    kept = [r for r in outcomes if isinstance(r, ProcessedFile)]
    reasons = Counter(r.reason for r in outcomes if isinstance(r, Dropped))
    kept_mb = sum(r.size_bytes for r in kept) / 1e6
    print(f"\nkept {len(kept):,} ({kept_mb:,.1f} MB), dropped {sum(reasons.values()):,}:")
    for reason, count in reasons.most_common():
        print(f"  {reason:<18} {count:>7,}")
    print(f"secrets redacted: {dict(sum((Counter(r.secrets) for r in kept), Counter()))}")
    return kept


def print_throughput(rows: list[tuple[str, float]], files: int, total_mb: float, repeats: int) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nthroughput (median of {repeats}; {os.cpu_count()} CPUs, load average {load}):")
    for label, seconds in rows:
        files_per_s = files / seconds
        ratio = files_per_s / OLD_PIPELINE_FILES_PER_S
        print(
            f"  {label:<38} {files_per_s:9,.0f} files/s {total_mb / seconds:7.1f} MB/s "
            f"{per_file_us(seconds, files)}  x{ratio:,.0f} vs the old ~3 files/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", help="root of real source files (repeatable)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FILE_WORKERS", "2")))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="only the first N files (0 = all)")
    args = parser.parse_args()
    roots = args.corpus or [DEFAULT_CORPUS]
    files = list_files(roots, args.limit)
    blobs = read_corpus(files, roots)
    outcomes: list[ProcessedFile | Dropped] = []

    def run_single() -> None:
        outcomes[:] = [process_file(path, data, CONFIG) for path, data in blobs]

    single = median_seconds(run_single, args.repeats)
    single_read = median_seconds(lambda: [read_and_process(item) for item in files], args.repeats)
    with Pool(args.workers) as pool:
        pool.map(read_and_process, files[: args.workers * 8])  # warm the workers' imports
        pooled = median_seconds(
            lambda: pool.map(read_and_process, files, chunksize=64), args.repeats, time.perf_counter
        )

    kept = print_outcomes(outcomes)
    rows = [
        ("single process, in memory (CPU)", single),
        ("single process, read+process (CPU)", single_read),
        (f"pool of {args.workers}, read+process (wall)", pooled),
    ]
    print_throughput(rows, len(blobs), sum(len(d) for _, d in blobs) / 1e6, args.repeats)
    if kept:
        print(f"  per kept file: {per_file_us(single, len(kept))} (single-process CPU time / kept files)")

    print("\nper-stage cost, each stage alone over the files that reach it:")
    timed = stage_costs(blobs, args.repeats)
    for name, seconds, count in sorted(timed, key=lambda row: -row[1]):
        print(f"  {name:<18} {seconds:7.2f} s over {count:>6,} files {per_file_us(seconds, count)}")
    if kept:
        scorer_comparison(kept)


if __name__ == "__main__":
    main()
