"""Issue 10's thresholds on the fresh set (bench/secrets_fresh.py), which the detector was never tuned on.

Recall >= 0.95 over >= 150 credential types in code; >= 0.95 when a distinctive token stands alone under
neutral names; false positives <= 2% over >= 400 negatives. The set is regenerated here to show it is
the generator's deterministic output, not a hand-edited file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from codelupe_dagster.core.secrets import redact_secrets

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "core" / "data" / "secrets" / "fresh.jsonl"


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fresh_bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    recall = _bench("secrets_fresh_recall")
    return recall.measure(recall.load(DATA), redact_secrets)


def test_generator_is_deterministic_and_the_committed_set_is_its_output(tmp_path: Path) -> None:
    fresh = _bench("secrets_fresh")
    out = tmp_path / "fresh.jsonl"
    fresh.write(out)
    assert out.read_bytes() == DATA.read_bytes()


def test_set_is_large_enough(report) -> None:  # type: ignore[no-untyped-def]
    assert report.types >= 150
    assert report.negatives >= 400
    assert report.standalone.total >= 150


def test_recall_in_code_is_at_least_95_percent(report) -> None:  # type: ignore[no-untyped-def]
    assert report.overall.rate >= 0.95, report.overall
    assert report.in_code.rate >= 0.95, report.in_code


def test_recall_of_distinctive_tokens_standing_alone_is_at_least_95_percent(report) -> None:  # type: ignore[no-untyped-def]
    assert report.standalone.rate >= 0.95, report.standalone


def test_false_positive_rate_is_at_most_2_percent(report) -> None:  # type: ignore[no-untyped-def]
    assert report.false_positives.rate <= 0.02, report.false_positives
