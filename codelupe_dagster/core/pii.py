"""Redaction of personal data (e-mail addresses, public IP addresses) in source code.

A corpus people search and train on should not hand out who wrote what and where their servers
are: like BigCode's PII pass over The Stack, each address is replaced by a typed placeholder
(`<EMAIL>`, `<IP_ADDRESS>`) and counted per kind. Only the address's own characters are
replaced, and addresses only occur inside string literals and comments, so code that parsed
before still parses.

What is kept as written, because it identifies nobody:
- e-mail: `noreply`/`no-reply` addresses, documentation domains (example.com/.org/.net and their
  subdomains, the reserved `.example`, `.test`, `.invalid`, `.localhost` names, `localhost`),
  ssh remotes (`git@github.com:owner/repo.git`), and shapes that only look like addresses in
  code (`icon@2x.png`, `x@self.weight`: the top-level domain must be a real one);
- IP: every address outside the public unicast space, decided by the stdlib `ipaddress`
  (private RFC 1918 and ULA, loopback, link-local, multicast, reserved, unspecified), plus CGNAT
  and the documentation ranges; the well-known public DNS resolvers; and anything that is a
  version, not an address (`version = "1.2.3.4"`, `pkg==1.2.3.4`, `v1.2.3.4`, OIDs, dotted
  numbers inside a longer dotted run).

Redaction is idempotent: a placeholder never matches again.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum

from codelupe_dagster._native import pii_anchors


class PiiKind(StrEnum):
    """A kind of personal data; its value is the name used in settings (`PII_REDACT`) and counts."""

    EMAIL = "email"
    IP_ADDRESS = "ip"


PLACEHOLDERS: dict[PiiKind, str] = {PiiKind.EMAIL: "<EMAIL>", PiiKind.IP_ADDRESS: "<IP_ADDRESS>"}
DEFAULT_KINDS: frozenset[PiiKind] = frozenset({PiiKind.EMAIL, PiiKind.IP_ADDRESS})


def parse_kinds(spec: str) -> frozenset[PiiKind]:
    """`"email,ip"` -> the kinds; an empty spec (or `none`) redacts no PII. ValueError names an
    unknown kind, so a typo in `PII_REDACT` fails at start-up instead of silently leaking."""
    names = [part.strip().lower() for part in spec.split(",") if part.strip()]
    if names == ["none"]:
        return frozenset()
    known = {kind.value: kind for kind in PiiKind}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown PII kind(s) {unknown}; choose from {sorted(known)} or 'none'")
    return frozenset(known[name] for name in names)


# --------------------------------------------------------------------------- e-mail

_EMAIL = re.compile(
    # The local part must not continue a word, a path or an escape (`"\nbob@x.org"` starts at
    # `bob`, so the backslash escape stays whole).
    r"(?:(?<=\\[nrt])|(?<![\w.%+\-\\]))"
    r"(?P<local>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,24}))"
    r"(?![\w\-]|\.[A-Za-z0-9])"
)

# Generic top-level domains seen in real addresses; every two-letter (country) TLD counts too.
# A closed list keeps code such as `x@self.weight` or `logo@2x.png` from looking like an address.
_GENERIC_TLDS = frozenset(
    {
        "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi",
        "app", "dev", "io", "ai", "cloud", "tech", "online", "site", "email", "mail", "xyz", "page",
        "codes", "software", "systems", "solutions", "digital", "network", "services", "agency",
        "company", "consulting", "studio", "design", "science", "academy", "works", "zone", "team",
        "group", "global", "world", "life", "live", "space", "website", "blog", "club", "one",
        "museum", "aero", "coop", "jobs", "travel", "asia", "berlin", "london", "nyc", "paris",
    }
)  # fmt: skip
_FILE_EXTENSIONS = frozenset({"js", "py", "go", "rs", "rb", "cc", "hh", "md", "sh", "ts", "pl"})
# Extensions that follow an address used as a file name (`alice@corp.com.asc`, `bob@acme.io.json`): the
# last label is then the file's, and the address before it is still somebody's.
_NAME_EXTENSIONS = _FILE_EXTENSIONS | frozenset(
    {
        "txt", "json", "yml", "yaml", "xml", "html", "csv", "log", "asc", "gpg", "pgp", "pub", "pem",
        "key", "crt", "cfg", "conf", "ini", "toml", "eml", "vcf", "java", "php", "cpp",
    }
)  # fmt: skip
_DOCUMENTATION_DOMAINS = ("example.com", "example.org", "example.net", "localhost")
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
_NO_REPLY = re.compile(r"no-?reply", re.IGNORECASE)


def _is_kept_email(match: re.Match[str], text: str) -> bool:
    local, domain, tld = match["local"], match["domain"].lower(), match["tld"].lower()
    if tld in _RESERVED_TLDS or any(
        domain == kept or domain.endswith("." + kept) for kept in _DOCUMENTATION_DOMAINS
    ):
        return True
    if len(tld) == 2:
        if tld in _FILE_EXTENSIONS:
            return True
    elif tld not in _GENERIC_TLDS:
        return True
    if _NO_REPLY.search(local) or _NO_REPLY.search(domain) or local == "git":
        return True  # `git@` is a forge's ssh user, not a person
    # An scp-like ssh remote (`git@github.com:owner/repo`) or an `ssh://user@host` URL is a host.
    end = match.end()
    if text.startswith(":", end) and not text.startswith("://", end):
        return True
    return text[max(0, match.start() - 6) : match.start()].endswith("ssh://")


# --------------------------------------------------------------------------- IP addresses

_IPV4 = re.compile(
    # Not inside a longer dotted or alphanumeric run (`1.2.3.4.5`, `v1.2.3.4`, `1.2.3.4-beta`).
    r"(?<![\w.\-])(?P<ip>(?:\d{1,3}\.){3}\d{1,3})(?!\.?\w|-\w)"
)
_IPV6 = re.compile(
    r"(?<![\w:.])(?P<ip>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|(?:\d{1,3}\.){3}\d{1,3}))"
    r"(?![\w:.])"
)
# A version or an identifier, not an address, when the text just before says so.
_VERSION_CONTEXT = re.compile(
    r"(?:version|\bver|release|\brev|build|\boid|==|>=|<=|~=|!=|\^|~|@)[\s\"'=:,(\[_\-]*$",
    re.IGNORECASE,
)
_CONTEXT_CHARS = 40

_NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",  # carrier-grade NAT
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "2001:db8::/32",  # IPv6 documentation
        "3fff::/20",  # IPv6 documentation (RFC 9637)
    )
)
# Public resolvers are infrastructure everybody configures, not anybody's address.
_PUBLIC_RESOLVERS = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
        "208.67.222.222", "208.67.220.220", "2001:4860:4860::8888", "2001:4860:4860::8844",
        "2606:4700:4700::1111", "2606:4700:4700::1001",
    )
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def is_public_ip(value: str) -> bool:
    """A public unicast address that could point at somebody's machine (see the module docstring).

    Cached: `ipaddress` takes ~20 us a value, and a corpus repeats its addresses (`127.0.0.1`,
    `0.0.0.0`, `1.2.3.4` are a third of the stdlib's candidates); the answer depends on the value only."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    if (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _PUBLIC_RESOLVERS
    ):
        return False
    return not any(
        address.version == network.version and address in network for network in _NON_PUBLIC_NETWORKS
    )


