"""Environment defaults (DESIGN §8), read when called — never at import — so tests and `dagster dev`
processes pick up the environment they were started with."""

from __future__ import annotations

import os
from pathlib import Path

from codelupe_dagster.backends.private_files import PRIVATE_UMASK, tighten
from codelupe_dagster.core.keys import DEFAULT_PREFIX

DEFAULTS: dict[str, str] = {
    "DATA_DIR": ".codelupe",
    "ES_CODE_INDEX": "codelupe-code",
    "ES_REPO_INDEX": "github-coding-repos",
    "REPO_WORKERS": "4",
    "FILE_WORKERS": "8",
    "BATCH_SIZE": "16",
    "BATCH_MAX_ACTIVE_RUNS": "4",
    "MIN_QUALITY_THRESHOLD": "0.3",
    "TRAIN_MIN_QUALITY": "0.7",
    "PII_REDACT": "email,ip",
    # Issue 11 (DESIGN §11): which licences training and export admit, and which search shows.
    "LICENSE_POLICY": "permissive",
    "SEARCH_LICENSE_POLICY": "any",
    "TRAIN_INCLUDE_CONTAMINATED": "false",
    "DECONTAMINATE_SETS": "auto",  # evaluation sets (docs/decontamination.md); none: off
    "OPT_OUT_FILE": "",  # forget patterns, one per line, re-read by crawled_repos and queued_repos
    "MIN_NEW_FILES": "1000",
    "MAX_DATASET_SIZE": "100000",
    "CHECK_INTERVAL": "300",
    "CRAWLER_MODE": "once",
    "SYNC_INTERVAL": "3600",
    "BASE_MODEL": "local:tiny-qwen2",
    "REDIS_KEY_PREFIX": DEFAULT_PREFIX,
    "WANDB_MODE": "offline",
    "CLONE_ALLOWED_SCHEMES": "https",
    "MAX_REPO_ATTEMPTS": "3",
    "REPO_RETRY_BACKOFF": "60",
    "LEASE_TTL": "120",
    "MAX_REPO_CRASHES": "10",
    # Issue 12: the corpus size a new dedup ledger is sharded for (docs/dedup_memory.md); read once, when the
    # ledger is created, and recorded in Redis.
    "DEDUP_EXPECTED_FILES": "10000000",
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


def env_bool(name: str, default: bool | None = None) -> bool:
    """`true`/`false` (also 1/0, yes/no, on/off, any case); anything else is a clear error."""
    raw = env_str(name, None if default is None else str(default).lower())
    value = (raw or "").lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def data_dir() -> Path:
    """Absolute DATA_DIR, so every process of a session agrees on it whatever its working directory."""
    return Path(env_str("DATA_DIR") or DEFAULTS["DATA_DIR"]).expanduser().resolve()


def make_process_private() -> int:
    """Umask 0o077 for this process and its children, and an existing DATA_DIR tightened to 0700.

    Called first by the CLI and by the code location, so every file and directory CodeLupe (and the
    Valkey server it starts) creates is private to its owner. Returns the previous umask. An absent
    DATA_DIR is not created here: commands that never touch it should not leave one behind.
    """
    previous = os.umask(PRIVATE_UMASK)
    directory = data_dir()
    if directory.is_dir():
        tighten(directory)
    return previous
