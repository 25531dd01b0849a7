"""PII redaction: what is replaced, what is kept, and that it is configurable and idempotent."""

from __future__ import annotations

import pytest

from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind, is_public_ip, parse_kinds, redact_pii


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Author: Jane Doe <jane.doe@gmail.com>", "# Author: Jane Doe <<EMAIL>>"),
        ('MAINTAINER = "bob+lists@corp.co.uk"', 'MAINTAINER = "<EMAIL>"'),
        ('"\\nsupport@acme.io"', '"\\n<EMAIL>"'),  # the escape stays whole
        ("mailto:ops@acme.dev?subject=x", "mailto:<EMAIL>?subject=x"),
    ],
)
def test_emails_are_replaced(text: str, expected: str) -> None:
    redacted, counts = redact_pii(text)
    assert redacted == expected
    assert counts == {"email": 1}


@pytest.mark.parametrize(
    "text",
    [
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
    ],
)
def test_non_personal_at_signs_are_kept(text: str) -> None:
    assert redact_pii(text) == (text, {})


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "151.101.1.69", "2a00:1450:4001:82a::200e", "2606:2800:220:1:248:1893:25c8:1946"],
)
def test_public_ips_are_replaced(address: str) -> None:
    redacted, counts = redact_pii(f'HOST = "{address}"  # prod')
    assert redacted == 'HOST = "<IP_ADDRESS>"  # prod'
    assert counts == {"ip": 1}


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3", "172.16.0.1", "192.168.1.1",  # RFC 1918
        "127.0.0.1", "::1", "169.254.1.1", "fe80::1:2:3",  # loopback, link-local
        "224.0.0.251", "ff02::1:2:3",  # multicast
        "0.0.0.0", "255.255.255.0", "240.1.2.3",  # unspecified, reserved
        "100.64.1.1",  # CGNAT
        "192.0.2.10", "198.51.100.7", "203.0.113.5", "2001:db8::1:2",  # documentation
        "fd12:3456:789a::1",  # ULA
        "8.8.8.8", "1.1.1.1",  # public resolvers
    ],
)  # fmt: skip
def test_non_public_ips_are_kept(address: str) -> None:
    assert not is_public_ip(address)
    text = f"connect('{address}')"
    assert redact_pii(text) == (text, {})


@pytest.mark.parametrize(
    "text",
    [
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
    ],
)
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


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("keys/alice.smith@gmail.com.asc", "keys/<EMAIL>.asc"),
        ("people/alice@corp-mail.com.py", "people/<EMAIL>.py"),
        ("exports/bob@acme.io.json", "exports/<EMAIL>.json"),
        ("bob@firma.com.pl", "<EMAIL>.pl"),  # a file extension or Poland: the address goes either way
    ],
)
def test_an_address_used_as_a_file_name_keeps_its_extension(name: str, expected: str) -> None:
    """A path is an exit too: an address that names a file (a key export, a mail dump) is redacted even
    though the file's extension follows it, and only the address is replaced."""
    assert redact_pii(name) == (expected, {"email": 1})
    assert redact_pii(expected) == (expected, {})


@pytest.mark.parametrize(
    "name",
    ["logo@2x.png", "user@example.com.txt", "noreply@github.com.txt", "x@y.example.json", "a@b.com.tar"],
)
def test_kept_addresses_stay_kept_under_a_file_extension(name: str) -> None:
    assert redact_pii(name) == (name, {})
