"""A repository's free text (description, topics) is redacted like file contents: a token pasted into a
GitHub description or an address in a GitLab topic never reaches the repo index."""

from __future__ import annotations

from dataclasses import replace

from codelupe_dagster.backends.sources.github_items import repo_record_from_item
from codelupe_dagster.backends.sources.gitlab import repo_record_from_project
from codelupe_dagster.backends.sources.records import redact_record
from codelupe_dagster.core.pii import PiiKind
from tests.support.github_replay import synthetic_population
from tests.support.gitlab_replay import project
from tests.support.planted import GITHUB_TOKEN

ADDRESS = "alice.smith@corp-mail.com"
DESCRIPTION = f"Deploy bot. CI token {GITHUB_TOKEN}; questions to {ADDRESS} or 93.184.216.34"


def test_a_github_description_is_redacted_and_counted() -> None:
    repo = replace(synthetic_population()[0], description=DESCRIPTION, topics=("cli", "web"))
    record = repo_record_from_item(repo.item())
    redacted = redact_record(record)

    assert redacted.record.description == (
        "Deploy bot. CI token <SECRET:github_pat>; questions to <EMAIL> or <IP_ADDRESS>"
    )
    assert redacted.secrets == {"github_pat": 1} and redacted.pii == {"email": 1, "ip": 1}
    # Identifiers are not free text: the clone URL must still clone, the name still name the repo.
    assert redacted.record == replace(record, description=redacted.record.description)


def test_free_text_gitlab_topics_are_redacted() -> None:
    item = project(7, "ops/deploy", topics=("infra", f"contact {ADDRESS}"), description=DESCRIPTION)
    redacted = redact_record(repo_record_from_project(item))
    assert redacted.record.topics == ("infra", "contact <EMAIL>")
    assert redacted.pii == {"email": 2, "ip": 1} and redacted.secrets == {"github_pat": 1}


def test_the_configured_kinds_apply_and_redaction_is_idempotent() -> None:
    record = repo_record_from_project(project(8, "ops/bot", description=DESCRIPTION))
    emails_only = redact_record(record, frozenset({PiiKind.EMAIL}))
    assert emails_only.pii == {"email": 1} and "93.184.216.34" in (emails_only.record.description or "")
    none = redact_record(record, frozenset())
    assert none.pii == {} and ADDRESS in (none.record.description or "")
    assert GITHUB_TOKEN not in (none.record.description or "")  # secrets always go

    once = redact_record(record)
    twice = redact_record(once.record)
    assert twice.record == once.record and (twice.secrets, twice.pii) == ({}, {})
    # A record with nothing to redact comes back as it was, None description included.
    plain = repo_record_from_project(project(9, "ops/plain"))
    assert redact_record(plain).record is plain