def _in_version_context(text: str, start: int) -> bool:
    line_start = text.rfind("\n", max(0, start - _CONTEXT_CHARS), start) + 1
    before = text[max(line_start, start - _CONTEXT_CHARS) : start]
    return _VERSION_CONTEXT.search(before) is not None


def _is_public_ipv6_candidate(value: str) -> bool:
    # At least three written groups: `a[2000::]` or `x[2::3]` are slices, not addresses.
    return sum(1 for group in value.split(":") if group) >= 3 and is_public_ip(value)


# --------------------------------------------------------------------------- anchored search
#
# None of the three patterns starts with a literal, so a plain `finditer` makes Python's `re` try
# every position of every text (~0.3 s per MB for the three). Each match, though, holds an anchor
# that `re` finds at C speed because it starts with a literal (`@`, `.`, `:`), and the anchor
# checks, forward with a lookahead and backward with fixed-width lookbehinds, the characters every
# match has around it, so it hits almost nowhere else. The exact pattern then runs only where a
# match holding that anchor can start. Lookbehinds and lookaheads read the real text (`pos` is not
# slicing), so every match, and every rejected match `finditer` steps over, is the one the full
# scan finds: the patterns stay the definition of a match.
#
# Finding the anchors is itself one compiled pass (`_native.pii_anchors`, native/src/redaction.rs):
# Python's `re` needed three passes with a lookahead attempt at every `.` and `:` of the code. The
# pass returns, per anchor, the positions where it may match (exact on ASCII surroundings, every
# position whose surroundings hold a character beyond ASCII, where `\d` and `\w` are Python's to
# decide), and each is confirmed with the anchor regex before use. There is no pure-Python path:
# a missing extension fails at import.

# (email, ipv4, ipv6, may_hold_ipv6): see `_native.pii_anchors`.
_Anchors = tuple[list[int], list[int], list[int], bool]
_Candidate = Callable[[str, int, int], "re.Match[str] | None"]


