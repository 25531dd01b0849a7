"""Recall and false-positive rate of the secret detector on a labelled set.

Two sets:
- `rules` (default): bench/secrets_cases.py, generated from the rule table's own templates.
- `independent`: tests/core/data/secrets/independent.jsonl, written by bench/secrets_independent.py
  from public token-format facts, never from our rules. Only this one can show that a rule matches
  real tokens; its report shows the dev split only (and lists every dev miss), so rules can be fixed
  without looking at the held-out types; `--holdout` adds the held-out split's figures.

A positive is caught when its `secret` no longer appears in the redacted text; a negative is a
false positive when the redacted text differs from the input at all.

    python bench/secrets_recall.py [--set independent [--holdout [--all-misses]]] [--old] [--show-fp]
    # --old: the detector before issue 10 (core/secrets.py at commit a92d1ee)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baseline_detector import BASELINE_COMMIT as OLD_COMMIT  # noqa: E402
from bench.baseline_detector import Redact, detector_at  # noqa: E402
from codelupe_dagster.core.secrets import redact_secrets  # noqa: E402

INDEPENDENT = ROOT / "tests" / "core" / "data" / "secrets" / "independent.jsonl"


@dataclass(frozen=True)
class Case:
    """One labelled case; `rule` is the type (positives) or the negative category."""

    rule: str
    syntax: str
    text: str
    secret: str
    positive: bool
    standalone: bool
    holdout: bool
    source: str = ""


def load_independent(path: Path = INDEPENDENT) -> list[Case]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        cases.append(
            Case(
                row["type"],
                row["syntax"],
                row["text"],
                row["secret"],
                row["positive"],
                row["standalone"],
                row["holdout"],
                row["source"],
            )
        )
    return cases


def caught(redact: Redact, case: Case) -> bool:
    return case.secret not in redact(case.text)[0]


def changed(redact: Redact, case: Case) -> bool:
    return redact(case.text)[0] != case.text


def _rate(hits: Iterable[bool]) -> tuple[float, int]:
    values = list(hits)
    return (sum(values) / len(values) if values else float("nan")), len(values)


def summary(redact: Redact, cases: list[Case], label: str) -> dict[str, float]:
    """One line per split: recall overall, in code, standalone, FP rate."""
    pos = [c for c in cases if c.positive]
    neg = [c for c in cases if not c.positive]
    recall, n_pos = _rate(caught(redact, c) for c in pos)
    in_code, n_code = _rate(caught(redact, c) for c in pos if not c.standalone)
    standalone, n_alone = _rate(caught(redact, c) for c in pos if c.standalone)
    fp, n_neg = _rate(changed(redact, c) for c in neg)
    types = len({c.rule for c in pos})
    print(
        f"{label:8s} types={types:3d} recall={recall:.3f} (n={n_pos})  in code={in_code:.3f} (n={n_code})  "
        f"standalone={standalone:.3f} (n={n_alone})  FP={fp:.3f} (n={n_neg})"
    )
    return {"recall": recall, "in_code": in_code, "standalone": standalone, "fp": fp}


def report(redact: Redact, cases: list[Case]) -> dict[str, float]:
    """The rule-table set's report (recall/FP per split, types below 100%, FP by family)."""
    results = {}
    for label, subset in (("all", None), ("dev", False), ("holdout", True)):
        part = [c for c in cases if subset is None or c.holdout == subset]
        for key, value in summary(redact, part, label).items():
            results[f"{label}_{key}"] = value
    per_type: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        if case.positive:
            per_type[case.rule].append(caught(redact, case))
    weak = sorted((sum(h) / len(h), rule) for rule, h in per_type.items() if sum(h) < len(h))
    print(f"types at 100%: {len(per_type) - len(weak)}/{len(per_type)}; below:")
    for rate, rule in weak:
        print(f"  {rule:32s} {rate:.2f}")
    by_family: dict[str, list[bool]] = defaultdict(list)
    for case in cases:
        if not case.positive:
            by_family[case.rule].append(changed(redact, case))
    print(
        "FP by negative family: " + ", ".join(f"{k}={sum(v)}/{len(v)}" for k, v in sorted(by_family.items()))
    )
    return results


