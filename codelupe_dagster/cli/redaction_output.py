"""What the CLI commands that hand out indexed text (`export`, `search`, `migrate`) share about
redaction: the configured PII kinds, and one way of printing what was redacted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NoReturn

from codelupe_dagster import settings
from codelupe_dagster.core.pii import PiiKind, parse_kinds


def fail_on_setting(exc: ValueError) -> NoReturn:
    """A bad setting ends the command with exit 2 and the setting's own message
    (`PII_REDACT: unknown PII kind(s) ['phone'] ...`), before anything is read or written."""
    from pydantic import ValidationError  # here: pydantic's import is a tenth of `codelupe search`

    message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
    raise settings.ConfigurationError(message) from None


def configured_pii_kinds() -> frozenset[PiiKind]:
    """The personal data PII_REDACT asks to redact (parsed as the pipeline resource parses it, without
    importing Dagster: `search` and `export` only read)."""
    try:
        return parse_kinds(settings.env_str("PII_REDACT") or settings.DEFAULTS["PII_REDACT"])
    except ValueError as exc:
        raise settings.ConfigurationError(f"PII_REDACT: {exc}") from None


def redaction_lines(secrets: Mapping[str, int], pii: Mapping[str, int], indent: str = "") -> list[str]:
    """One line per kind replaced, secrets first; none when nothing was."""
    lines = [f"{indent}secrets redacted ({kind}): {n:,}" for kind, n in sorted(secrets.items()) if n]
    lines += [f"{indent}personal data redacted ({kind}): {n:,}" for kind, n in sorted(pii.items()) if n]
    return lines