def _anchored(
    text: str, hits: list[int], anchor: re.Pattern[str], candidate: _Candidate
) -> Iterator[re.Match[str]]:
    """The matches `finditer` finds, tried only at each hit of `anchor`, in order.

    `hits` are the positions where `anchor` may match, in increasing order, from one compiled pass
    over the text (`_native.pii_anchors`, a superset of the anchor's hits); each is confirmed with
    `anchor.match` here, so the anchor regex stays the definition of a hit. The hit sequence is the
    one `anchor.search(text, max(at + 1, cursor))` walked: the first confirmed hit at or after it.
    `candidate(text, hit, cursor)` is the leftmost match starting at or after `cursor` (the end of
    the last match) whose anchor is `hit`, or None. Every match's anchor is a hit that lies at or
    after its start, so no hit before the cursor can hold the next match."""
    cursor = 0
    bound = 0
    for at in hits:
        if at < bound or anchor.match(text, at) is None:
            continue
        match = candidate(text, at, cursor)
        if match is not None:
            yield match
            cursor = match.end()
        bound = max(at + 1, cursor)


def _first_match(pattern: re.Pattern[str], text: str, starts: range) -> re.Match[str] | None:
    for start in starts:
        match = pattern.match(text, start)
        if match is not None:
            return match
    return None


def _preceded(guard: str, chars: str, lengths: range, literal: str) -> str:
    """A lookbehind that holds where the literal just matched follows a run of `chars` of one of
    `lengths` that starts right after a character `guard` rejects (one fixed width per length)."""
    return "(?:" + "|".join(f"(?<={guard}{chars}{{{n}}}{literal})" for n in lengths) + ")"


# E-mail: the `@` follows a local-part character and opens a first label that ends with a dot. A
# match holds exactly one `@` (neither part admits one) and its local part is at most 64
# characters, so it starts at most that far before; its domain only consumes `_EMAIL_DOMAIN_RUN`
# characters and its lookahead reads at most two past its end, which bounds the window above.
_EMAIL_ANCHOR = re.compile(r"@(?<=[A-Za-z0-9._%+\-]@)(?=[A-Za-z0-9][A-Za-z0-9\-]{0,62}\.[A-Za-z0-9])")
_EMAIL_LOCAL_MAX = 64
_EMAIL_DOMAIN_RUN = re.compile(r"[A-Za-z0-9.\-]*")
_EMAIL_LOOKAHEAD = 2


def _run_end(run: re.Pattern[str], text: str, start: int) -> int:
    """Where the run of `run`'s characters that begins at `start` ends (`run` matches empty)."""
    match = run.match(text, start)
    return start if match is None else match.end()


def _email_at(text: str, at: int, cursor: int) -> re.Match[str] | None:
    # Inside the window no match can start after the `@`: a domain needs four more characters.
    end = min(len(text), _run_end(_EMAIL_DOMAIN_RUN, text, at + 1) + _EMAIL_LOOKAHEAD)
    return _EMAIL.search(text, max(cursor, at - _EMAIL_LOCAL_MAX), end)


# IPv4: the anchor is the first dot. A match cannot start inside a run of digits and dots (its
# lookbehind rejects both), so it starts where the one to three digits before that dot begin.
_IPV4_ANCHOR = re.compile(
    r"\.(?=\d{1,3}\.\d{1,3}\.\d)" + _preceded(r"(?<![\w.\-])", r"\d", range(1, 4), r"\.")
)
# IPv6: the anchor is the colon that ends the first group (zero to four hex digits, which start
# right after a character the lookbehind accepts); the next group or the last part follows.
_IPV6_ANCHOR = re.compile(
    r":(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:\d])" + _preceded(r"(?<![\w:.])", "[0-9A-Fa-f]", range(5), ":")
)


def _ipv4_at(text: str, dot: int, cursor: int) -> re.Match[str] | None:
    return _first_match(_IPV4, text, range(max(cursor, dot - 3), dot))


def _ipv6_at(text: str, colon: int, cursor: int) -> re.Match[str] | None:
    return _first_match(_IPV6, text, range(max(cursor, colon - 4), colon + 1))


def _email_matches(text: str, hits: list[int] | None = None) -> Iterator[re.Match[str]]:
    return _anchored(text, pii_anchors(text)[0] if hits is None else hits, _EMAIL_ANCHOR, _email_at)


def _ipv4_matches(text: str, hits: list[int] | None = None) -> Iterator[re.Match[str]]:
    return _anchored(text, pii_anchors(text)[1] if hits is None else hits, _IPV4_ANCHOR, _ipv4_at)


def _may_hold_ipv6(text: str) -> bool:
    """The whole-text guard IPv6 redaction has always had: a text with neither `::` nor seven
    colons is left alone, whatever its colons look like (part of the definition of a match).
    `_native.pii_anchors` returns the same answer from its pass over the text."""
    return "::" in text or text.count(":") >= 7


