"""Repository priority: which repositories are worth cloning first.

The queue is popped highest-priority first, and near-duplicate dedup is first-writer-wins (DESIGN §6), so
this score decides both what gets processed early and which copy of shared code is kept. It is a sum of
independent, bounded terms so each weight can be reasoned about alone:

- stars and forks, log-scaled: 10 → 100 stars is worth as much as 100 → 1,000; a viral repo must not
  drown every other signal.
- recency: exponential decay with a half-life on ``pushed_at`` — maintained code is preferred over
  abandoned code, but old classics keep half their bonus per half-life instead of dropping to zero.
- license: permissive licenses make the corpus usable for training; any detected license beats none.
- size: a sweet spot — tiny repos carry little code, huge ones cost clone time and tend to be vendored
  assets or data; outside the band the bonus fades with the log-distance from it.
- archived and fork penalties: forks mostly duplicate their parent; archived repos are frozen.
- language: an optional bonus for preferred languages (none by default).

Pure: no Dagster, no clock — ``now`` is passed in so tests and re-runs are deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from codelupe_dagster.core.licenses import PERMISSIVE_LICENSES, UNKNOWN_LICENSES
from codelupe_dagster.core.models import RepoRecord

# Permissive licences make the corpus usable for training; the one list is in core.licenses.
_UNKNOWN_LICENSES = UNKNOWN_LICENSES


@dataclass(frozen=True)
class PriorityWeights:
    """Every weight and threshold of the score; override any subset with ``with_overrides``."""

    stars: float = 1.0  # per unit of ln(1 + stars): 1,000 stars ≈ 6.9
    forks: float = 0.5  # per unit of ln(1 + forks); forks correlate with stars, so they count half
    recency: float = 3.0  # full bonus for a push today, halved every half-life
    recency_half_life_days: float = 180.0
    permissive_license: float = 2.0
    other_license: float = 0.5  # copyleft or other known licenses: usable, with conditions
    size: float = 1.0  # full bonus inside the sweet spot
    size_min_kb: int = 50  # below this a repo rarely holds enough code to matter
    size_max_kb: int = 100_000  # above this clones are slow and content is often data or vendored
    archived_penalty: float = 2.0
    fork_penalty: float = 3.0
    language_bonus: float = 0.0
    preferred_languages: tuple[str, ...] = ()

    def with_overrides(self, overrides: dict[str, Any]) -> PriorityWeights:
        """A copy with some weights replaced; unknown names are an error, not a silent no-op."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown priority weight(s) {unknown}; known: {sorted(known)}")
        values = dict(overrides)
        if "preferred_languages" in values:
            values["preferred_languages"] = tuple(values["preferred_languages"])
        return replace(self, **values)


DEFAULT_WEIGHTS = PriorityWeights()


def parse_timestamp(value: str | None) -> datetime | None:
    """ISO-8601 (GitHub's ``2024-05-01T12:00:00Z`` included) to an aware UTC datetime; bad input → None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def recency_factor(pushed_at: str | None, now: datetime, half_life_days: float) -> float:
    """1.0 for a push now, 0.5 one half-life ago; 0 when unknown; future dates (clock skew) count as now."""
    pushed = parse_timestamp(pushed_at)
    if pushed is None or half_life_days <= 0:
        return 0.0
    age_days = max(0.0, (now - pushed).total_seconds() / 86_400)
    return float(0.5 ** (age_days / half_life_days))  # float ** float is typed Any (it may be complex)


def size_factor(size_kb: int, min_kb: int, max_kb: int) -> float:
    """1.0 inside [min_kb, max_kb]; outside, loses 0.5 per factor of 10 away from the band; 0 if unknown."""
    if size_kb <= 0:
        return 0.0
    if size_kb < min_kb:
        distance = math.log10(min_kb / size_kb)
    elif size_kb > max_kb:
        distance = math.log10(size_kb / max_kb)
    else:
        return 1.0
    return max(0.0, 1.0 - 0.5 * distance)


def license_factor(license_id: str | None, weights: PriorityWeights) -> float:
    key = (license_id or "").strip().lower()
    if key in _UNKNOWN_LICENSES:
        return 0.0
    return weights.permissive_license if key in PERMISSIVE_LICENSES else weights.other_license


def priority_components(
    record: RepoRecord, now: datetime, weights: PriorityWeights = DEFAULT_WEIGHTS
) -> dict[str, float]:
    """Each term of the score, named, so the queue's top-10 table can say why a repo ranks where it does."""
    preferred = {lang.lower() for lang in weights.preferred_languages}
    return {
        "stars": weights.stars * math.log1p(max(0, record.stars)),
        "forks": weights.forks * math.log1p(max(0, record.forks)),
        "recency": weights.recency * recency_factor(record.pushed_at, now, weights.recency_half_life_days),
        "license": license_factor(record.license, weights),
        "size": weights.size * size_factor(record.size_kb, weights.size_min_kb, weights.size_max_kb),
        "language": weights.language_bonus if (record.language or "").lower() in preferred else 0.0,
        "archived": -weights.archived_penalty if record.archived else 0.0,
        "fork": -weights.fork_penalty if record.fork else 0.0,
    }


def repo_priority(record: RepoRecord, now: datetime, weights: PriorityWeights = DEFAULT_WEIGHTS) -> float:
    """The queue score (higher is popped first), rounded so equal inputs give byte-equal ZSET scores."""
    return round(sum(priority_components(record, now, weights).values()), 6)
