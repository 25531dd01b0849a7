"""Values that look like credentials but leak nothing: documented examples, placeholders,
template references and test vectors. Keeping them keeps tutorials and tests intact."""

from __future__ import annotations

import math
import re
from collections import Counter

# Values published in vendors' documentation as examples.
DOCUMENTED_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "ASIAIOSFODNN7EXAMPLE",
        "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",  # Google's Maps docs
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe docs
        "xoxb-not-a-real-token-this-will-not-work",
        # The Azure Storage emulator's (Azurite's) well-known key for `devstoreaccount1`.
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    }
)

# The payloads of jwt.io's introduction examples (`{"sub":"1234567890","name":"John Doe",…}`),
# base64url. Tutorials copy them, often re-signed, so a JWT carrying one is an example whatever
# its signature.
DOCUMENTED_JWT_PAYLOADS = (".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIi",)

# user:password pairs that RFC 7617 and HTTP tutorials use as examples (decoded, lowercase).
DOCUMENTED_BASIC_CREDENTIALS = frozenset(
    {"aladdin:open sesame", "aladdin:opensesame", "user:pass", "user:password"}
)

_PLACEHOLDER_WORDS = frozenset(
    {
        "changeme", "change_me", "change-me", "password", "passwd", "secret", "token", "apikey",
        "api_key", "example", "test", "testing", "dummy", "placeholder", "none", "null", "nil",
        "undefined", "redacted", "todo", "fixme", "foobar", "foo", "bar", "admin", "root", "user",
        "username", "pass", "default", "empty", "string", "required", "optional", "mysecret",
        "mypassword", "secretkey", "secret_key", "yourpassword", "your_password", "your-password",
        "true", "false", "bearer", "basic",
    }
)  # fmt: skip
_PLACEHOLDER_SHAPES = re.compile(
    r"^(?:[x*.#_\-]+|(.)\1+|\$.*|\{.*\}|<.*>|%.*|\[.*\]|.*\{\{.*|.*\$\{.*|"
    r"(?:your|my|some|insert|enter|replace|fake|dummy|sample|test)[_\- ].*|"
    r".*(?:example|placeholder|dummy|changeme|xxxx|\*\*\*\*|redacted|<secret:|passw(?:or)?d|secret|"
    r"os\.environ|process\.env|getenv|env\[).*)$",
    re.IGNORECASE,
)
# A body of one or two characters repeated, or a run such as 0123456789 / abcdef: typed by hand.
_SEQUENCES = ("0123456789", "abcdefghij", "1234567890", "abcdef0123")


# Letters people type for look-alike characters (`s3cr3t`, `Pa55w0rd`, `p@ss`); `1` is i or l.
_LEET = (str.maketrans("013457@$!", "oieastasi"), str.maketrans("013457@$!", "oleastasl"))
_TRAILING = "0123456789!?.#*_-"


def stand_in_word(value: str) -> bool:
    """A placeholder word dressed as a password: look-alike characters and trailing digits or
    punctuation (`secr3t`, `test123`, `P@ssw0rd1!`, `admin2024`). Someone typed it for a test or
    a tutorial; a generated or chosen secret is not one dictionary stand-in plus a counter."""
    core = value.rstrip(_TRAILING)
    return bool(core) and any(core.translate(table).lower() in _PLACEHOLDER_WORDS for table in _LEET)


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


def is_placeholder(value: str) -> bool:
    """True for values that stand for a secret without being one."""
    value = value.strip()
    if len(value) < 4 or any(c.isspace() for c in value):
        return True
    if value in DOCUMENTED_EXAMPLES or value.lower() in _PLACEHOLDER_WORDS or stand_in_word(value):
        return True
    return _PLACEHOLDER_SHAPES.match(value) is not None


def is_fake_token(value: str) -> bool:
    """A value with a real token's prefix but a hand-typed body: `ghp_xxxx...`, `sk_live_0000...`,
    or containing EXAMPLE/XXXX/1234567890 as vendors' docs and test suites write them."""
    if value in DOCUMENTED_EXAMPLES or _TYPED_MARKERS.search(value) or worded_body(value):
        return True
    if any(payload in value for payload in DOCUMENTED_JWT_PAYLOADS):
        return True
    lowered = value.lower()
    if any(seq in lowered for seq in _SEQUENCES):
        return True
    tail = value[-20:]
    return len(set(tail)) <= 3


# Markers people type, in the case they type them: a random body of a thousand base64
# characters (a key block) holds `xXxX` or `ExAmPlE` by chance, never `XXXX` in one case.
_TYPED_MARKERS = re.compile(r"EXAMPLE|[Ee]xample|XXXX|xxxx|\*\*\*\*|<SECRET:")
_BODY_PIECES = re.compile(r"[-_.]")
_LOWER_WORD = re.compile(r"[a-z]{2,}")


def worded_body(value: str) -> bool:
    """A real prefix followed by words (`xoxb-your-token`, `xoxp-not-a-real-one`): vendors'
    docs write these; a generated body has digits or mixed case in at least one piece."""
    pieces = _BODY_PIECES.split(value)[1:]
    return len(pieces) >= 2 and all(_LOWER_WORD.fullmatch(piece) or piece == "a" for piece in pieces)
