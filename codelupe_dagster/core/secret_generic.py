"""Generic credential forms: a telling name and a value, in any common syntax, and the places
where credentials travel (HTTP auth headers, curl's -u, URLs with userinfo, connection strings).

The value alone does not identify these, so each match is gated: placeholders and references
are skipped (allow-list), and unquoted values must look random (entropy, digits and letters,
not an identifier), because `token = self.next_token` is code, not a secret.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from codelupe_dagster.core.secret_allowlist import (
    DOCUMENTED_BASIC_CREDENTIALS,
    is_fake_token,
    is_placeholder,
    shannon_entropy,
)

# Java properties write the name with dots (`app.stripe.api.key`); Rails names `secret_key_base`.
_KEY = (
    r"(?P<key>(?:passw(?:or)?d|pwd|secret|api[_\-.]?key|access[_\-.]?key|private[_\-.]?key|token|"
    r"client[_\-.]?secret|auth[_\-.]?key|credentials?)"
    r"(?:s|[_\-]?(?:key|value|str|string|hash|b64|base64|secret|plain|raw|base|\d)){0,2})"
)
# Besides the assignment operators: a typed declaration (Rust `const X: &str =`, TypeScript
# `x: string =`), and the name/value pairs of XML (`<add key="X" value="…"/>`, `<property
# name="x" value="…"/>`) and Kubernetes env lists (`- name: X` then `value: …` on the next line).
_TYPED = r":\s*&?(?:'static\s+)?(?:str|string|String)\s*="
_VALUE_ATTRIBUTE = r"(?<=\s)value\s*[=:]"
# A subscript's bracket and Ruby's `||=` (`ENV["API_KEY"] ||= '…'`); quotes escaped by an
# enclosing string (`"API_KEY = \"…\"\n"` in a notebook's JSON) delimit the value as well.
_QUOTED = re.compile(
    _KEY
    + r"(?P<keyquote>[\"']?)\]?\s*(?P<op>\|\|=|&&=|:=|=>|\.=|\?=|=|"
    + _TYPED
    + "|:|,|"
    + _VALUE_ATTRIBUTE
    + ")"
    r"\s*(?:[urbf]{1,2})?(?P<quote>\\?[\"'`])(?P<value>[^\"'`\n\\]{1,200})(?P=quote)",
    re.IGNORECASE,
)
# The value is the rest of the line (a comment, `;` or `,` may follow): `tokens = a*b + c` is code.
# `*`, `(` and `)` (Django's key alphabet) are only taken on a line that is nothing but the
# assignment (INI, .env, properties): see _whole_line.
_UNQUOTED = re.compile(
    _KEY + r"(?P<keyquote>[\"']?)[ \t]*(?P<op>:=|=|:|\r?\n[ \t]*value[ \t]*:)[ \t]*"
    r"(?P<value>[^\s\"'`,;\[\]{}<>]{8,200})(?=[ \t]*(?:$|#|//|;|,|\"|'))",
    re.IGNORECASE | re.MULTILINE,
)
# A password in a URL's query string (JDBC `?user=u&password=p`): the value ends at the next
# parameter, wherever the URL itself sits (a string literal, TOML, a call).
_QUERY_PASSWORD = re.compile(
    r"(?<=[?&])(?:password|passwd|pwd)=(?P<value>[^&;\s\"'`#<>]{4,200})", re.IGNORECASE
)
# Command-line options: `wget --password=p`, `--http-password p`, `--proxy-password=p`.
_OPTION_PASSWORD = re.compile(
    r"(?:(?<=\s-)|(?<=--http)|(?<=--ftp)|(?<=--proxy))-password[= ][\"']?(?P<value>[^\s\"'`]{4,200})"
)
_XML_ELEMENT = re.compile(
    r"<(?P<key>[\w.:\-]*(?:password|secret|token|apikey|api_key)[\w.\-]*)>(?P<value>[^<>\s]{4,200})</(?P=key)>",
    re.IGNORECASE,
)
_AUTH_HEADER = re.compile(
    r"authorization[\"']?\s*[:=,]\s*[\"']?(?P<scheme>bearer|basic|token|bot|digest)\s+"
    r"(?P<value>[A-Za-z0-9._~+/=\-]{8,})",
    re.IGNORECASE,
)
# Quoted, the password may hold `@` and `%` (`--user "deploy:p@ss%21"`); bare, `@` ends it.
_CURL_USER = re.compile(
    r"(?<![\w\-])(?:-u|--user)[ =](?P<q>[\"'])?[^\s:\"'@]{1,100}:"
    r"(?P<value>(?(q)[^\s\"']|[^\s\"'@]){4,200})(?(q)(?P=q)|[\"']?)(?=\s|$)"
)
# The user may be empty: `redis://:password@cache:6379`.
_URL_USERINFO = re.compile(r"://[^\s:/@\"'`]{0,100}:(?P<value>[^\s@/\"'`]{1,200})@[\w.\-\[]")
# A `;`-separated connection string (ADO.NET, ODBC): `…;User ID=etl;Password=p;Encrypt=True`.
# The value is whatever the string holds up to the next `;`, judged like a chosen password.
_CONNECTION_PASSWORD = re.compile(
    r"(?:password|pwd)[ \t]*=[ \t]*(?P<value>[^;\"'\n{}]{1,200}?)[ \t]*(?=;|\"|'|\\|$)",
    re.IGNORECASE | re.MULTILINE,
)
# Terraform declares the name on a block's label line and the value lines below it:
# `variable "stripe_api_key" {\n  type = string\n  sensitive = true\n  default = "…"\n}`.
_TERRAFORM_VARIABLE = re.compile(
    r"variable[ \t]+\"(?P<label>[\w\-]{1,100})\"[ \t]*\{[ \t]*\r?\n(?:[^{}\n]*\n){0,8}?"
    r"[ \t]*default[ \t]*=[ \t]*\"(?P<value>[^\"\n\\]{1,200})\""
)
_TELLING_NAME = re.compile(_KEY, re.IGNORECASE)
# Package-source credentials on a command line: `dotnet nuget add source URL -u user -p pw`
# (nuget.exe: `sources add … -Password pw`), across `\`/`` ` ``/`^` line continuations.
_NUGET_PASSWORD = re.compile(
    r"nuget(?:\.exe)?[ \t]+(?:add[ \t]+source|sources?[ \t]+(?:add|update)|update[ \t]+source)"
    r"(?:[^\n]|(?<=[\\`^])\r?\n){0,400}?[ \t](?:-p|--password|-Password)[ \t]+(?P<q>[\"'])?"
    r"(?P<value>(?(q)[^\"'\n]|[^\s\"'`]){4,200})(?(q)(?P=q))",
    re.IGNORECASE,
)
# Bundler's per-source credentials: `bundle config [set] [--local|--global] HOST USER:PASSWORD`;
# the whole `user:password` is replaced (a gem server's licence is often the pair itself).
_BUNDLE_CREDENTIALS = re.compile(
    r"bundle[ \t]+config[ \t]+(?:(?:set|--local|--global)[ \t]+)*[^\s\-\"']\S*\.\S+[ \t]+[\"']?"
    r"(?P<value>[^\s\"':\-][^\s\"':]{0,99}:(?P<password>[^\s\"']{4,200}))"
)


def _kind_of_key(key: str) -> str:
    key = key.lower()
    if "pass" in key or "pwd" in key:
        return "password"
    if "token" in key:
        return "token"
    if "api" in key or "access" in key or "auth" in key:
        return "api_key"
    return "secret"


def _inside_literal(match: re.Match[str]) -> bool:
    """The name is itself inside a string literal (`"PWD=" + cmd.Dir`): what follows the
    operator is code, and a quote after it opens the NEXT literal."""
    if "quote" in match.groupdict() and match.group("quote").startswith("\\"):
        return False  # the value's quotes are escaped: the assignment is code inside a string
    text = match.string
    position = match.start("key")
    while position > 0 and (text[position - 1].isalnum() or text[position - 1] in "_-"):
        position -= 1
    return position > 0 and text[position - 1] in "\"'`" and not match.group("keyquote")


def _first_argument_name(match: re.Match[str]) -> bool:
    """The name is a string literal that opens a call's arguments: `f("X_TOKEN", ...)`."""
    if not match.group("keyquote"):
        return False
    text = match.string
    position = match.start("key")
    while position > 0 and (text[position - 1].isalnum() or text[position - 1] in "_-."):
        position -= 1
    if position == 0 or text[position - 1] != match.group("keyquote"):
        return False
    return text[max(0, position - 40) : position - 1].rstrip().endswith("(")


