"""Decontamination against HumanEval: its cost on the scoring hot path, false positives on a real corpus,
recall on planted copies.

    .venv/bin/python bench/decontamination.py speed [--repeats 5]   # process_file files/s without/with
    .venv/bin/python bench/decontamination.py false-positives [--root DIR ...]
    .venv/bin/python bench/decontamination.py recall

- speed: `process_file` (filters, redaction, quality, digest, MinHash) over the CPython standard
  library's .py files, with DECONTAMINATE_SETS empty and with `humaneval`, alternating in one process,
  median of the repeats and the ratio; plus the matching alone in MB/s.
- false-positives: every file of the roots (default: the standard library, site-packages excluded) that
  is flagged, and every file that shares any indexed n-gram at all, with the shared words, to inspect.
- recall: each of the 164 problems planted into a real stdlib file (after a random line) as prompt +
  canonical solution, reformatted (tabs, other quotes, CRLF), the prompt alone and the solution alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sysconfig
import time
from pathlib import Path

import numpy as np

from codelupe_dagster.backends.eval_sets import SetSpec, index_for, load_set
from codelupe_dagster.core.decontamination import DecontaminationIndex, tokens
from codelupe_dagster.stages.file_processing import ProcessingConfig, process_file

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def corpus(roots: list[Path]) -> list[tuple[str, bytes]]:
    files = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "-packages" in str(path.relative_to(root)) or not path.is_file():
                continue
            files.append((str(path), path.read_bytes()))
    return files


def _scoring_pass(files: list[tuple[str, bytes]], config: ProcessingConfig) -> float:
    started = time.perf_counter()
    for path, data in files:
        process_file(path, data, config)
    return len(files) / (time.perf_counter() - started)


def speed(repeats: int) -> None:
    files = corpus([STDLIB])
    megabytes = sum(len(data) for _, data in files) / 1e6
    plain, decont = ProcessingConfig(), ProcessingConfig(decontaminate_sets="humaneval")
    started = time.perf_counter()
    index = index_for("humaneval")
    assert index is not None
    print(f"index: {len(index)} n-grams, built in {time.perf_counter() - started:.2f}s")
    print(f"corpus: {len(files)} stdlib files, {megabytes:.1f} MB")
    without, with_ = [], []
    for _ in range(repeats):
        without.append(_scoring_pass(files, plain))
        with_.append(_scoring_pass(files, decont))
    a, b = statistics.median(without), statistics.median(with_)
    print(f"process_file without sets: median {a:.0f} files/s  ({', '.join(f'{x:.0f}' for x in without)})")
    print(f"process_file with humaneval: median {b:.0f} files/s  ({', '.join(f'{x:.0f}' for x in with_)})")
    print(f"ratio with/without: {b / a:.3f}")
    texts = [data.decode("utf-8", "replace") for _, data in files]
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for text in texts:
            index.matches(text)
        rates.append(megabytes / (time.perf_counter() - started))
    print(
        f"matching alone: median {statistics.median(rates):.1f} MB/s, "
        f"{statistics.median(rates) / megabytes * len(files):.0f} files/s"
    )


def _shared_runs(index: DecontaminationIndex, text: str) -> list[str]:
    """The shared word runs, for reading a flag (not on the hot path)."""
    words = tokens(text)
    found = []
    for start in range(len(words) - index.ngram + 1):
        window = " ".join(words[start : start + index.ngram])
        if index.overlaps(window):
            if found and found[-1][1] == start - 1:
                found[-1] = (found[-1][0], start)
            else:
                found.append((start, start))
    return [" ".join(words[a : b + index.ngram]) for a, b in found]


def false_positives(roots: list[Path]) -> None:
    index = index_for("humaneval")
    assert index is not None
    files = corpus(roots)
    flagged, touching = [], []
    for path, data in files:
        text = data.decode("utf-8", "replace")
        overlap = index.overlaps(text)
        if overlap:
            touching.append((path, text, overlap))
            if index.matches(text):
                flagged.append(path)
    rule = f">= {index.min_matches} shared {index.ngram}-grams"
    print(f"files: {len(files)}; flagged ({rule}): {len(flagged)}; sharing any n-gram: {len(touching)}")
    for path, text, overlap in touching:
        mark = "FLAGGED" if path in flagged else "below threshold"
        detail = "; ".join(f"{o.name} {o.ngrams} n-grams, records {list(o.records)}" for o in overlap)
        print(f"- {path} [{mark}] {detail}")
        for run in _shared_runs(index, text)[:3]:
            print(f"    {run[:240]}")


def _reformat(text: str) -> str:
    return text.replace("    ", "\t").replace("'", '"').replace("\n", "\r\n")


def recall() -> None:
    humaneval = load_set(SetSpec("humaneval"))
    index = index_for("humaneval")
    assert index is not None
    hosts = [data.decode("utf-8", "replace") for _, data in corpus([STDLIB / "json", STDLIB / "email"])]
    rng = random.Random(11)
    variants = {"prompt+solution": 0, "reformatted": 0, "prompt alone": 0, "solution alone": 0}
    missed: dict[str, list[int]] = {name: [] for name in variants}
    for number, (prompt, solution, *_rest) in enumerate(humaneval.records):
        host = rng.choice(hosts).splitlines(keepends=True)
        cut = rng.randrange(len(host) + 1)
        head, tail = "".join(host[:cut]), "".join(host[cut:])
        for name, planted in (
            ("prompt+solution", prompt + solution),
            ("reformatted", _reformat(prompt + solution)),
            ("prompt alone", prompt),
            ("solution alone", solution),
        ):
            if index.matches(head + "\n" + planted + "\n" + tail) == ("humaneval",):
                variants[name] += 1
            else:
                missed[name].append(number)
    total = len(humaneval.records)
    for name, found in variants.items():
        print(f"{name}: {found}/{total} = {found / total:.3f}; missed: {missed[name][:20]}")
    words = np.array([len(tokens(solution)) for _, solution, *_ in humaneval.records])
    short = int(np.count_nonzero(words < index.ngram + index.min_matches - 1))
    print(f"solutions shorter than {index.ngram + index.min_matches - 1} words (cannot flag alone): {short}")


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True)
    speed_parser = sub.add_parser("speed")
    speed_parser.add_argument("--repeats", type=int, default=5)
    fp = sub.add_parser("false-positives")
    fp.add_argument("--root", type=Path, action="append")
    sub.add_parser("recall")
    args = parser.parse_args()
    if args.command == "speed":
        speed(args.repeats)
    elif args.command == "false-positives":
        false_positives(args.root or [STDLIB])
    else:
        recall()


if __name__ == "__main__":
    main()
