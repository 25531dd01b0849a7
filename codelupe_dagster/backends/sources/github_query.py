"""GitHub search queries: the plan (languages, star floor, `pushed` window) and slicing past the cap.

A search query returns at most 1,000 results (`total_count` says how many exist); so a query whose
total is above the cap is split on its star range, then on its `pushed` date range, until each slice
fits. Pure: no requests here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta

SEARCH_RESULT_CAP = 1000
# Nothing on GitHub was pushed before it opened; the floor of an open `pushed` range when it must be split.
GITHUB_LAUNCH = date(2008, 1, 1)


@dataclass(frozen=True)
class SearchSlice:
    """One search query: a language, a star range and a `pushed` date range (None = open end)."""

    language: str | None
    min_stars: int = 0
    max_stars: int | None = None
    pushed_from: date | None = None
    pushed_to: date | None = None

    @property
    def base_query(self) -> str:
        """The query without its date range: the key of the crawl watermark, stable across runs."""
        parts = []
        if self.language:
            language = f'"{self.language}"' if " " in self.language else self.language
            parts.append(f"language:{language}")
        if self.max_stars is None:
            parts.append(f"stars:>={self.min_stars}")
        elif self.max_stars == self.min_stars:
            parts.append(f"stars:{self.min_stars}")
        else:
            parts.append(f"stars:{self.min_stars}..{self.max_stars}")
        return " ".join(parts)

    def query(self) -> str:
        pushed = _range_qualifier("pushed", self.pushed_from, self.pushed_to)
        return f"{self.base_query} {pushed}" if pushed else self.base_query


def _range_qualifier(name: str, low: date | None, high: date | None) -> str:
    if low and high:
        return f"{name}:{low.isoformat()}" if low == high else f"{name}:{low.isoformat()}..{high.isoformat()}"
    if low:
        return f"{name}:>={low.isoformat()}"
    if high:
        return f"{name}:<={high.isoformat()}"
    return ""


def split_slice(
    piece: SearchSlice, *, max_stars_seen: int | None, today: date
) -> tuple[SearchSlice, SearchSlice] | None:
    """Two slices covering `piece` exactly, or None when it is a single star value on a single day.

    Stars first, at the geometric midpoint: star counts are heavy-tailed, so a linear midpoint would leave
    nearly every repository in the lower half. An open star range is bounded by the most-starred
    repository seen (results are sorted by stars), and the upper half stays open so a repository that
    gains stars mid-crawl is not lost. When the stars are a single value, the date range is halved.
    """
    high = piece.max_stars if piece.max_stars is not None else max_stars_seen
    if high is not None and high > piece.min_stars:
        mid = math.isqrt(max(piece.min_stars, 1) * high)
        mid = min(max(mid, piece.min_stars), high - 1)
        return replace(piece, max_stars=mid), replace(piece, min_stars=mid + 1)
    if piece.max_stars is None and high is not None:
        # every match has exactly min_stars: pin it so that date halves do not reopen the star range
        piece = replace(piece, max_stars=piece.min_stars)
    low_day = piece.pushed_from or GITHUB_LAUNCH
    high_day = piece.pushed_to or today
    if low_day < high_day:
        mid_day = low_day + timedelta(days=(high_day - low_day).days // 2)
        return (
            replace(piece, pushed_from=low_day, pushed_to=mid_day),
            replace(piece, pushed_from=mid_day + timedelta(days=1)),
        )
    return None


@dataclass(frozen=True)
class SearchPlan:
    """What to crawl: one base query per language (none = all languages)."""

    languages: tuple[str, ...] = ()
    min_stars: int = 0
    pushed_since: date | None = None
    per_page: int = 100

    def base_slices(self) -> list[SearchSlice]:
        languages: tuple[str | None, ...] = self.languages or (None,)
        return [
            SearchSlice(lang, min_stars=self.min_stars, pushed_from=self.pushed_since) for lang in languages
        ]
