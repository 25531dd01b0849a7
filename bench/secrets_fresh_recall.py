"""Recall and false-positive rate of the secret detector on the fresh set (bench/secrets_fresh.py).

A positive is caught when its `secret` no longer appears in the redacted text; a negative is a
false positive when the redacted text differs from the input at all. The detector is called only
through `redact_secrets(text) -> (text, counts)`.

    python bench/secrets_fresh_recall.py [--old] [--data PATH] [--types]
    # --old: the detector before issue 10 (core/secrets.py at commit a92d1ee)
    # --types: print the recall of every type, not only the imperfect ones
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baseline_detector import BASELINE_COMMIT as OLD_COMMIT  # noqa: E402
from bench.baseline_detector import Redact, detector_at  # noqa: E402

FRESH = ROOT / "tests" / "core" / "data" / "secrets" / "fresh.jsonl"


def current_detector() -> Redact:
    from codelupe_dagster.core.secrets import redact_secrets

    return redact_secrets


def load(path: Path = FRESH) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Tally:
    hit: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.hit += ok
        self.total += 1

    @property
    def rate(self) -> float:
        return self.hit / self.total if self.total else float("nan")

    def __str__(self) -> str:
        return f"{self.rate:.4f} ({self.hit}/{self.total})"


@dataclass
class Report:
    """Everything the thresholds and the printed report need."""

    overall: Tally = field(default_factory=Tally)
    in_code: Tally = field(default_factory=Tally)
    standalone: Tally = field(default_factory=Tally)
    false_positives: Tally = field(default_factory=Tally)
    per_type: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    per_syntax: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    fp_per_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    misses: list[dict[str, object]] = field(default_factory=list)
    fps: list[dict[str, object]] = field(default_factory=list)

    @property
    def types(self) -> int:
        return len(self.per_type)

    @property
    def negatives(self) -> int:
        return self.false_positives.total


def measure(rows: list[dict[str, object]], redact: Redact) -> Report:
    report = Report()
    for row in rows:
        text = str(row["text"])
        out, _counts = redact(text)
        if row["positive"]:
            caught = str(row["secret"]) not in out
            report.overall.add(caught)
            report.per_type[str(row["type"])].add(caught)
            report.per_syntax[str(row["syntax"])].add(caught)
            if row["standalone"]:
                if row["distinctive"]:
                    report.standalone.add(caught)
            else:
                report.in_code.add(caught)
            if not caught:
                report.misses.append(row)
        else:
            flagged = out != text
            report.false_positives.add(flagged)
            report.fp_per_kind[str(row["type"])].add(flagged)
            if flagged:
                report.fps.append(row)
    return report


def excerpt(row: dict[str, object], width: int = 120) -> str:
    text = str(row["text"])
    secret = str(row.get("secret") or "")
    at = text.find(secret) if secret else 0
    start = max(0, at - 40)
    return text[start : start + width].replace("\n", "\\n")


def print_report(report: Report, all_types: bool) -> None:
    print(f"recall overall              {report.overall}")
    print(f"recall in code              {report.in_code}")
    print(f"recall standalone (distinct) {report.standalone}")
    print(f"false-positive rate         {report.false_positives}")
    print(f"types with a case           {report.types}")
    print(f"types with recall >= 0.95   {sum(t.rate >= 0.95 for t in report.per_type.values())}")
    print("\nper syntax (positives):")
    for syntax, tally in sorted(report.per_syntax.items()):
        print(f"  {syntax:16} {tally}")
    print("\nFP per negative kind:")
    for kind, tally in sorted(report.fp_per_kind.items()):
        print(f"  {kind:26} {tally}")
    print("\nper type" + ("" if all_types else " (recall < 1 only)") + ":")
    for kind, tally in sorted(report.per_type.items()):
        if all_types or tally.hit < tally.total:
            print(f"  {kind:46} {tally}")
    print(f"\nmisses ({len(report.misses)}):")
    for row in report.misses:
        tag = "standalone" if row["standalone"] else "code"
        print(f"  {row['type']:40} {row['syntax']:12} {tag:10} {excerpt(row)}")
    print(f"\nfalse positives ({len(report.fps)}):")
    for row in report.fps:
        print(f"  {row['type']:26} {row['syntax']:12} {excerpt(row)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", action="store_true", help=f"measure core/secrets.py at {OLD_COMMIT}")
    parser.add_argument("--data", type=Path, default=FRESH)
    parser.add_argument("--types", action="store_true", help="print every type's recall")
    args = parser.parse_args(argv)
    redact = detector_at(OLD_COMMIT) if args.old else current_detector()
    print(f"detector: {'core/secrets.py@' + OLD_COMMIT if args.old else 'current'}; set: {args.data}")
    print_report(measure(load(args.data), redact), args.types)


if __name__ == "__main__":
    main()