def _classify_quoted(match: re.Match[str]) -> str | None:
    value = match.group("value")
    if _inside_literal(match) or is_placeholder(value):
        return None
    if match.group("op") == "," and not _first_argument_name(match):
        # f(token, "x") and ("Token", "copy_context") are lists; setProperty("X_TOKEN", "v")
        # names its value.
        return None
    if typed_by_hand(value):
        return None
    # `h['X-Access-Token'] = v` is a header, which the header rule judges and names.
    text, key_start = match.string, match.start("key")
    if text[key_start - 1 : key_start] == "-" and "]" in text[match.end("key") : match.start("op")]:
        return None
    return _kind_of_key(match.group("key"))


def typed_by_hand(value: str) -> bool:
    """A hand-written password may be short and simple, but a very short or repetitive value,
    or a single word or phrase with no digit (`'python'`, `"same-origin"`, `pa?sword`), is a
    test value or a name, not a leaked credential."""
    if len(value) < 6 or shannon_entropy(value) < 2.0:
        return True
    return wordy(value) and not any(c.isdigit() for c in value)


# Code, not a value: words with at most a short trailing number (`user_password2`), attribute
# access (`self.token`, `settings.SECRET_KEY`), calls, numbers and versions.
# A hex literal up to 160 bits is a number, a mask or an address; 0x + 64 hex digits is a
# 256-bit private key (Ethereum's, for one).
_IDENTIFIER_LIKE = re.compile(
    r"^[A-Za-z_$][A-Za-z_$]*\d{0,2}$|^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$|^[\w.\-]+\("
    r"|^[\d.]+$|^-?0[xX][0-9a-fA-F]{1,40}$"
)


