"""PII redaction: what is replaced, what is kept, and that it is configurable and idempotent."""

from __future__ import annotations

import pytest

from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind, is_public_ip, parse_kinds, redact_pii

EMAILS_REPLACED: list[tuple[str, str]] = [
    ("# Author: Jane Doe <jane.doe@gmail.com>", "# Author: Jane Doe <<EMAIL>>"),
    ('MAINTAINER = "bob+lists@corp.co.uk"', 'MAINTAINER = "<EMAIL>"'),
    ('"\\nsupport@acme.io"', '"\\n<EMAIL>"'),  # the escape stays whole
    ("mailto:ops@acme.dev?subject=x", "mailto:<EMAIL>?subject=x"),
]
AT_SIGNS_KEPT: list[str] = [
    "noreply@github.com",
    "12345+jane@users.noreply.github.com",
    "no-reply@accounts.google.com",
    "user@example.com",
    "admin@mail.example.org",
    "a@b.example",
    "root@host.test",
    "x@y.invalid",
    "dev@localhost",
    "git@github.com:owner/repo.git",
    "clone from git@gitlab.com with ssh",
    "ssh://deploy@build.acme.com/srv/repo",
    "user@host",
    "logo@2x.png",
    "y = x@self.weight",
    "npm i lodash@4.17.21",
    "@decorator.method",
]
PUBLIC_IPS: list[str] = [
    "93.184.216.34",
    "151.101.1.69",
    "2a00:1450:4001:82a::200e",
    "2606:2800:220:1:248:1893:25c8:1946",
]
NON_PUBLIC_IPS: list[str] = [
    "10.1.2.3", "172.16.0.1", "192.168.1.1",  # RFC 1918
    "127.0.0.1", "::1", "169.254.1.1", "fe80::1:2:3",  # loopback, link-local
    "224.0.0.251", "ff02::1:2:3",  # multicast
    "0.0.0.0", "255.255.255.0", "240.1.2.3",  # unspecified, reserved
    "100.64.1.1",  # CGNAT
    "192.0.2.10", "198.51.100.7", "203.0.113.5", "2001:db8::1:2",  # documentation
    "fd12:3456:789a::1",  # ULA
    "8.8.8.8", "1.1.1.1",  # public resolvers
]  # fmt: skip
LOOKALIKES: list[str] = [
    'version = "93.184.216.34"',
    "__version__ = '93.184.216.34'",
    "requests==93.184.216.34",
    "pkg>=93.184.216.34",
    "release 93.184.216.34",
    "v93.184.216.34",
    "1.3.6.1.4.1.311",  # an OID
    "oid 2.5.29.17",
    "93.184.216.34.5",  # a longer dotted run
    "93.184.216.34-beta",
    "a[2000::]",  # slices are not addresses
    "x[2001::3]",
    "std::vector<int>",
    "12:34:56",
    "01.02.03.04",  # leading zeros: not an address
]
NAMES_WITH_EXTENSION: list[tuple[str, str]] = [
    ("keys/alice.smith@gmail.com.asc", "keys/<EMAIL>.asc"),
    ("people/alice@corp-mail.com.py", "people/<EMAIL>.py"),
    ("exports/bob@acme.io.json", "exports/<EMAIL>.json"),
    ("bob@firma.com.pl", "<EMAIL>.pl"),  # a file extension or Poland: the address goes either way
]
KEPT_NAMES: list[str] = [
    "logo@2x.png",
    "user@example.com.txt",
    "noreply@github.com.txt",
    "x@y.example.json",
    "a@b.com.tar",
]


@pytest.mark.parametrize(("text", "expected"), EMAILS_REPLACED)
def test_emails_are_replaced(text: str, expected: str) -> None:
    redacted, counts = redact_pii(text)
    assert redacted == expected
    assert counts == {"email": 1}


@pytest.mark.parametrize("text", AT_SIGNS_KEPT)
def test_non_personal_at_signs_are_kept(text: str) -> None:
    assert redact_pii(text) == (text, {})


@pytest.mark.parametrize("address", PUBLIC_IPS)
def test_public_ips_are_replaced(address: str) -> None:
    redacted, counts = redact_pii(f'HOST = "{address}"  # prod')
    assert redacted == 'HOST = "<IP_ADDRESS>"  # prod'
    assert counts == {"ip": 1}


@pytest.mark.parametrize("address", NON_PUBLIC_IPS)
def test_non_public_ips_are_kept(address: str) -> None:
    assert not is_public_ip(address)
    text = f"connect('{address}')"
    assert redact_pii(text) == (text, {})


@pytest.mark.parametrize("text", LOOKALIKES)
def test_version_strings_and_lookalikes_are_kept(text: str) -> None:
    assert redact_pii(text) == (text, {})


