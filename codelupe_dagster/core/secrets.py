"""Redaction of credentials found in source code before it is indexed or trained on.

The formats come from one table (`secret_rules.RULES`, ~270 credential types) plus the generic
"name = value" forms (`secret_generic`). A keyword prefilter decides which rules run: each rule
names lowercase keywords (usually its prefix), and only rules whose keyword occurs in the text
are tried, so clean code costs one substring search per distinct keyword.

Only the secret's own characters are replaced, by a typed placeholder `<SECRET:kind>`; the
value regexes never include quotes, so a placeholder never spans two string literals and a
file that parsed before still parses. Redaction is idempotent: a placeholder never matches again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codelupe_dagster.core.secret_allowlist import is_fake_token, shannon_entropy
from codelupe_dagster.core.secret_generic import GENERIC_RULES, GenericRule
from codelupe_dagster.core.secret_rules import RULES, SecretRule


def placeholder(kind: str) -> str:
    return f"<SECRET:{kind}>"


@dataclass(frozen=True)
class _Compiled:
    rule: SecretRule
    regex: re.Pattern[str]


_COMPILED = tuple(_Compiled(rule, re.compile(rule.pattern)) for rule in RULES)
_ALL: tuple[_Compiled | GenericRule, ...] = (*_COMPILED, *GENERIC_RULES)


def _keyword_index() -> dict[str, tuple[int, ...]]:
    index: dict[str, list[int]] = {}
    for position, entry in enumerate(_ALL):
        keywords = entry.rule.keywords if isinstance(entry, _Compiled) else entry.keywords
        for keyword in keywords:
            index.setdefault(keyword, []).append(position)
    return {keyword: tuple(positions) for keyword, positions in index.items()}


_BY_KEYWORD = _keyword_index()
_BLOCKS = frozenset({"private_key", "putty_private_key"})


def _ascii_lower(text: str) -> str:
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII characters change length when lowercased
        lowered = "".join(c.lower() if c.isascii() else c for c in text)
    return lowered


def active_rules(text: str) -> list[int]:
    """Positions (in table order) of the rules whose keywords occur in the text."""
    lowered = _ascii_lower(text)
    active: set[int] = set()
    for keyword, positions in _BY_KEYWORD.items():
        if keyword in lowered:
            active.update(positions)
    return sorted(active)


def _accept_token(rule: SecretRule, value: str) -> bool:
    if is_fake_token(value):
        return False
    if rule.min_entropy and shannon_entropy(value) < rule.min_entropy:
        return False
    return rule.checksum is None or rule.checksum(value)


# Around a key block's body: line breaks, real or escaped, and the quotes, `+` and spaces of a
# key split over several string literals. They stay, so the literals around the placeholder
# stay balanced and the block keeps its BEGIN line / body / END line shape.
_BLOCK_EDGE_START = re.compile(r"(?:\\[nr]|[\"'\s+,])*")
_BLOCK_EDGE_END = re.compile(r"(?:\\[nr]|[\"'\s+,])*$")


def _block_body(text: str, start: int, end: int) -> tuple[int, int]:
    leading = _BLOCK_EDGE_START.match(text, start, end)
    body_start = leading.end() if leading else start
    trailing = _BLOCK_EDGE_END.search(text[body_start:end])
    body_end = body_start + trailing.start() if trailing else end
    return (body_start, body_end) if body_start < body_end else (start, end)


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str


def find_secrets(text: str) -> list[Finding]:
    """Non-overlapping secrets in text order; where two rules overlap, the earlier row wins
    (specific formats come before the generic forms)."""
    taken: list[Finding] = []
    for position in active_rules(text):
        entry = _ALL[position]
        regex = entry.regex
        for match in regex.finditer(text):
            if isinstance(entry, _Compiled):
                kind: str | None = entry.rule.id if _accept_token(entry.rule, match.group("value")) else None
            else:
                kind = entry.classify(match)
            if kind is None:
                continue
            start, end = match.span("value")
            if kind in _BLOCKS:
                start, end = _block_body(text, start, end)
            if any(start < other.end and other.start < end for other in taken):
                continue
            taken.append(Finding(start, end, kind))
    return sorted(taken, key=lambda finding: finding.start)


def redact_secrets(text: str) -> tuple[str, dict[str, int]]:
    """Text with every detected secret value replaced, and the count per secret type."""
    findings = find_secrets(text)
    if not findings:
        return text, {}
    counts: dict[str, int] = {}
    pieces: list[str] = []
    last = 0
    for finding in findings:
        pieces.append(text[last : finding.start])
        pieces.append(placeholder(finding.kind))
        last = finding.end
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    pieces.append(text[last:])
    return "".join(pieces), counts