_WORD = re.compile(r"[A-Z]?[a-z]{2,}|[A-Z]{3,}")


def wordy(value: str) -> bool:
    """Mostly made of words (`testRSA2048PrivateKey`, `same-origin`, `doesnotexist`): names and
    prose, where a generated secret has short runs of letters (`f83Kq9ZxL2mPq7Rw`)."""
    in_words = sum(len(word) for word in _WORD.findall(value) if len(word) >= 3)
    return in_words >= 0.6 * len(value)


_CASE_RUN = re.compile(r"[a-z]+|[A-Z]+|[0-9]+")
_TITLE_RUN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def _mean_run(pattern: re.Pattern[str], value: str) -> float:
    runs = pattern.findall(value)
    return sum(len(run) for run in runs) / len(runs) if runs else float("inf")


def spelled(value: str) -> bool:
    """Wordy, and written in runs of one case: `Sfyvizu` and `BHM` make one random base62 token
    in eight look wordy, but such a token switches between lower case, upper case and digits
    every character or two. Names and prose keep runs of 2.2 characters or more on average, or
    of 3 once a capital and the lower case after it count as one (`TestToken2Value`). Measured
    on CPython's identifiers with a digit: 98% stay wordy; random 40-character base62: 1.6%."""
    if not wordy(value) or _upper_base36(value):
        return False
    return _mean_run(_CASE_RUN, value) >= 2.2 or _mean_run(_TITLE_RUN, value) >= 3.0


_DIGIT_RUN = re.compile(r"[0-9]+")


def _upper_base36(value: str) -> bool:
    """Capitals and digits only, the digits in three runs or more and no separator
    (`RBO3M2TZEP67TGV29J2I5AVLUGLKTLLFN8`): a generated key (Etherscan's, Vultr's), whose letter
    runs read as words to `wordy`; an upper-case name separates its words (`HTTP2_SERVER`)."""
    return (
        len(value) >= 16
        and value.isalnum()
        and value.isascii()
        and not any(c.islower() for c in value)
        and len(_DIGIT_RUN.findall(value)) >= 3
    )


