"""`redact_pii` searches each pattern only around anchors; `_reference_redact_pii` runs each
pattern's `finditer` over the whole text, as `redact_pii` did before. They must agree byte for byte,
counts included, and so must the match sequences themselves (a match a callback rejects still
decides where `finditer` looks next): on a real corpus, on every address the unit tests use in
several surroundings, on texts written to break the anchors, and on random texts built from the
characters the patterns care about."""

from __future__ import annotations

import random
import re
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codelupe_dagster.core.pii import (
    _EMAIL,
    _IPV4,
    _IPV6,
    PiiKind,
    _email_matches,
    _ipv4_matches,
    _ipv6_matches,
    _may_hold_ipv6,
    _reference_redact_pii,
    redact_pii,
)
from tests.core.test_pii import (
    AT_SIGNS_KEPT,
    EMAILS_REPLACED,
    KEPT_NAMES,
    LOOKALIKES,
    NAMES_WITH_EXTENSION,
    NON_PUBLIC_IPS,
    PUBLIC_IPS,
)

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SUFFIXES = (".py", ".c", ".h", ".txt")
KIND_SETS = [frozenset(), frozenset({PiiKind.EMAIL}), frozenset({PiiKind.IP_ADDRESS})]


def _reference_ipv6(text: str) -> Iterator[re.Match[str]]:
    return _IPV6.finditer(text) if _may_hold_ipv6(text) else iter(())


Search = Callable[[str], Iterator[re.Match[str]]]
SEARCHES: list[tuple[str, Search, Search]] = [
    ("email", _email_matches, _EMAIL.finditer),
    ("ipv4", _ipv4_matches, _IPV4.finditer),
    ("ipv6", _ipv6_matches, _reference_ipv6),
]


def assert_same(text: str) -> None:
    """Same matches (spans, in order) for each pattern, same redaction and counts for every set of
    kinds."""
    for name, anchored, full_scan in SEARCHES:
        spans = [match.span() for match in anchored(text)]
        assert spans == [match.span() for match in full_scan(text)], (name, text)
    assert redact_pii(text) == _reference_redact_pii(text), text
    for kinds in KIND_SETS:
        assert redact_pii(text, kinds) == _reference_redact_pii(text, kinds), (kinds, text)


