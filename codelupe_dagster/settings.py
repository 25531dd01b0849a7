"""Environment defaults (DESIGN §8), read when called — never at import — so tests and `dagster dev`
processes pick up the environment they were started with."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
    "MAX_REPO_ATTEMPTS": "3",
    "REPO_RETRY_BACKOFF": "60",
    "LEASE_TTL": "120",
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


def mask_url(url: str) -> str:
    """The URL with its credentials replaced, for error messages and logs (secrets are never logged).

    A user name without a password is masked too: tokens are often passed that way (``https://TOKEN@host``).
    Host and port are kept exactly as written (IPv6 brackets included), so the message still says where.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    masked = f"{user}:***" if has_password else "***"
    return urlunsplit(parts._replace(netloc=f"{masked}@{host}"))
