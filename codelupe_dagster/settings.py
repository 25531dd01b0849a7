"""Environment defaults (DESIGN §8), read when called — never at import — so tests and `dagster dev`
processes pick up the environment they were started with."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote_plus

DEFAULTS: dict[str, str] = {
    "DATA_DIR": ".codelupe",
    "ES_CODE_INDEX": "codelupe-code",
    "ES_REPO_INDEX": "github-coding-repos",
    "REPO_WORKERS": "4",
    "FILE_WORKERS": "8",
    "BATCH_SIZE": "16",
    "MIN_QUALITY_THRESHOLD": "0.3",
    "TRAIN_MIN_QUALITY": "0.7",
    "MIN_NEW_FILES": "1000",
    "MAX_DATASET_SIZE": "100000",
    "CHECK_INTERVAL": "300",
    "CRAWLER_MODE": "once",
    "SYNC_INTERVAL": "3600",
    "BASE_MODEL": "local:tiny-qwen2",
    "REDIS_KEY_PREFIX": "pipeline:",
    "WANDB_MODE": "offline",
    "CLONE_ALLOWED_SCHEMES": "https",
    "MAX_REPO_ATTEMPTS": "3",
    "REPO_RETRY_BACKOFF": "60",
    "LEASE_TTL": "120",
    "MAX_REPO_CRASHES": "10",
}


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value, treating an empty string as unset (compose files often pass `X=`)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default if default is not None else DEFAULTS.get(name)
    return value.strip()


def env_int(name: str, default: int | None = None) -> int:
    raw = env_str(name, None if default is None else str(default))
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float | None = None) -> float:
    raw = env_str(name, None if default is None else str(default))
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def data_dir() -> Path:
    """Absolute DATA_DIR, so every process of a session agrees on it whatever its working directory."""
    return Path(env_str("DATA_DIR") or DEFAULTS["DATA_DIR"]).expanduser().resolve()


def repos_dir() -> Path:
    raw = env_str("REPOS_DIR")
    return Path(raw).expanduser().resolve() if raw else data_dir() / "repos"


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
PRIVATE_DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


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


def ensure_private_dir(path: str | Path) -> Path:
    """``path`` created (with parents) and made readable by its owner only (0700), returned absolute.

    DATA_DIR holds clones, spooled code, the Valkey password and checkpoints; 0700 on the directory keeps
    all of it from other local users whatever the modes below it. A directory owned by another user (a
    shared volume) cannot be chmod-ed by us and is left as its owner set it.
    """
    directory = Path(path).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    _tighten(directory)
    return directory


def make_process_private() -> int:
    """Umask 0o077 for this process and its children, and an existing DATA_DIR tightened to 0700.

    Called first by the CLI and by the code location, so every file and directory CodeLupe (and the
    Valkey server it starts) creates is private to its owner. Returns the previous umask. An absent
    DATA_DIR is not created here: commands that never touch it should not leave one behind.
    """
    previous = os.umask(PRIVATE_UMASK)
    directory = data_dir()
    if directory.is_dir():
        _tighten(directory)
    return previous


def _tighten(directory: Path) -> None:
    info = directory.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE:
        os.chmod(directory, PRIVATE_DIR_MODE)