def stdlib_texts() -> list[tuple[Path, str]]:
    texts = []
    for path in sorted(STDLIB.rglob("*")):
        if path.suffix not in SUFFIXES or "site-packages" in path.parts or not path.is_file():
            continue
        try:
            texts.append((path, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return texts


def test_every_stdlib_text_is_redacted_as_the_full_scan_does() -> None:
    texts = stdlib_texts()
    assert len(texts) > 1000, f"expected CPython's stdlib under {STDLIB}"
    redacted = 0
    for path, text in texts:
        expected = _reference_redact_pii(text)
        assert redact_pii(text) == expected, path
        redacted += bool(expected[1])
    assert redacted > 50  # the corpus does exercise the redaction, not only the anchors' misses


SURROUNDINGS = [
    "{}",
    "{}\n",
    "\n{}",
    " {} ",
    '"{}"',
    "'{}'\n",
    "<{}>",
    "x = '{}'  # {}",
    "{}{}",
    "{} {}",
    "{}:{}",
    "{}.{}",
    "{}@{}",
    "\\n{}",
    "é{}é",
    "«{}»",
    "version {}",
    "ver={}",
    "==\n{}",
    "v{}",
    "std::x({}) // a::b::c",
    "a[::2] = {}",
    "ssh://{}",
    "{}-beta",
    "-{}",
    "1.{}.1",
    "::{}::",
]


def known_addresses() -> list[str]:
    texts = [text for pair in EMAILS_REPLACED + NAMES_WITH_EXTENSION for text in pair]
    return texts + AT_SIGNS_KEPT + PUBLIC_IPS + NON_PUBLIC_IPS + LOOKALIKES + KEPT_NAMES


@pytest.mark.parametrize("surrounding", SURROUNDINGS)
def test_every_known_address_in_every_surrounding(surrounding: str) -> None:
    for address in known_addresses():
        assert_same(surrounding.replace("{}", address))


ADVERSARIAL = [
    # at the very start or end, beside newlines
    "93.184.216.34",
    "a@acme.com",
    "2a00:1450:4001:82a::200e",
    "\n93.184.216.34",
    "93.184.216.34\n",
    "jane@acme.com\nbob@acme.io\n151.101.1.69\n2a00:1450::1",
    "\\nbob@acme.com \\tbob@acme.com \\rbob@acme.com \\xbob@acme.com \\\\nbob@acme.com",
    # longer dotted runs and digits around
    "93.184.216.34.5",
    "5.93.184.216.34",
    "1.2.3.4.5.6.7.8.9.10.11.12",
    "93.184.216.34.93.184.216.35",
    "93.184.216.34..151.101.1.69",
    "..93.184.216.34..",
    "9393.184.216.34 93.184.216.3456 93.184.216.34-beta -93.184.216.34 93.184.216.34-",
    "93.184.216.34.a 93.184.216.34._ 93.184.216.34.",
    "0.0.0.0.93.184.216.34 1.1.1.1 151.101.1.69",
    # version contexts, near and far, across a newline
    "version 93.184.216.34, build 151.101.1.69 and 93.184.216.35",
    "x" * 39 + "version 93.184.216.34",
    "version " + "x" * 45 + " 93.184.216.34",
    "rev\n93.184.216.34 @93.184.216.34 ^93.184.216.34 ~93.184.216.34 _93.184.216.34",
    # IPv6: embedded IPv4, `::` everywhere, slices, C++ scopes, long colon runs
    "::ffff:93.184.216.34 2a00:1450::93.184.216.34 64:ff9b::151.101.1.69",
    "2a00:1450:4001:82a:0:0:93.184.216.34",
    ":: ::: :::: ::::: ::::::::::::::::",
    "a::b::c::d std::vector::iterator ::1:: x[::] x[2000::] x[::2a00:1450::1]",
    "2a00::1450::4001 2a00:1450:4001:82a::200e::1 :2a00:1450:4001:82a::200e:",
    "1:2:3:4:5:6:7:8:9:10 2606:2800:220:1:248:1893:25c8:1946:1",
    "fe80::1%eth0 [2a00:1450:4001:82a::200e]:443 http://[2606:2800:220:1:248:1893:25c8:1946]/",
    "abcd:2a00:1450::1 g2a00:1450::1 .2a00:1450::1 2a00:1450::1.5 2a00:1450::1g",
    "a:b:c:d:e:f:a:b ffff:ffff::ffff:ffff:ffff:ffff",
    # e-mail: several @, long local parts, long domains, trailing dots and dashes
    "a@b.com@c.com x@abc%def@gmail.com @@acme.com a@@acme.com",
    "a" * 64 + "@acme.com " + "b" * 65 + "@acme.com " + "c" * 70 + "+x@acme.com",
    "jane@" + "sub." * 40 + "acme.com jane@" + "a" * 63 + ".com jane@" + "a" * 64 + ".com",
    "jane@acme.com. jane@acme.com- jane@acme.com.x jane@acme.comx jane@-acme.com jane@acme-.com",
    "alice@corp.com.asc bob@acme.io.json.txt user@example.com.asc @acme.com",
    "git@github.com:owner/repo ssh://deploy@build.acme.com git@acme.com",
    # non-ASCII: scripts and digits the patterns' \w and \d accept
    "jöhn@acme.com jane@acmé.com ünï@acme.com jane@acme.cöm",
    # Arabic-Indic digits (`\d` takes them, `ipaddress` does not)
    "\u0669\u0663.\u0661\u0668\u0664.\u0662\u0661\u0666.\u0663\u0664 93.\u0661\u0668\u0664.216.34 "
    "\u0662a00:1450::\u0661 2a00:1450::\u0669\u0663.\u0661\u0668\u0664.\u0662\u0661\u0666.\u0663\u0664",
    "日本93.184.216.34語 “jane@acme.com” «151.101.1.69» \U0001d7d7\U0001d7d1.184.216.34",  # bold digits
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_adversarial_texts(text: str) -> None:
    assert_same(text)


TOKENS = [
    "0", "1", "9", "93", "184", "255", "034", ".", ".", "..", ":", ":", "::", "@", "@",
    "a", "f", "F", "g", "Z", "x", "_", "-", "%", "+", "\\", "n", "\\n", " ", "\n", "é", "\u0663",
    "version ", "==", "v", "acme", "com", ".com", "co.uk", "ssh://", "2a00", "ffff", "1450",
    "noreply", "example.com", "git@", "jane", "<EMAIL>",
]  # fmt: skip


def test_random_texts_from_the_patterns_alphabet() -> None:
    rng = random.Random(12)
    for _ in range(4000):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 40)))
        assert_same(text)
