"""`pii.redact_pii` finds its anchors with the compiled `_native.pii_anchors` (native/src/redaction.rs).

Its output must be the one of the all-Python anchored search it replaced (the frozen copy in
tests/support/redaction_reference.py), text and counts, for every set of kinds; and the compiled
anchor lists must hold every position where Python's anchor regexes match (a superset: Python
confirms each), exactly those on ASCII texts. Checked on CPython's stdlib and Go's source tree (found
at run time), on addresses planted at text start and end, across CRLF and beside non-ASCII
characters, on adversarial strings and on seeded random texts."""

# ruff: noqa: RUF001  (look-alike digits, dots and at signs are the point of these texts)

from __future__ import annotations

import random
import shutil
import subprocess
import sysconfig
from collections.abc import Iterable
from pathlib import Path

import pytest

import codelupe_dagster._native as native
from codelupe_dagster.core import pii, redaction, secrets
from codelupe_dagster.core.pii import PiiKind
from tests.support import redaction_reference as frozen

KIND_SETS = [
    pii.DEFAULT_KINDS,
    frozenset({PiiKind.EMAIL}),
    frozenset({PiiKind.IP_ADDRESS}),
    frozenset(),
]


def python_anchors(text: str) -> tuple[list[int], list[int], list[int], bool]:
    return (
        [hit.start() for hit in frozen._EMAIL_ANCHOR.finditer(text)],
        [hit.start() for hit in frozen._IPV4_ANCHOR.finditer(text)],
        [hit.start() for hit in frozen._IPV6_ANCHOR.finditer(text)],
        frozen._may_hold_ipv6(text),
    )


def assert_same(text: str, kinds_sets: list[frozenset[PiiKind]] = KIND_SETS) -> None:
    expected = python_anchors(text)
    got = native.pii_anchors(text)
    assert got[3] == expected[3], text
    for name, mine, theirs in zip(("email", "ipv4", "ipv6"), got, expected, strict=False):
        assert mine == sorted(set(mine)), (name, text)
        if text.isascii():
            assert mine == theirs, (name, text)
        else:
            assert set(theirs) <= set(mine), (name, text)
    for kinds in kinds_sets:
        assert pii.redact_pii(text, kinds) == frozen.redact_pii(text, kinds), (kinds, text)


def test_the_compiled_anchor_search_is_the_one_in_use() -> None:
    assert pii.pii_anchors is native.pii_anchors
    assert Path(native.__file__).suffix == ".so"
    assert native.pii_anchors("a jane@acme.com 93.184.216.34 2a00:1450::1") == ([6], [18], [34], True)
    assert pii.redact_pii("jane@acme.com 93.184.216.34") == ("<EMAIL> <IP_ADDRESS>", {"email": 1, "ip": 1})


def stdlib_texts() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return read_texts(
        path
        for path in sorted(root.rglob("*"))
        if path.suffix in (".py", ".c", ".h", ".txt") and "site-packages" not in path.parts
    )


def go_texts() -> list[str]:
    go = shutil.which("go")
    if go is None:
        return []
    goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip()
    source = Path(goroot) / "src" if goroot else None
    return read_texts(sorted(source.rglob("*.go"))) if source and source.is_dir() else []


def read_texts(paths: Iterable[Path]) -> list[str]:
    texts = []
    for path in paths:
        try:
            if path.is_file():
                texts.append(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return texts


def check_corpus(texts: list[str]) -> None:
    redacted = 0
    for text in texts:
        assert_same(text, [pii.DEFAULT_KINDS])
        redacted += bool(pii.redact_pii(text)[1])
    assert redacted > 20  # the corpus exercises the redaction, not only the anchors' misses


def test_every_stdlib_text() -> None:
    texts = stdlib_texts()
    assert len(texts) > 1000
    check_corpus(texts)


def test_every_go_text() -> None:
    texts = go_texts()
    if not texts:
        pytest.skip("no Go toolchain")
    assert len(texts) > 1000
    check_corpus(texts)


PLANTED = [
    "jane@acme.com",
    "bob.smith+x@mail.acme.io",
    "alice@corp.com.asc",
    "git@github.com:owner/repo",
    "93.184.216.34",
    "151.101.1.69",
    "10.0.0.1",
    "2a00:1450:4001:82a::200e",
    "::ffff:93.184.216.34",
    "2606:2800:220:1:248:1893:25c8:1946",
    "jöhn@acme.com",
    "1.2.3.4.5",
]
AROUND = [
    "{}",
    "{}\r\n",
    "\r\n{}\r\n",
    "é{}é",
    "\u0663{}\u0663",
    "{}\u0301",
    "\ud800{}\ud800",
    "\x00{}\x00",
    "\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029{}\u2029",
    "日本{}語",
    "x = '{}'\r\n# {}",
    "version {}",
    "{}" + "x" * 5000,
    "y" * 5000 + "{}",
    "ｘ{}１",
]


@pytest.mark.parametrize("around", AROUND)
def test_planted_addresses(around: str) -> None:
    for address in PLANTED:
        assert_same(around.replace("{}", address))
        assert_same(address + around.replace("{}", " ") + address)


ADVERSARIAL = [
    "",
    "@",
    ".",
    ":",
    "::",
    "a@b.c",
    "\ud800",
    "\ud800@\udfff.com",
    "1.2.3.\ud800 1.2.\ud800.4 \ud8001.2.3.4",
    "\u0669\u0663.\u0661\u0668\u0664.\u0662\u0661\u0666.\u0663\u0664",
    "93.184.216.\u0663\u0664 9\u0663.184.216.34 93\u0663.184.216.34",
    "2a00:1450::\u0661 \u0662a00:1450::1 2a00:\u0661450::1 2a00:1450:\u0661:1",
    "１２.３４.５６.７８ 93．184．216．34 jane＠acme.com",
    "a\u0301@acme.com jane@acme.co\u0301m",
    "::" * 5000,
    "1." * 5000,
    "@a." * 5000,
    "jane@acme.com" * 200,
    "93.184.216.34:" * 200,
    ":" * 7 + "2a00:1450::1",
    "1:2:3:4:5:6:7:8 x:y::z 𝟗𝟑.184.216.34",
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_adversarial(text: str) -> None:
    assert_same(text)


ALPHABET = [
    "0", "1", "9", "93", "184", "255", ".", ".", "..", ":", ":", "::", "@", "@", "a", "f", "F", "g",
    "_", "-", "%", "+", "\\", "\\n", " ", "\n", "\r\n", "é", "\u0663", "\u0301", "\ud800", "\x00",
    "\x0b", "\x1c", "\x85", "\u2028", "１", "𝟗", "日", "version ", "acme", ".com", "ssh://", "2a00",
    "ffff", "jane", "<EMAIL>", "<IP_ADDRESS>",
]  # fmt: skip


def test_random_texts() -> None:
    rng = random.Random(2026)
    for _ in range(3000):
        assert_same("".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60))))


def test_redact_text_is_secrets_then_the_frozen_pii() -> None:
    rng = random.Random(7)
    texts = [
        "token = 'ghp_" + "a1B2" * 9 + "' # jane@acme.com 93.184.216.34",
        "https://user:hunter2longpassword@db.acme.com:5432/x 2a00:1450::1",
    ] + ["".join(rng.choice(ALPHABET) for _ in range(40)) for _ in range(300)]
    for text in texts:
        step, found = secrets.redact_secrets(text)
        expected = frozen.redact_pii(step)
        result = redaction.redact_text(text)
        assert (result.text, result.secrets, result.pii) == (expected[0], found, expected[1])
