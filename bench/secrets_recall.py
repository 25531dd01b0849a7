"""Recall and false-positive rate of the secret detector on the labelled set
(bench/secrets_cases.py): overall, standalone (self-identifying formats with no telling name),
per type, and on the held-out quarter apart.

    python bench/secrets_recall.py [--old]   # --old: today's detector from git main
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.secrets_cases import Case, labelled_set
from codelupe_dagster.core.secrets import redact_secrets

Redact = Callable[[str], tuple[str, dict[str, int]]]


def caught(redact: Redact, case: Case) -> bool:
    return case.secret not in redact(case.text)[0]


def changed(redact: Redact, case: Case) -> bool:
    return redact(case.text)[0] != case.text


def _rate(hits: Iterable[bool]) -> tuple[float, int]:
    values = list(hits)
    return (sum(values) / len(values) if values else float("nan")), len(values)


def report(redact: Redact, cases: list[Case]) -> dict[str, float]:
    positives = [c for c in cases if c.positive]
    negatives = [c for c in cases if not c.positive]
    per_type: dict[str, list[bool]] = defaultdict(list)
    for case in positives:
        per_type[case.rule].append(caught(redact, case))
    results = {}
    for label, subset in (("all", None), ("dev", False), ("holdout", True)):
        pos = [c for c in positives if subset is None or c.holdout == subset]
        neg = [c for c in negatives if subset is None or c.holdout == subset]
        recall, n_pos = _rate(caught(redact, c) for c in pos)
        standalone, n_alone = _rate(caught(redact, c) for c in pos if c.standalone)
        in_code, n_code = _rate(caught(redact, c) for c in pos if not c.standalone)
        fp, n_neg = _rate(changed(redact, c) for c in neg)
        types = len({c.rule for c in pos})
        print(
            f"{label:8s} types={types:3d} recall={recall:.3f} (n={n_pos})  "
            f"in code={in_code:.3f} (n={n_code})  standalone={standalone:.3f} (n={n_alone})  "
            f"FP={fp:.3f} (n={n_neg})"
        )
        results[f"{label}_recall"] = recall
        results[f"{label}_fp"] = fp
    weak = sorted((sum(h) / len(h), rule) for rule, h in per_type.items() if sum(h) < len(h))
    print(f"types at 100%: {len(per_type) - len(weak)}/{len(per_type)}; below:")
    for rate, rule in weak:
        print(f"  {rule:32s} {rate:.2f}")
    by_family: dict[str, list[bool]] = defaultdict(list)
    for case in negatives:
        by_family[case.rule].append(changed(redact, case))
    print(
        "FP by negative family: " + ", ".join(f"{k}={sum(v)}/{len(v)}" for k, v in sorted(by_family.items()))
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", action="store_true", help="measure today's detector from git main")
    parser.add_argument("--show-fp", action="store_true")
    args = parser.parse_args()
    redact: Redact = redact_secrets
    if args.old:
        from bench.secrets import old_detector

        redact = old_detector()
    cases = labelled_set()
    report(redact, cases)
    if args.show_fp:
        for case in cases:
            if not case.positive and changed(redact, case):
                print(
                    "FP",
                    case.rule,
                    case.syntax,
                    repr(case.text[:120]),
                    "->",
                    repr(redact(case.text)[0][:120]),
                )
            if case.positive and not caught(redact, case):
                print("MISS", case.rule, case.syntax, repr(case.text[:140]))


if __name__ == "__main__":
    main()