def looks_random(value: str, min_entropy: float = 3.0) -> bool:
    if is_placeholder(value) or shannon_entropy(value) < min_entropy or spelled(value):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha and _IDENTIFIER_LIKE.match(value) is None


_LINE_START = re.compile(r"[ \t]*(?:export[ \t]+|ENV[ \t]+)?[\w.\-]*")


def _whole_line(match: re.Match[str]) -> bool:
    """The assignment is the whole line (`secret_key = …` in INI, .env, properties): a value
    there may hold `*()`, where in code `token = x*(y)` is an expression."""
    text = match.string
    line_start = text.rfind("\n", 0, match.start("key")) + 1
    head = _LINE_START.match(text, line_start, match.start("key"))
    value = match.group("value")
    return head is not None and head.end() == match.start("key") and value[0] not in "(*"


def _classify_unquoted(match: re.Match[str]) -> str | None:
    value = match.group("value")
    if _inside_literal(match) or not looks_random(value):
        return None
    if any(c in value for c in "*()") and not _whole_line(match):
        return None
    return _kind_of_key(match.group("key"))


def _classify_xml(match: re.Match[str]) -> str | None:
    return _kind_of_key(match.group("key")) if looks_random(match.group("value"), 2.5) else None


def _basic_credentials(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if ":" in decoded and decoded.isprintable() else None


def _classify_auth(match: re.Match[str]) -> str | None:
    value = match.group("value")
    if match.group("scheme").lower() == "basic":
        # Basic credentials are base64 of `user:password`; anything else is not a credential,
        # and the RFCs' own example pair is documentation.
        decoded = _basic_credentials(value)
        if decoded is None or decoded.lower() in DOCUMENTED_BASIC_CREDENTIALS:
            return None
        return "auth_header"
    return "auth_header" if looks_random(value, 3.0) else None


def _classify_connection_password(match: re.Match[str]) -> str | None:
    """Only inside a `;`-separated string: the pair before it ends with `;`."""
    text = match.string
    before = text[max(0, match.start() - 200) : match.start()].rstrip(" \t")
    if not before.endswith(";") or "=" not in before.rsplit("\n", 1)[-1]:
        return None
    return "password" if _classify_password(match) else None


def _classify_terraform_variable(match: re.Match[str]) -> str | None:
    key = _TELLING_NAME.search(match.group("label"))
    value = match.group("value")
    if key is None or is_placeholder(value) or typed_by_hand(value):
        return None
    return _kind_of_key(key.group("key"))


def _classify_bundle(match: re.Match[str]) -> str | None:
    password = unquote(match.group("password"))
    if is_placeholder(password) or typed_by_hand(password):
        return None
    return "connection_string_password"


def _classify_password(match: re.Match[str]) -> str | None:
    """URL userinfo and curl's -u: judged like a quoted password once percent-decoded
    (`p%40ssw0rd` is `p@ssw0rd`), so `http://evil:thing@` and `My%20Pass` stay."""
    value = unquote(match.group("value"))
    if is_placeholder(value) or typed_by_hand(value):
        return None
    return "connection_string_password"


# --- credential files and headers ---------------------------------------------------------------
# API-key headers besides Authorization (raw HTTP, curl -H, requests/fetch header maps):
# `X-API-Key: v`, `'X-Auth-Token': 'v'`, `headers["X-Access-Token"] = "v"`, Azure's
# `Ocp-Apim-Subscription-Key`, GitLab's `PRIVATE-TOKEN`. The regex starts at the name's core (the
# anchor); an `X-…-` before it changes nothing.
_HEADER_NAMES = (
    "api-key", "apikey", "api-token", "apitoken", "auth-token", "authtoken", "access-token",
    "accesstoken", "secret-key", "subscription-key", "private-token",
)  # fmt: skip
_API_KEY_HEADER = re.compile(
    r"(?:api-?key|api-?token|auth-?token|access-?token|secret-key|subscription-key|private-token)"
    r"[\"']?\]?[ \t]*(?::|=>|=|,)[ \t]*[\"']?(?P<value>[A-Za-z0-9._~+/=\-]{8,200})(?![A-Za-z0-9._~+/=\-])",
    re.IGNORECASE,
)


def _classify_header(match: re.Match[str]) -> str | None:
    return "api_key" if looks_random(match.group("value"), 3.0) else None


# ~/.netrc (and _netrc): `machine HOST login USER password PASS`, on one line or several.
# (The `default` entry is left: `default` is too common a word in code to anchor on.)
_NETRC = re.compile(
    r"machine[ \t]+\S+(?:\s+(?:login|account|port)[ \t]+\S+){0,3}\s+password[ \t]+"
    # Quotes and backslashes: a netrc inside a string literal (a parser's tests), not a file.
    r"(?P<value>[^\s\"'\\]{1,200})(?=\s|$)"
)
# ~/.pgpass: `hostname:port:database:username:password`, one entry a line (`*` is a wildcard).
# The prefilter finds `:port:db:user:`; the host before it is checked in _classify_pgpass.
_PGPASS = re.compile(r":(?:\d{1,5}|\*):[^\s:]+:[^\s:]+:(?P<value>[^\s:]{1,200})[ \t]*(?=\r?\n|$)")
_PGPASS_HOST = re.compile(r"(?:\*|[A-Za-z0-9][A-Za-z0-9.\-]*)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _classify_file_password(match: re.Match[str]) -> str | None:
    """A password field of a credential file (.netrc, .pgpass): judged like a URL's password."""
    return "password" if _classify_password(match) else None


def _classify_pgpass(match: re.Match[str]) -> str | None:
    text = match.string
    line_start = text.rfind("\n", 0, match.start()) + 1
    host = text[line_start : match.start()]
    named = _PGPASS_HOST.fullmatch(host) and (host == "*" or any(c.isalpha() for c in host))
    if not named and not _IPV4.fullmatch(host):
        return None
    return _classify_file_password(match)


# npm's `_auth=` (.npmrc, also scoped `//host/:_auth=`) and Docker's config.json `"auth": "…"`
# hold base64 of `user:password`.
_BASIC_AUTH_VALUE = re.compile(
    r"(?:_auth[ \t]*=[ \t]*[\"']?|\"auth\"[ \t]*:[ \t]*\")"
    r"(?P<value>[A-Za-z0-9+/]{8,400}={0,2})(?![A-Za-z0-9+/=])"
)


def _classify_basic_value(match: re.Match[str]) -> str | None:
    decoded = _basic_credentials(match.group("value"))
    if decoded is None or decoded.lower() in DOCUMENTED_BASIC_CREDENTIALS:
        return None
    password = decoded.split(":", 1)[1]
    return None if is_placeholder(password) or typed_by_hand(password) else "basic_auth"


# An htpasswd line: `user:` and a bcrypt, Apache MD5 (`$apr1$`) or `{SHA}` hash. A password hash
# leaks the password to anyone who can brute-force it; only the hash is replaced.
_HTPASSWD = re.compile(
    r"^[\w.@\-]{1,64}:(?P<value>\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}|\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}"
    r"|\{SHA\}[A-Za-z0-9+/]{27}=)(?=[:\s]|$)",
    re.MULTILINE,
)


def _classify_htpasswd(match: re.Match[str]) -> str | None:
    value = match.group("value")
    # (A hash starts with `$`, which the placeholder test reads as a template reference.)
    return None if is_fake_token(value) or shannon_entropy(value) < 3.5 else "password_hash"


# A Kubernetes Secret's `data:` entries: base64 values under `data:` in a manifest that says
# `kind: Secret` (before or after). Every entry in the window is a match (`GenericRule.every`).
_K8S_DATA_ENTRY = re.compile(
    r"^(?P<indent>[ \t]+)[\w.\-]+:[ \t]*[\"']?(?P<value>[A-Za-z0-9+/]{12,}={0,2})[\"']?[ \t]*$", re.MULTILINE
)
_K8S_DATA_KEY = re.compile(r"[ \t]*(?:data|stringData):[ \t]*$")


def _classify_k8s_data(match: re.Match[str]) -> str | None:
    """The entry sits in the `data:` block: the first line above it that is indented less is
    `data:` (a `metadata:` label or annotation is not a secret)."""
    text = match.string
    indent = len(match.group("indent"))
    end = match.start()
    while end > 0:
        start = text.rfind("\n", 0, end - 1) + 1
        line = text[start : end - 1] if text[end - 1] == "\n" else text[start:end]
        stripped = line.lstrip(" \t")
        if stripped and len(line) - len(stripped) < indent:
            if not _K8S_DATA_KEY.fullmatch(line):
                return None
            break
        if stripped.startswith("---"):
            return None
        end = start
    value = match.group("value")
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return "k8s_secret" if not is_placeholder(value) and shannon_entropy(value) >= 3.0 else None


@dataclass(frozen=True)
class GenericRule:
    """Like a table row (see SecretRule): the regex runs at each anchor (`keywords`) the prefilter
    finds, or in a window around it when `back` is set."""

    kind: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    classify: Callable[[re.Match[str]], str | None]
    anchor_case: bool = False
    back: int | None = None
    forward: int = 400
    # Every match in the window around an anchor, not just the first (a Secret's data entries).
    every: bool = False
    # For ASCII text, a Hyperscan regex used instead of the keywords (see SecretRule).
    anchor_pattern: str = ""


# Each alternative of _KEY starts with one of these, so the regex is matched at the anchor.
_KEY_ANCHORS = (
    "passw", "pwd", "secret", "token", "credential",
    "apikey", "api_key", "api-key", "accesskey", "access_key", "access-key",
    "privatekey", "private_key", "private-key", "clientsecret", "client_secret", "client-secret",
    "authkey", "auth_key", "auth-key", "api.key", "access.key", "private.key", "client.secret",
    "auth.key",
)  # fmt: skip

GENERIC_RULES: tuple[GenericRule, ...] = (
    GenericRule("auth_header", _AUTH_HEADER, ("authorization",), _classify_auth),
    GenericRule("connection_string_password", _CURL_USER, ("-u", "--user"), _classify_password, True),
    GenericRule("connection_string_password", _OPTION_PASSWORD, ("-password",), _classify_password, True),
    GenericRule(
        "connection_string_password", _QUERY_PASSWORD, ("password=", "passwd=", "pwd="), _classify_password
    ),
    GenericRule("connection_string_password", _URL_USERINFO, ("://",), _classify_password),
    GenericRule("password", _CONNECTION_PASSWORD, ("password", "pwd"), _classify_connection_password),
    GenericRule("connection_string_password", _NUGET_PASSWORD, ("nuget",), _classify_password),
    GenericRule("connection_string_password", _BUNDLE_CREDENTIALS, ("bundle",), _classify_bundle),
    GenericRule("password", _TERRAFORM_VARIABLE, ("variable",), _classify_terraform_variable, True),
    GenericRule("password", _NETRC, ("machine",), _classify_file_password, True),
    GenericRule(
        "password",
        _PGPASS,
        (),
        _classify_pgpass,
        anchor_pattern=r":(?:[0-9]{1,5}|\*):[^\s:]+:[^\s:]+:",
    ),
    GenericRule("basic_auth", _BASIC_AUTH_VALUE, ("_auth", '"auth"'), _classify_basic_value, True),
    GenericRule(
        "password_hash",
        _HTPASSWD,
        ("$2a$", "$2b$", "$2y$", "$apr1$", "{SHA}"),
        _classify_htpasswd,
        True,
        back=70,
        forward=100,
    ),
    GenericRule(
        "k8s_secret",
        _K8S_DATA_ENTRY,
        ("kind: Secret",),
        _classify_k8s_data,
        True,
        back=2000,
        forward=2000,
        every=True,
    ),
    GenericRule(
        "password",
        _XML_ELEMENT,
        ("password>", "secret>", "token>", "apikey>", "api_key>"),
        _classify_xml,
        back=60,
        forward=300,
    ),
    GenericRule(
        "password",
        _QUOTED,
        _KEY_ANCHORS,
        _classify_quoted,
    ),
    GenericRule(
        "password",
        _UNQUOTED,
        _KEY_ANCHORS,
        _classify_unquoted,
    ),
    # Headers the name=value forms leave (`'X-Api-Key: v'` inside one literal, `h['X-Auth-Token'] = v`).
    GenericRule("api_key", _API_KEY_HEADER, _HEADER_NAMES, _classify_header),
)
