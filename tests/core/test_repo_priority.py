from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_priority import (
    DEFAULT_WEIGHTS,
    PriorityWeights,
    priority_components,
    recency_factor,
    repo_priority,
    size_factor,
)

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def repo(**fields) -> RepoRecord:
    return RepoRecord(full_name="o/r", clone_url="https://github.com/o/r.git", **fields)


@pytest.mark.parametrize(
    ("pushed_at", "expected"),
    [
        ("2026-11-28T00:00:00Z", 1.0),
        ("2026-05-32T00:00:00Z", 0.0),  # not a date: no bonus rather than a crash
        ("2026-06-01T00:00:00+00:00", 0.5 ** (180 / 180)),
        ("2025-12-03T00:00:00Z", 0.5 ** (360 / 180)),
        ("2027-01-01T00:00:00Z", 1.0),  # clock skew: the future counts as now
        (None, 0.0),
    ],
)
def test_recency_halves_every_half_life(pushed_at, expected):
    assert recency_factor(pushed_at, NOW, 180) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("size_kb", "expected"),
    [(0, 0.0), (50, 1.0), (5_000, 1.0), (100_000, 1.0), (5, 0.5), (1_000_000, 0.5), (100_000_000, 0.0)],
)
def test_size_sweet_spot(size_kb, expected):
    assert size_factor(size_kb, 50, 100_000) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("better", "worse", "why"),
    [
        (repo(stars=1000), repo(stars=10), "more stars"),
        (repo(forks=100), repo(forks=1), "more forks"),
        (repo(pushed_at="2026-11-01T00:00:00Z"), repo(pushed_at="2020-01-01T00:00:00Z"), "recent push"),
        (repo(license="MIT"), repo(license="GPL-3.0"), "permissive beats copyleft"),
        (repo(license="gpl-3.0"), repo(license="other"), "a known license beats an unclassified one"),
        (repo(license="apache-2.0"), repo(license=None), "any license beats none"),
        (repo(size_kb=2_000), repo(size_kb=5_000_000), "inside the size band"),
        (repo(stars=50), repo(stars=50, archived=True), "archived penalty"),
        (repo(stars=50), repo(stars=50, fork=True), "fork penalty"),
    ],
)
def test_ordering(better, worse, why):
    assert repo_priority(better, NOW) > repo_priority(worse, NOW), why


def test_stars_are_log_scaled():
    ten, hundred, thousand = (repo_priority(repo(stars=n), NOW) for n in (9, 99, 999))
    assert hundred - ten == pytest.approx(thousand - hundred, rel=1e-3)
    assert hundred - ten == pytest.approx(math.log(10), rel=1e-3)


def test_components_sum_to_priority():
    record = repo(stars=120, forks=7, license="mit", size_kb=800, pushed_at="2026-10-01T00:00:00Z", fork=True)
    parts = priority_components(record, NOW)
    assert repo_priority(record, NOW) == pytest.approx(sum(parts.values()), abs=1e-6)
    assert parts["fork"] == -DEFAULT_WEIGHTS.fork_penalty


def test_overrides_change_weights_and_reject_unknown_names():
    weights = DEFAULT_WEIGHTS.with_overrides(
        {"fork_penalty": 0, "language_bonus": 5, "preferred_languages": ["Go"]}
    )
    assert isinstance(weights, PriorityWeights)
    assert repo_priority(repo(fork=True), NOW, weights) == repo_priority(repo(), NOW, weights)
    assert repo_priority(repo(language="go"), NOW, weights) == repo_priority(repo(), NOW, weights) + 5
    with pytest.raises(ValueError, match="stras"):
        DEFAULT_WEIGHTS.with_overrides({"stras": 2})


def test_deterministic_for_equal_inputs():
    record = repo(stars=3, pushed_at="2026-01-01T00:00:00Z")
    assert repo_priority(record, NOW) == repo_priority(record, NOW)
