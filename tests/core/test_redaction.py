"""Secrets then PII, for contents and for short fields such as paths."""

from __future__ import annotations

from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.core.redaction import (
    RedactionTally,
    merge_counts,
    redact_document,
    redact_field,
    redact_text,
)
from codelupe_dagster.core.secrets import redact_secrets

# An AWS access key id shape (not a real key): every version of the secret detector knows it.
TOKEN = "AKIA" + "Z4Q7R2M5T8W3X6Y9"


def test_text_gets_secrets_and_pii_redacted_with_counts_per_kind() -> None:
    text = f'TOKEN = "{TOKEN}"\n# contact: jane@acme.com, server 93.184.216.34\n'
    redacted = redact_text(text)
    assert TOKEN not in redacted.text
    assert "jane@acme.com" not in redacted.text and "93.184.216.34" not in redacted.text
    assert "<EMAIL>" in redacted.text and "<IP_ADDRESS>" in redacted.text
    assert sum(redacted.secrets.values()) == 1
    assert redacted.pii == {"email": 1, "ip": 1}
    assert redacted.changed


def test_secrets_run_first_and_the_secret_module_alone_decides_them() -> None:
    text = f'TOKEN = "{TOKEN}"'
    assert redact_text(text, frozenset()).text == redact_secrets(text)[0]


def test_pii_kinds_are_passed_through() -> None:
    redacted = redact_text("jane@acme.com 93.184.216.34", frozenset({PiiKind.IP_ADDRESS}))
    assert redacted.text == "jane@acme.com <IP_ADDRESS>"
    assert redacted.pii == {"ip": 1} and not redacted.secrets


def test_clean_text_is_unchanged() -> None:
    text = "def add(a, b):\n    return a + b\n"
    redacted = redact_text(text)
    assert redacted.text == text and not redacted.changed


def test_a_token_or_an_email_in_a_path_is_redacted() -> None:
    path = redact_field(f"backups/{TOKEN}/notes.txt")
    assert TOKEN not in path.text and path.text.startswith("backups/")
    assert path.text.endswith("/notes.txt") and sum(path.secrets.values()) == 1
    email_path = redact_field("people/jane.doe@acme.com/profile.md")
    assert email_path.text == "people/<EMAIL>/profile.md" and email_path.pii == {"email": 1}


def test_repo_metadata_fields() -> None:
    assert redact_field(None).text == ""
    assert redact_field("Maintained by ops@acme.com").text == "Maintained by <EMAIL>"
    assert redact_field("http://93.184.216.34/docs").text == "http://<IP_ADDRESS>/docs"
    assert redact_field("https://acme.example.com").text == "https://acme.example.com"


def test_merge_counts() -> None:
    total = {"email": 1}
    assert merge_counts(total, {"email": 2, "ip": 1}, {}) == {"email": 3, "ip": 1}
    assert total == {"email": 1}


def test_a_document_read_back_is_redacted_in_content_path_and_file_name() -> None:
    doc = {
        "id": "1",
        "content": f'KEY = "{TOKEN}"  # jane@acme.com\n',
        "path": f"keys/jane@acme.com/{TOKEN}.py",
        "filename": f"{TOKEN}.py",
        "repo": "acme/x",
    }
    tally = RedactionTally()
    out = redact_document(doc, tally=tally)
    assert TOKEN not in str(out) and "jane@acme.com" not in str(out)
    assert out["repo"] == "acme/x" and doc["content"].startswith('KEY = "AKIA')  # the input is left alone
    assert sum(tally.secrets.values()) == 3 and tally.pii == {"email": 2} and tally.documents == 1

    # Idempotent: placeholders never match, so a redacted document is unchanged and counts nothing.
    again = RedactionTally()
    assert redact_document(out, tally=again) == out
    assert (again.secrets, again.pii, again.documents) == ({}, {}, 0)
    # Only the fields present are touched (training reads content without a path).
    plain = {"id": "2", "content": "x = 1\n"}
    assert redact_document(plain, tally=again) == plain
