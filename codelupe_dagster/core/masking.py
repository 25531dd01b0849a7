"""Credentials in URLs and free text, masked for messages and logs: pure string rules, no I/O."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

# Query parameters that carry secrets in URLs people paste (GitLab's private_token, S3's X-Amz-Signature,
# OAuth's access_token and client_secret, ...): the name, or its last `_`/`-` separated word, is one of these.
_SECRET_PARAM = re.compile(
    r"(?:^|.*[_-])(?:password|passwd|pwd|token|access_token|private_token|api_key|apikey|key|secret|sig"
    r"|signature|auth|credential|credentials)$",
    re.IGNORECASE,
)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#]*)(?P<rest>.*)$", re.DOTALL)
# A URL inside free text: up to whitespace or a quote; trailing sentence punctuation is not part of it.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_TRAILING_PUNCTUATION = ".,;:!)]}"
MASK = "***"
_USER_NAME_IS_NOT_SECRET = frozenset({"ssh", "git+ssh", "ssh+git"})


def mask_url(url: str) -> str:
    """The URL with its credentials replaced, for error messages and logs (secrets are never logged).

    Userinfo is masked whole when it is a single word (tokens are often passed as ``https://TOKEN@host``)
    and in its password part otherwise; query parameters named like secrets (``?access_token=…``) keep
    their name and lose their value. Everything else is kept exactly as written (host, port, IPv6
    brackets, parameter order), so the message still says where. Works on text, not a parsed URL, so a
    malformed URL is masked too instead of raising.
    """
    match = _URL.match(url)
    if match is None:
        return url
    return match["scheme"] + _mask_authority(match["authority"]) + _mask_query(match["rest"])


def has_credentials(url: str) -> bool:
    """True when the URL carries a secret: a password, a token as user name, or a secret-named parameter.

    A bare user name is a secret except on ssh, where it names the account (``ssh://git@host``) and the
    key does the authenticating.
    """
    match = _URL.match(url)
    if match is None:
        return False
    userinfo, at, _ = match["authority"].rpartition("@")
    scheme = match["scheme"][: -len("://")].lower()
    if at and (":" in userinfo or scheme not in _USER_NAME_IS_NOT_SECRET):
        return True
    return _mask_query(match["rest"]) != match["rest"]


def mask_secrets_in_text(text: str) -> str:
    """Every URL inside ``text`` (an exception message, a log line) masked with `mask_url`."""
    return _URL_IN_TEXT.sub(lambda found: _mask_found(found.group(0)), text)


def _mask_found(candidate: str) -> str:
    url = candidate.rstrip(_TRAILING_PUNCTUATION)
    return mask_url(url) + candidate[len(url) :]


def _mask_authority(authority: str) -> str:
    if "@" not in authority:
        return authority
    userinfo, _, host = authority.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    return f"{user}:{MASK}@{host}" if has_password else f"{MASK}@{host}"


def _mask_query(rest: str) -> str:
    """Masks secret-named values in the query (the part between ``?`` and ``#``) of a URL's tail."""
    path, question, after = rest.partition("?")
    if not question:
        return rest
    query, hash_mark, fragment = after.partition("#")
    masked = "&".join(_mask_parameter(parameter) for parameter in query.split("&"))
    return f"{path}?{masked}{hash_mark}{fragment}"


def _mask_parameter(parameter: str) -> str:
    name, equals, value = parameter.partition("=")
    if equals and value and _SECRET_PARAM.match(unquote_plus(name)):
        return f"{name}={MASK}"
    return parameter
