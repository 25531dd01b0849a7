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
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

import hyperscan

from codelupe_dagster.core.secret_allowlist import is_fake_token, shannon_entropy
from codelupe_dagster.core.secret_generic import GENERIC_RULES, GenericRule
from codelupe_dagster.core.secret_rules import RULES, SecretRule


def placeholder(kind: str) -> str:
    return f"<SECRET:{kind}>"


@dataclass(frozen=True)
class _Compiled:
    rule: SecretRule

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """Compiled when its anchor first occurs: compiling all ~270 rules up front took ~0.13 s of
        every process that redacts, while a file's anchors start a handful of them."""
        return re.compile(self.rule.pattern)


_COMPILED = tuple(_Compiled(rule) for rule in RULES)
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


@dataclass(frozen=True)
class _Anchor:
    """One distinct anchor of the prefilter and the rules it starts: a literal, or (for ASCII
    text) a rule's `anchor_pattern` regex, which Hyperscan runs as fast as a literal."""

    expression: bytes
    flags: int
    rules: tuple[int, ...]  # positions in _ALL


def _literal(text: str) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in text.encode("ascii"))


def _anchors() -> tuple[_Anchor, ...]:
    by_anchor: dict[tuple[bytes, int], list[int]] = {}
    for position, entry in enumerate(_ALL):
        source = entry.rule if isinstance(entry, _Compiled) else entry
        caseless = 0 if source.anchor_case else hyperscan.HS_FLAG_CASELESS
        pattern = entry.rule.anchor_pattern if isinstance(entry, _Compiled) else entry.anchor_pattern
        if pattern:
            expressions = [pattern.encode("ascii")]
        else:
            expressions = [_literal(a if source.anchor_case else a.lower()) for a in source.keywords]
        for expression in expressions:
            by_anchor.setdefault((expression, caseless), []).append(position)
    return tuple(_Anchor(expr, flags, tuple(rules)) for (expr, flags), rules in by_anchor.items())


def _database(anchors: tuple[_Anchor, ...]) -> hyperscan.Database:
    """All anchors in one Hyperscan database: a single pass over the text (in C, hundreds of
    MB/s) finds every place where some rule could match, and where that place starts."""
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[anchor.expression for anchor in anchors],
        ids=list(range(len(anchors))),
        elements=len(anchors),
        flags=[anchor.flags | hyperscan.HS_FLAG_SOM_LEFTMOST for anchor in anchors],
    )
    return database


# Every anchor is ASCII, so the text is scanned as ASCII with each other character (and lone
# surrogate) replaced by `?`: one byte per character, so a byte offset IS the character offset,
# and no anchor can start or end inside a replaced character. (Scanning non-ASCII text as UTF-32,
# four bytes a character, made a quarter of the files cost most of the scan time.) An anchor hit
# that a `?` creates (`[?&]sig`) only costs a regex attempt: the rules run on the real text.
_ANCHORS = _anchors()


_BUILT: dict[str, hyperscan.Database] = {}


def _db() -> hyperscan.Database:
    """The anchors' database, built at the first scan (~0.06 s): `codelupe search` imports redaction
    for its hits, and a search that finds none need not pay for it. Two threads' first scans may both
    build it; `setdefault` (atomic) hands both the one stored first, so every scratch fits it."""
    built = _BUILT.get("anchors")
    return built if built is not None else _BUILT.setdefault("anchors", _database(_ANCHORS))


def prepare_scan() -> None:
    """Build now what the first scan would build: the anchors' database and every rule's regex.

    For a process that forks scanning processes (the scoring pool's forkserver, see
    `stages.scoring_preload`): each worker then inherits them instead of building them on its first
    files, pool after pool (`codelupe run` keeps one forkserver for all its batches). Lazy stays the
    default so that a command redacting a few search hits pays only for the rules their anchors start."""
    _db()
    for compiled in _COMPILED:
        compiled.regex  # noqa: B018  (a cached property: reading it compiles and keeps the regex)


# Hyperscan's scratch space may not be shared by two scans at once. A context variable gives each
# thread its own (every thread starts with an empty context) without core/ importing threading.
_SCRATCH: ContextVar[hyperscan.Scratch | None] = ContextVar("secrets_scratch", default=None)


def _scratch() -> hyperscan.Scratch:
    scratch = _SCRATCH.get()
    if scratch is None:
        scratch = hyperscan.Scratch(_db())
        _SCRATCH.set(scratch)
    return scratch


def anchor_hits(text: str) -> dict[int, list[int]]:
    """For each rule (position in table order) whose anchors occur: where they start."""
    hits: dict[int, list[int]] = {}
    anchors = _ANCHORS

    def on_match(anchor_id: int, start: int, _end: int, _flags: int, _context: object) -> None:
        for position in anchors[anchor_id].rules:
            hits.setdefault(position, []).append(start)

    data = text.encode("ascii", "replace")
    _db().scan(data, match_event_handler=on_match, scratch=_scratch())
    for starts in hits.values():
        starts.sort()
    return hits


def _matches(
    text: str, entry: _Compiled | GenericRule, where: _Where, starts: list[int]
) -> list[re.Match[str]]:
    found: list[re.Match[str]] = []
    last_end = -1
    if isinstance(entry, GenericRule) and entry.every:
        # All matches in the windows, each window searched once (a manifest with many entries).
        for start in starts:
            window_start = max(start - (where.back or 0), last_end, 0)
            for each in entry.regex.finditer(text, window_start, start + where.forward):
                found.append(each)
                last_end = each.end()
        return found
    for start in starts:
        if where.back is None:
            match = entry.regex.match(text, start) if start >= last_end else None
        else:
            match = entry.regex.search(text, max(start - where.back, last_end, 0), start + where.forward)
        if match is not None:
            found.append(match)
            last_end = match.end()
    return found


def _accept_token(rule: SecretRule, value: str) -> bool | None:
    """True: the rule's secret. False: the format's look-alike (a fake, a bad checksum), which
    the format owns. None: not this format at all -- a keyed row's name is shared by other
    services (`SECRET_KEY` is Tencent's and Mailjet's), so a value too plain for one of them is
    left to the later rows and the generic forms instead of being claimed."""
    if is_fake_token(value):
        return False
    if rule.min_entropy and shannon_entropy(value) < rule.min_entropy:
        return False if rule.distinctive else None
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
            verdict: bool | None = None
            if isinstance(entry, _Compiled):
                verdict = _accept_token(entry.rule, match.group("value"))
                kind: str | None = entry.rule.id if verdict else None
            else:
                kind = entry.classify(match)
            start, end = match.span("value")
            if kind is None:
                if verdict is False:
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
