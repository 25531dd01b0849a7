"""Redaction of credentials found in source code before it is indexed or trained on.

Only the secret VALUE is replaced, by a typed placeholder such as `<REDACTED:github_token>`,
so the surrounding code stays readable and the count per type can be reported. Redaction is
idempotent: a placeholder never matches again.

What counts as a secret in a generic assignment (`password = "..."`, `api_key: '...'`):
- the value must be a quoted string literal: `os.environ[...]`, `None`, variables and calls are
  references to a secret, not the secret;
- placeholders are left alone: values with whitespace (prose, help texts), fewer than 4
  characters, template syntax (`${X}`, `{{x}}`, `<x>`, `%s`), and obvious dummies such as
  `changeme`, `password`, `xxxx`, `your_api_key`. A dummy leaks nothing, and keeping it keeps
  tutorials and tests intact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


def placeholder(kind: str) -> str:
    return f"<REDACTED:{kind}>"


@dataclass(frozen=True)
class SecretPattern:
    """One kind of secret: where matches can start, and the regex tried there.

    Regexes are only tried at occurrences of an `anchor` substring (found with str.find), never
    scanned over the whole text: CPython's regex engine costs ~35 ns per character position for
    patterns without a literal prefix, which on clean code was most of this module's time.
    The regex's group `value` is what gets replaced.
    """

    kind: str
    regex: re.Pattern[str]  # matched at an anchor position
    anchors: tuple[str, ...]  # lowercase when ignore_case
    ignore_case: bool = False
    boundary_before: bool = False  # the match must not continue an identifier
    back: int = 0  # the regex starts this many characters before the anchor
    # Classifies a match into a finer kind (generic assignments) or returns None to skip it.
    classify: Callable[[re.Match[str]], str | None] | None = None


_PLACEHOLDER_VALUES = frozenset(
    {
        "changeme", "change_me", "change-me", "password", "passwd", "secret", "token", "apikey",
        "api_key", "example", "test", "testing", "dummy", "placeholder", "none", "null", "nil",
        "undefined", "redacted", "todo", "fixme", "foobar", "foo", "bar", "admin", "root", "user",
        "username", "pass", "default", "empty", "string", "required", "optional", "mysecret",
        "mypassword", "secretkey", "secret_key", "yourpassword", "your_password", "your-password",
    }
)  # fmt: skip
_PLACEHOLDER_SHAPES = re.compile(
    r"^(?:[x*.#_\-]+|(.)\1+|\$.*|\{.*\}|<.*>|%.*|\[.*\]|.*\{\{.*|"
    r"(?:your|my|some|insert|enter|replace)[_\- ].*|"
    r".*(?:example|placeholder|dummy|changeme|xxxx).*)$",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    value = value.strip()
    if len(value) < 4 or any(c.isspace() for c in value):
        return True
    return value.lower() in _PLACEHOLDER_VALUES or _PLACEHOLDER_SHAPES.match(value) is not None


# Key names in assignments whose string value is a credential.
_ASSIGNMENT = re.compile(
    # The match starts at the keyword (regex start positions stay rare), so `DB_PASSWORD` matches
    # from `PASSWORD`; only a short list of suffixes may follow, so `tokenizer = "bert"` does not.
    r"""(?P<key>(?:passw(?:or)?d|pwd|secret|api[_\-]?key|access[_\-]?key|private[_\-]?key|token)
        (?:s|[_\-]?(?:key|value|str|string|hash|b64|base64|secret|plain|raw|\d))?)
        (?P<keyquote>["']?)\s*(?::=|=>|=|:)\s*
        (?P<quote>["'`])(?P<value>[^"'`\n\\]{1,200})(?P=quote)""",
    re.IGNORECASE | re.VERBOSE,
)


def _classify_assignment(match: re.Match[str]) -> str | None:
    key = match.group("key").lower()
    if is_placeholder(match.group("value")):
        return None
    if "pass" in key or "pwd" in key:
        return "password"
    if "token" in key:
        return "token"
    if "api" in key or "access" in key:
        return "api_key"
    return "secret"


def _classify_connection(match: re.Match[str]) -> str | None:
    return None if is_placeholder(match.group("value")) else "connection_string_password"


def _classify_aws_secret(match: re.Match[str]) -> str | None:
    return None if is_placeholder(match.group("value")) else "aws_secret_access_key"


# Specific token shapes first, generic assignments last (they skip placeholders, including the
# ones the specific patterns just wrote).
PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "private_key",
        re.compile(
            # The body may only hold base64, PEM headers (Proc-Type: 4,ENCRYPTED) and the quotes,
            # escapes and `+` of a key embedded in a string literal; code between a BEGIN and
            # an END marker (a PEM parser) does not match and stays.
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<value>[A-Za-z0-9+/=\s\"'\\,:.\-]{16,}?)"
            r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        ),
        ("-----BEGIN ",),
    ),
    SecretPattern(
        "aws_access_key_id",
        # AKIA: long-term access key id, ASIA: temporary (STS). Other 4-letter AWS prefixes name
        # users, roles and groups, which are identifiers, not credentials.
        re.compile(r"(?P<value>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])"),
        ("AKIA", "ASIA"),
        boundary_before=True,
    ),
    SecretPattern(
        "aws_secret_access_key",
        re.compile(
            r"secret_?access_?key[\"']?\s*(?::=|=>|=|:)\s*[\"']?(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
            re.IGNORECASE,
        ),
        ("secret",),
        ignore_case=True,
        classify=_classify_aws_secret,
    ),
    SecretPattern(
        "github_token",
        re.compile(r"(?P<value>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
        ("gh", "github_pat_"),  # "gh": one scan for ghp_/gho_/ghu_/ghs_/ghr_; the regex rejects words
        boundary_before=True,
    ),
    SecretPattern(
        "slack_token",
        re.compile(r"(?P<value>xox[abprs]-[A-Za-z0-9-]{10,250})"),
        ("xox",),
        boundary_before=True,
    ),
    SecretPattern(
        "google_api_key",
        re.compile(r"(?P<value>AIza[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"),
        ("AIza",),
        boundary_before=True,
    ),
    SecretPattern(
        "stripe_key",
        re.compile(r"(?P<value>[sr]k_live_[0-9A-Za-z]{16,247})"),
        ("k_live_",),
        back=1,
        boundary_before=True,
    ),
    SecretPattern(
        "jwt",
        re.compile(r"(?P<value>eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})"),
        ("eyJ",),
        boundary_before=True,
    ),
    SecretPattern(
        "connection_string_password",
        # scheme://user:PASSWORD@host -- user and host stay, they are not secret and help search.
        re.compile(r"://[^\s:/@\"'`]{1,100}:(?P<value>[^\s@/\"'`]{1,200})@[\w.\-\[]"),
        ("://",),
        classify=_classify_connection,
    ),
    SecretPattern(
        "password",
        _ASSIGNMENT,
        ("pass", "pwd", "secret", "api", "access", "private", "token"),
        ignore_case=True,
        classify=_classify_assignment,
    ),
)

_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _anchor_positions(haystack: str, anchors: tuple[str, ...]) -> list[int]:
    positions = []
    for anchor in anchors:
        start = haystack.find(anchor)
        while start != -1:
            positions.append(start)
            start = haystack.find(anchor, start + 1)
    positions.sort()
    return positions


def _redact_one(text: str, haystack: str, pattern: SecretPattern, counts: dict[str, int]) -> str:
    pieces: list[str] = []
    last = 0
    for anchor_position in _anchor_positions(haystack, pattern.anchors):
        position = anchor_position - pattern.back
        if position < last:
            continue
        if pattern.boundary_before and position > 0 and text[position - 1] in _IDENTIFIER_CHARS:
            continue
        match = pattern.regex.match(text, position)
        if match is None:
            continue
        kind = pattern.classify(match) if pattern.classify is not None else pattern.kind
        if kind is None:
            continue
        start, end = match.span("value")
        pieces.append(text[last:start])
        # A private key block keeps its line structure: BEGIN line, placeholder, END line.
        pieces.append(f"\n{placeholder(kind)}\n" if kind == "private_key" else placeholder(kind))
        last = end
        counts[kind] = counts.get(kind, 0) + 1
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def redact_secrets(text: str) -> tuple[str, dict[str, int]]:
    """Text with every detected secret value replaced, and the count per secret type."""
    counts: dict[str, int] = {}
    lowered: str | None = None
    for pattern in PATTERNS:
        if pattern.ignore_case:
            if lowered is None:
                lowered = text.lower()
                if len(lowered) != len(text):
                    # A few non-ASCII characters change length when lowercased; positions in
                    # the lowered text would be off, so fold ASCII only.
                    lowered = "".join(c.lower() if c.isascii() else c for c in text)
            haystack = lowered
        else:
            haystack = text
        redacted = _redact_one(text, haystack, pattern, counts)
        if redacted is not text:
            text = redacted
            lowered = None
    return text, counts
