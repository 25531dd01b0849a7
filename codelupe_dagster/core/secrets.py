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

import ahocorasick

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
_BLOCKS = frozenset({"private_key", "putty_private_key"})


@dataclass(frozen=True)
class _Where:
    """How one entry of _ALL is run at an anchor."""

    back: int | None
    forward: int


def _where(entry: _Compiled | GenericRule) -> _Where:
    source = entry.rule if isinstance(entry, _Compiled) else entry
    return _Where(source.back, source.forward)


_WHERE = tuple(_where(entry) for entry in _ALL)


def _automaton() -> ahocorasick.Automaton:
    """One Aho-Corasick automaton over every rule's anchors, lowercased: a single pass over the
    text finds every place where some rule could match. Case-sensitive anchors are checked
    against the original text afterwards."""
    anchors: dict[str, list[tuple[int, str, bool]]] = {}
    for position, entry in enumerate(_ALL):
        source = entry.rule if isinstance(entry, _Compiled) else entry
        for anchor in source.keywords:
            anchors.setdefault(anchor.lower(), []).append((position, anchor, source.anchor_case))
    automaton = ahocorasick.Automaton()
    for lowered, targets in anchors.items():
        automaton.add_word(lowered, (len(lowered), tuple(targets)))
    automaton.make_automaton()
    return automaton


_AUTOMATON = _automaton()


def _ascii_lower(text: str) -> str:
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII characters change length when lowercased
        lowered = "".join(c.lower() if c.isascii() else c for c in text)
    return lowered


def anchor_hits(text: str) -> dict[int, list[int]]:
    """For each rule (position in table order) whose anchors occur: where they start."""
    hits: dict[int, list[int]] = {}
    for end, (length, targets) in _AUTOMATON.iter(_ascii_lower(text)):
        start = end - length + 1
        for position, anchor, case_sensitive in targets:
            if case_sensitive and not text.startswith(anchor, start):
                continue
            hits.setdefault(position, []).append(start)
    return hits


def _matches(
    text: str, entry: _Compiled | GenericRule, where: _Where, starts: list[int]
) -> list[re.Match[str]]:
    found: list[re.Match[str]] = []
    last_end = -1
    for start in starts:
        if where.back is None:
            match = entry.regex.match(text, start) if start >= last_end else None
        else:
            match = entry.regex.search(text, max(start - where.back, last_end, 0), start + where.forward)
        if match is not None:
            found.append(match)
            last_end = match.end()
    return found


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
    claimed: list[Finding] = []  # look-alikes of a known format, left as they are
    hits = anchor_hits(text)
    for position in sorted(hits):
        entry = _ALL[position]
        for match in _matches(text, entry, _WHERE[position], hits[position]):
            if isinstance(entry, _Compiled):
                kind: str | None = entry.rule.id if _accept_token(entry.rule, match.group("value")) else None
            else:
                kind = entry.classify(match)
            start, end = match.span("value")
            if kind is None:
                if isinstance(entry, _Compiled):
                    # A format's look-alike (wrong checksum, EXAMPLE, xxxx): the format owns
                    # these characters, so no generic rule redacts them either.
                    claimed.append(Finding(start, end, ""))
                continue
            if kind in _BLOCKS:
                start, end = _block_body(text, start, end)
            if any(start < other.end and other.start < end for other in (*taken, *claimed)):
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
