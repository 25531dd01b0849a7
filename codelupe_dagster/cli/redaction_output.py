"""What the CLI commands that hand out indexed text (`export`, `search`, `migrate`) share about
redaction: the configured PII kinds, and one way of printing what was redacted."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import NoReturn

import click
from pydantic import ValidationError

from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.resources import pipeline_from_env


def fail_on_setting(exc: ValueError) -> NoReturn:
    """A bad setting ends the command with exit 2 and the setting's own message
    (`PII_REDACT: unknown PII kind(s) ['phone'] ...`), before anything is read or written."""
    message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def configured_pii_kinds() -> frozenset[PiiKind]:
    """The personal data PII_REDACT asks to redact."""
    try:
        return pipeline_from_env().pii_kinds()
    except ValueError as exc:
        fail_on_setting(exc)


def redaction_lines(secrets: Mapping[str, int], pii: Mapping[str, int], indent: str = "") -> list[str]:
    """One line per kind replaced, secrets first; none when nothing was."""
    lines = [f"{indent}secrets redacted ({kind}): {n:,}" for kind, n in sorted(secrets.items()) if n]
    lines += [f"{indent}personal data redacted ({kind}): {n:,}" for kind, n in sorted(pii.items()) if n]
    return lines
