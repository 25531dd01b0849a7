"""Everything that leaves the scorer goes through here: credentials first, then personal data.

Secrets go first so that a credential that contains an address-like part (a URL with userinfo,
`user:token@host`) is replaced whole by its secret placeholder before the PII pass sees it.

`redact_text` is for file contents; `redact_field` is for short values that travel next to them
(file paths, repository descriptions and homepages): a token or an address in a file NAME reaches
the index, the spool and the export just as one in the file does. `redact_document` applies both to a
code document read back from the index, for the exits that read it (export, training data): documents
indexed before a detector existed carry only the redaction of their day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


# The text fields of a code document that carry what its file held or was named.
DOCUMENT_CONTENT_FIELD = "content"
DOCUMENT_NAME_FIELDS = ("path", "filename")


@dataclass
class RedactionTally:
    """What a stream of documents had redacted on its way out: per kind, and documents changed."""

    secrets: dict[str, int] = field(default_factory=dict)
    pii: dict[str, int] = field(default_factory=dict)
    documents: int = 0

    def add(self, parts: list[Redacted]) -> None:
        if any(part.changed for part in parts):
            self.documents += 1
            self.secrets = merge_counts(self.secrets, *(part.secrets for part in parts))
            self.pii = merge_counts(self.pii, *(part.pii for part in parts))


def redact_document(
    doc: Mapping[str, Any], pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS, tally: RedactionTally | None = None
) -> dict[str, Any]:
    """A copy of `doc` with its content and its path and file name redacted (fields it lacks are left
    out); what was replaced is added to `tally`. Idempotent: a placeholder is never a match, so a
    document the scorer already redacted comes back equal and counts nothing."""
    out = dict(doc)
    parts: list[Redacted] = []
    content = doc.get(DOCUMENT_CONTENT_FIELD)
    if isinstance(content, str):
        redacted = redact_text(content, pii_kinds)
        out[DOCUMENT_CONTENT_FIELD] = redacted.text
        parts.append(redacted)
    for name in DOCUMENT_NAME_FIELDS:
        value = doc.get(name)
        if isinstance(value, str):
            redacted = redact_field(value, pii_kinds)
            out[name] = redacted.text
            parts.append(redacted)
    if tally is not None:
        tally.add(parts)
    return out