def _ipv6_matches(text: str, anchors: _Anchors | None = None) -> Iterator[re.Match[str]]:
    _, _, hits, may_hold = pii_anchors(text) if anchors is None else anchors
    return _anchored(text, hits, _IPV6_ANCHOR, _ipv6_at) if may_hold else iter(())


# --------------------------------------------------------------------------- redaction


_Span = tuple[int, int]


def _replace(
    text: str,
    matches: Iterable[re.Match[str]],
    placeholder: str,
    redact: Callable[[re.Match[str], str], _Span | None],
) -> tuple[str, int]:
    parts: list[str] = []
    last = 0
    count = 0
    for match in matches:
        span = redact(match, text)
        if span is None:
            continue
        start, end = span
        parts.append(text[last:start])
        parts.append(placeholder)
        last = end
        count += 1
    if not count:
        return text, 0
    parts.append(text[last:])
    return "".join(parts), count


def _redact_email(match: re.Match[str], text: str) -> _Span | None:
    if not _is_kept_email(match, text):
        return match.span()
    # `alice@corp.com.asc`: kept for its "top-level domain" `asc`, yet `alice@corp.com` is an address.
    head, dot, extension = match["domain"].rpartition(".")
    if extension.lower() not in _NAME_EXTENSIONS or "." not in head:
        return None
    inner = _EMAIL.fullmatch(text, match.start(), match.end() - len(dot + extension))
    return inner.span() if inner is not None and not _is_kept_email(inner, text) else None


def _redact_ipv4(match: re.Match[str], text: str) -> _Span | None:
    if is_public_ip(match["ip"]) and not _in_version_context(text, match.start()):
        return match.span("ip")
    return None


def _redact_ipv6(match: re.Match[str], text: str) -> _Span | None:
    return match.span("ip") if _is_public_ipv6_candidate(match["ip"]) else None


def redact_pii(text: str, kinds: frozenset[PiiKind] = DEFAULT_KINDS) -> tuple[str, dict[str, int]]:
    """Replace the addresses of `kinds` in `text` by their placeholders; the text and the count per
    kind name (only kinds found appear)."""
    counts: dict[str, int] = {}
    if not kinds:
        return text, counts
    anchors = pii_anchors(text)
    if not (anchors[0] or anchors[1] or anchors[2]):
        return text, counts  # no anchor, no match: most texts
    if PiiKind.EMAIL in kinds and anchors[0]:
        text, found = _replace(
            text, _email_matches(text, anchors[0]), PLACEHOLDERS[PiiKind.EMAIL], _redact_email
        )
        if found:
            counts[PiiKind.EMAIL.value] = found
            if PiiKind.IP_ADDRESS in kinds:
                anchors = pii_anchors(text)  # the placeholders moved what follows them
    if PiiKind.IP_ADDRESS in kinds:
        placeholder = PLACEHOLDERS[PiiKind.IP_ADDRESS]
        found_v4 = found_v6 = 0
        if anchors[1]:
            text, found_v4 = _replace(text, _ipv4_matches(text, anchors[1]), placeholder, _redact_ipv4)
            if found_v4:
                anchors = pii_anchors(text)
        if anchors[2]:
            text, found_v6 = _replace(text, _ipv6_matches(text, anchors), placeholder, _redact_ipv6)
        if found_v4 + found_v6:
            counts[PiiKind.IP_ADDRESS.value] = found_v4 + found_v6
    return text, counts


def _reference_redact_pii(text: str, kinds: frozenset[PiiKind] = DEFAULT_KINDS) -> tuple[str, dict[str, int]]:
    """`redact_pii` as it was before the anchored search: each pattern's full-text `finditer`
    behind its whole-text guard. The definition `redact_pii` must reproduce byte for byte (the
    equivalence tests and `bench/pii_speed.py` compare the two)."""
    counts: dict[str, int] = {}
    if PiiKind.EMAIL in kinds and "@" in text:
        text, found = _replace(text, _EMAIL.finditer(text), PLACEHOLDERS[PiiKind.EMAIL], _redact_email)
        if found:
            counts[PiiKind.EMAIL.value] = found
    if PiiKind.IP_ADDRESS in kinds:
        total = 0
        if "." in text:
            text, found = _replace(text, _IPV4.finditer(text), PLACEHOLDERS[PiiKind.IP_ADDRESS], _redact_ipv4)
            total += found
        if _may_hold_ipv6(text):
            text, found = _replace(text, _IPV6.finditer(text), PLACEHOLDERS[PiiKind.IP_ADDRESS], _redact_ipv6)
            total += found
        if total:
            counts[PiiKind.IP_ADDRESS.value] = total
    return text, counts
