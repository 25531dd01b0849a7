"""Field conversions every forge's mapping to `RepoRecord` shares: timestamps and language names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Forges' display names → the lowercase names used across the indexes (core/language.py).
_LANGUAGE_NAMES = {
    "c++": "cpp",
    "c#": "csharp",
    "f#": "fsharp",
    "vim script": "vim",
    "jupyter notebook": "jupyter",
}


def normalize_language(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.strip().lower()
    return _LANGUAGE_NAMES.get(lowered, lowered.replace(" ", "-"))


def normalize_timestamp(value: str | None) -> str | None:
    """`2026-11-20T10:00:00Z` (GitHub) or `…:00.123Z` (GitLab) → `2026-11-20T10:00:00+00:00`.

    Sub-seconds are dropped: the index compares these as text, and one forge must not sort after
    another just for writing milliseconds.
    """
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0).isoformat()


def safe_timestamp(value: Any) -> str | None:
    """`normalize_timestamp`, or None for anything that is not a readable timestamp."""
    try:
        return normalize_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        return None


def later(a: str | None, b: str | None) -> str | None:
    """The later of two normalized timestamps (None when both are None)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b
