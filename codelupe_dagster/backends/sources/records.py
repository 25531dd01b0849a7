"""Field conversions every forge's mapping to `RepoRecord` shares: timestamps, language names, and the
redaction of the free-text fields."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import merge_counts, redact_field

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


@dataclass(frozen=True)
class RedactedRecord:
    """A record with its free text redacted, and what was replaced in it, per kind."""

    record: RepoRecord
    secrets: dict[str, int] = field(default_factory=dict)
    pii: dict[str, int] = field(default_factory=dict)


def redact_record(record: RepoRecord, pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS) -> RedactedRecord:
    """The record with secrets and the PII of `pii_kinds` replaced in the text its owner typed freely
    (the description, and the topics: GitLab's are free text). People paste tokens and write their
    address into descriptions; the repo index is searched and its records travel with every batch.

    Names, URLs and the rest are the forge's identifiers and stay as they are: the clone URL must
    still clone. Idempotent: a redacted record comes back unchanged, with nothing counted."""
    description = redact_field(record.description, pii_kinds) if record.description else None
    topics = [redact_field(topic, pii_kinds) for topic in record.topics]
    parts = [*([description] if description else []), *topics]
    if not any(part.changed for part in parts):
        return RedactedRecord(record)
    redacted = replace(
        record,
        description=description.text if description else record.description,
        topics=tuple(topic.text for topic in topics),
    )
    return RedactedRecord(
        redacted,
        merge_counts({}, *(part.secrets for part in parts)),
        merge_counts({}, *(part.pii for part in parts)),
    )
