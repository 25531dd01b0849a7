"""The per-file hot path before and after issue 12's speed work, function by function, in one process.

    .venv/bin/python bench/hotpath_speed.py [--repeats 5] [--python-files 2000] [--go-files 1000]

The reference is the frozen copy of the code at commit 4d5b659 (`tests/support/hotpath_reference.py`; for
the content filters' statistics, the copy at the branch point of their compiled version,
`tests/support/content_stats_reference.py`, which names the same 4d5b659 copies);
the corpus is CPython's standard library and Go's tree, found at run time. Every function runs over the
whole corpus as `process_file` calls it (on normalised text; `license_header` on the text as read).
Reference and new run file by file, taking turns at going first, and each call is timed in CPU time of
the thread (`time.thread_time`), so that a busy machine (the 2-core one this was written on runs other
jobs) slows both alike; each repeat sums their times, and the table shows the median of the repeats and
the ratio reference / new.
The answers are compared too: a mismatch is printed and makes the run fail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codelupe_dagster.backends.eval_sets import load_sets
from codelupe_dagster.backends.search import code_tokens
from codelupe_dagster.core import dedup, filters, license_detection, minhash
from codelupe_dagster.core.decontamination import DecontaminationIndex
from tests.support import content_stats_reference as content_ref
from tests.support import hotpath_reference as ref
from tests.support import subwords_reference as subwords_ref

Pair = tuple[Callable[[str], object], Callable[[str], object]]


def _pairs() -> dict[str, tuple[Pair, bool]]:
    """name -> ((reference, new), reads the normalised text)."""
    sets = load_sets("humaneval")
    old_index, new_index = ref.ReferenceDecontaminationIndex(sets), DecontaminationIndex(sets)
    return {
        "decontamination.contaminated": ((old_index.contaminated, new_index.contaminated), True),
        "minhash.shingle_hashes": (
            (lambda t: ref.shingle_hashes(t).tolist(), lambda t: minhash.shingle_hashes(t).tolist()),
            True,
        ),
        "minhash.signature+band_keys": (
            (lambda t: ref.band_keys(ref.signature(t)), lambda t: minhash.band_keys(minhash.signature(t))),
            True,
        ),
        "dedup.normalize_content": ((ref.normalize_content, dedup.normalize_content), False),
        "license_detection.license_header": ((ref.license_header, license_detection.license_header), False),
        # The same lines; their order is now first occurrence (it was the set order of each process).
        "code_tokens.camel_subwords": (
            (
                lambda t: set(subwords_ref.camel_subwords(t).split("\n")),
                lambda t: set(code_tokens.camel_subwords(t).split("\n")),
            ),
            True,
        ),
        # Python and Go share the default thresholds, so the language passed does not change the answer.
        "filters.check_content_stats": (
            (
                lambda t: _stats_answer(content_ref.check_content_stats("x", "python", t)),
                lambda t: _stats_answer(filters.check_content_stats("x", "python", t)),
            ),
            False,
        ),
        "filters.TextStats.of": (
            (lambda t: astuple(content_ref.TextStats.of(t)), lambda t: astuple(filters.TextStats.of(t))),
            True,
        ),
    }


def _stats_answer(answer: tuple[str | None, object]) -> tuple[str | None, tuple[object, ...]]:
    return answer[0], astuple(answer[1])


def _round(pair: Pair, texts: list[str]) -> tuple[float, float, int]:
    """CPU seconds of the reference and the new function over the texts, and how often they disagree.
    Which of the two runs first alternates from file to file (the second finds the text in cache)."""
    totals = [0.0, 0.0]
    mismatches = 0
    clock = time.thread_time
    for number, text in enumerate(texts):
        answers = []
        for side in (number % 2, 1 - number % 2):
            started = clock()
            answers.append(pair[side](text))
            totals[side] += clock() - started
        mismatches += answers[0] != answers[1]
    return totals[0], totals[1], mismatches


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--python-files", type=int, default=2000)
    parser.add_argument("--go-files", type=int, default=1000)
    args = parser.parse_args()
    corpus = ref.real_corpus(args.python_files, args.go_files)
    raw = [text for _, text in corpus]
    normalised = [ref.normalize_content(text) for text in raw]
    print(f"corpus: {len(raw)} files, {sum(map(len, raw)) / 1e6:.1f} M characters; {args.repeats} repeats")
    print(f"{'function':36s} {'reference s':>12s} {'new s':>8s} {'ratio':>7s}")
    failed = False
    for name, (pair, on_normalised) in _pairs().items():
        texts = normalised if on_normalised else raw
        rounds = [_round(pair, texts) for _ in range(args.repeats)]
        old = statistics.median(r[0] for r in rounds)
        new = statistics.median(r[1] for r in rounds)
        mismatches = max(r[2] for r in rounds)
        note = f"  MISMATCHES: {mismatches}" if mismatches else ""
        failed = failed or bool(mismatches)
        print(f"{name:36s} {old:12.3f} {new:8.3f} {old / new:6.2f}x{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