def test_ipv4_in_url_and_with_port_is_replaced() -> None:
    redacted, counts = redact_pii("curl http://93.184.216.34:8080/x and 151.101.1.69/24.")
    assert redacted == "curl http://<IP_ADDRESS>:8080/x and <IP_ADDRESS>/24."
    assert counts == {"ip": 2}


def test_kinds_are_configurable_and_counted_separately() -> None:
    text = "a@acme.com 93.184.216.34"
    assert redact_pii(text) == ("<EMAIL> <IP_ADDRESS>", {"email": 1, "ip": 1})
    assert redact_pii(text, frozenset({PiiKind.EMAIL})) == ("<EMAIL> 93.184.216.34", {"email": 1})
    assert redact_pii(text, frozenset({PiiKind.IP_ADDRESS})) == ("a@acme.com <IP_ADDRESS>", {"ip": 1})
    assert redact_pii(text, frozenset()) == (text, {})


def test_redaction_is_idempotent() -> None:
    once, _ = redact_pii("x a@acme.com y 93.184.216.34 z 2a00:1450:4001:82a::200e")
    assert redact_pii(once) == (once, {})


def test_parse_kinds() -> None:
    assert parse_kinds("email,ip") == DEFAULT_KINDS
    assert parse_kinds(" IP ") == frozenset({PiiKind.IP_ADDRESS})
    assert parse_kinds("") == frozenset()
    assert parse_kinds("none") == frozenset()
    with pytest.raises(ValueError, match="phone"):
        parse_kinds("email,phone")


@pytest.mark.parametrize(("name", "expected"), NAMES_WITH_EXTENSION)
def test_an_address_used_as_a_file_name_keeps_its_extension(name: str, expected: str) -> None:
    """A path is an exit too: an address that names a file (a key export, a mail dump) is redacted even
    though the file's extension follows it, and only the address is replaced."""
    assert redact_pii(name) == (expected, {"email": 1})
    assert redact_pii(expected) == (expected, {})


@pytest.mark.parametrize("name", KEPT_NAMES)
def test_kept_addresses_stay_kept_under_a_file_extension(name: str) -> None:
    assert redact_pii(name) == (name, {})


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("93.184.216.34", "<IP_ADDRESS>", {"ip": 1}),
        ("a@acme.com", "<EMAIL>", {"email": 1}),
        ("2a00:1450:4001:82a::200e", "<IP_ADDRESS>", {"ip": 1}),
        ("\n93.184.216.34\n", "\n<IP_ADDRESS>\n", {"ip": 1}),
        ("jane@acme.com\n151.101.1.69", "<EMAIL>\n<IP_ADDRESS>", {"email": 1, "ip": 1}),
        ("93.184.216.34 151.101.1.69", "<IP_ADDRESS> <IP_ADDRESS>", {"ip": 2}),
        ("std::vector<93.184.216.34>", "std::vector<<IP_ADDRESS>>", {"ip": 1}),
        ('x[::2] = "2a00:1450:4001:82a::200e"', 'x[::2] = "<IP_ADDRESS>"', {"ip": 1}),
        ("«93.184.216.34» “jane@acme.com”", "«<IP_ADDRESS>» “<EMAIL>”", {"email": 1, "ip": 1}),
    ],
)
def test_addresses_at_the_edges_of_a_text_and_beside_other_text(
    text: str, expected: str, counts: dict[str, int]
) -> None:
    """The first and last characters of a text, newlines, punctuation that is not part of a word
    (non-ASCII too) and colons elsewhere on the line bound an address like any separator."""
    assert redact_pii(text) == (expected, counts)


@pytest.mark.parametrize(
    "text",
    [
        "é93.184.216.34é",  # inside a word, whatever its script
        "1.93.184.216.34",  # inside a longer dotted run, from either side
        "93.184.216.34.151.101.1.69",
        "x" * 60 + "version 93.184.216.34",  # the version context is read back from the address
    ],
)
def test_addresses_inside_longer_runs_or_after_a_version_word_are_kept(text: str) -> None:
    assert redact_pii(text) == (text, {})


def test_a_version_word_on_the_line_before_does_not_keep_an_address() -> None:
    assert redact_pii("version\n93.184.216.34") == ("version\n<IP_ADDRESS>", {"ip": 1})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::ffff:93.184.216.34", "::ffff:<IP_ADDRESS>"),
        ("64:ff9b::93.184.216.34", "64:ff9b::<IP_ADDRESS>"),
    ],
)
def test_an_ipv4_address_written_inside_ipv6_notation_is_hidden(text: str, expected: str) -> None:
    assert redact_pii(text) == (expected, {"ip": 1})
