"""Everything that leaves the scorer goes through here: credentials first, then personal data.

Secrets go first so that a credential that contains an address-like part (a URL with userinfo,
`user:token@host`) is replaced whole by its secret placeholder before the PII pass sees it.

`redact_text` is for file contents; `redact_field` is for short values that travel next to them
(file paths, repository descriptions and homepages): a token or an address in a file NAME reaches
the index, the spool and the export just as one in the file does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind, redact_pii
from codelupe_dagster.core.secrets import redact_secrets


@dataclass(frozen=True)
class Redacted:
    """A redacted text and what was replaced in it, counted per kind."""

    text: str
    secrets: dict[str, int] = field(default_factory=dict)
    pii: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.secrets or self.pii)


def redact_text(text: str, pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS) -> Redacted:
    """Secrets, then the PII of `pii_kinds`, replaced by typed placeholders."""
    text, secrets = redact_secrets(text)
    text, pii = redact_pii(text, pii_kinds)
    return Redacted(text, dict(secrets), pii)


def redact_field(value: str | None, pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS) -> Redacted:
    """The same redaction for a short value (a path, a description, a homepage); None reads as ''."""
    return redact_text(value or "", pii_kinds)


def merge_counts(total: dict[str, int], *parts: dict[str, int]) -> dict[str, int]:
    """`total` with each part's counts added (a new dict; the inputs are left alone)."""
    merged = dict(total)
    for part in parts:
        for kind, count in part.items():
            merged[kind] = merged.get(kind, 0) + count
    return merged