def _excerpt(case: Case, width: int = 120) -> str:
    """The text around the secret (or the start of a negative), on one line."""
    at = case.text.find(case.secret) if case.secret else 0
    start = max(0, at - 40)
    return repr(case.text[start : start + width])


def report_independent(
    redact: Redact, cases: list[Case], holdout: bool = False, show_holdout_misses: bool = False
) -> dict[str, float]:
    """Recall/FP per split, per-syntax recall, per-type misses and FPs. Only the dev split unless
    `holdout`: a figure printed on every run is a figure people tune against, and the holdout
    split is only worth anything while nobody does."""
    results = {}
    if not holdout:
        cases = [c for c in cases if not c.holdout]
    splits = (("all", None), ("dev", False), ("holdout", True)) if holdout else (("dev", False),)
    for label, subset in splits:
        part = [c for c in cases if subset is None or c.holdout == subset]
        for key, value in summary(redact, part, label).items():
            results[f"{label}_{key}"] = value
    for label, subset in splits[-2:] if holdout else splits:
        per_syntax: dict[str, list[bool]] = defaultdict(list)
        for case in cases:
            if case.positive and case.holdout == subset:
                per_syntax[case.syntax].append(caught(redact, case))
        cells = [f"{s}={sum(h) / len(h):.2f}/{len(h)}" for s, h in sorted(per_syntax.items())]
        print(f"{label} recall by syntax: " + ", ".join(cells))
    for label, subset in splits[-2:] if holdout else splits:
        misses: dict[str, list[Case]] = defaultdict(list)
        totals: dict[str, int] = defaultdict(int)
        fps: dict[str, list[Case]] = defaultdict(list)
        for case in cases:
            if case.holdout != subset:
                continue
            if case.positive:
                totals[case.rule] += 1
                if not caught(redact, case):
                    misses[case.rule].append(case)
            elif changed(redact, case):
                fps[case.rule].append(case)
        print(
            f"\n{label}: {len(misses)} types with misses, {sum(len(v) for v in fps.values())} false positives"
        )
        if subset and not show_holdout_misses:
            print("  (holdout details hidden; --all-misses shows them)")
            continue
        for rule in sorted(misses):
            print(f"  MISS {rule} {len(misses[rule])}/{totals[rule]}  [{misses[rule][0].source}]")
            for case in misses[rule]:
                print(f"       {case.syntax:16s}{' standalone' if case.standalone else ''} {_excerpt(case)}")
        for rule in sorted(fps):
            for case in fps[rule]:
                after = redact(case.text)[0]
                print(f"  FP   {rule} {case.syntax:12s} {_excerpt(case)} -> {after[:100]!r}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=["rules", "independent"], default="rules")
    parser.add_argument(
        "--old", action="store_true", help=f"measure the detector at {OLD_COMMIT} (before issue 10)"
    )
    parser.add_argument("--show-fp", action="store_true", help="rules set: print every FP and miss")
    parser.add_argument(
        "--holdout", action="store_true", help="independent set: also report the holdout split"
    )
    parser.add_argument(
        "--all-misses", action="store_true", help="independent set: with --holdout, also list holdout misses"
    )
    args = parser.parse_args()
    redact: Redact = detector_at(OLD_COMMIT) if args.old else redact_secrets
    if args.set == "independent":
        report_independent(redact, load_independent(), args.holdout, args.holdout and args.all_misses)
        return
    from bench.secrets_cases import labelled_set

    cases = [
        Case(c.rule, c.syntax, c.text, c.secret, c.positive, c.standalone, c.holdout) for c in labelled_set()
    ]
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
