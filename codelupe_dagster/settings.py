"""Environment defaults (DESIGN §8), read when called — never at import — so tests and `dagster dev`
processes pick up the environment they were started with."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    # Settled repo_batches partitions kept for the UI; older ones are retired (docs/housekeeping.md).
    "KEEP_BATCH_PARTITIONS": "1000",
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
    # Issue 14: mid-run checkpoints and a time budget for training (docs/training.md); TRAIN_MAX_SECONDS has
    # no default: unset, training is unbounded.
    "CHECKPOINT_EVERY": "200",
    # Processes (one per GPU) a training run uses; auto: every visible CUDA device, 1 on a CPU-only machine.
    "TRAIN_GPUS": "auto",
    # How a launched run holds the base model: replicate, fsdp (FSDP2-sharded), or auto (fsdp when it would
    # not fit one GPU); training/sharding.py.
    "TRAIN_SHARDING": "auto",
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


class ConfigurationError(ValueError):
    """A variable or path the operator set is wrong: the CLI says so in one line and exits 2."""


# Counts that make no sense below 1 (a batch of no repos, no workers): refused when read, in one line,
# instead of failing deep inside the first batch.
MINIMUMS: dict[str, int] = {
    "BATCH_SIZE": 1,
    "BATCH_MAX_ACTIVE_RUNS": 1,
    "KEEP_BATCH_PARTITIONS": 1,
    "REPO_WORKERS": 1,
    "FILE_WORKERS": 1,
    "MAX_REPO_ATTEMPTS": 1,
    "MAX_REPO_CRASHES": 1,
    "DEDUP_EXPECTED_FILES": 1,
    "CHECKPOINT_EVERY": 0,  # 0: no mid-run checkpoints
    "TRAIN_GPUS": 1,
}


def env_int(name: str, default: int | None = None) -> int:
    raw = env_str(name, None if default is None else str(default))
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    minimum = MINIMUMS.get(name)
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float | None = None) -> float:
    raw = env_str(name, None if default is None else str(default))
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool | None = None) -> bool:
    """`true`/`false` (also 1/0, yes/no, on/off, any case); anything else is a clear error."""
    raw = env_str(name, None if default is None else str(default).lower())
    value = (raw or "").lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


# ---------------------------------------------------------------------------------------------------------
# The state directory (DATA_DIR) and the Dagster instance inside it
# ---------------------------------------------------------------------------------------------------------

STATE_DIR_NAME = ".codelupe"  # a project's own state directory, found from any folder below it
DAGSTER_YAML = """\
# Written by CodeLupe into the DAGSTER_HOME it created (never over an existing file); edit freely.
telemetry:
  enabled: false
concurrency:
  runs:
    tag_concurrency_limits:
      # One training run at a time: a second one would only wait for the same GPU or CPUs.
      - key: codelupe/stage
        value: train
        limit: 1
"""


@dataclass(frozen=True)
class StateDir:
    """Where CodeLupe keeps its state, and why there: `DATA_DIR`, `found` (a `.codelupe/` up from the
    working directory) or `default` (the per-user data directory)."""

    path: Path
    origin: str

    def describe(self) -> str:
        reason = {
            "DATA_DIR": "DATA_DIR",
            "found": f"nearest {STATE_DIR_NAME}/",
            "default": "per-user default",
        }[self.origin]
        return f"state: {self.path} ({reason})"


def user_state_dir() -> Path:
    """`$XDG_DATA_HOME/codelupe`, else `~/.local/share/codelupe` (a relative XDG_DATA_HOME is ignored)."""
    xdg = env_str("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "codelupe"


def locate_state_dir(cwd: Path | None = None) -> StateDir:
    """DATA_DIR when set; else the nearest `.codelupe/` directory in the working directory or above it;
    else the per-user default. The same rule for the CLI, the code location and every run process."""
    explicit = env_str("DATA_DIR", "")
    if explicit:
        return StateDir(Path(explicit).expanduser().resolve(), "DATA_DIR")
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / STATE_DIR_NAME
        if candidate.is_dir():
            return StateDir(candidate, "found")
    return StateDir(user_state_dir().resolve(), "default")


def data_dir() -> Path:
    """Absolute DATA_DIR, so every process of a session agrees on it whatever its working directory."""
    return locate_state_dir().path


def dagster_home() -> Path:
    """DAGSTER_HOME when set (it must exist: Dagster would fail later, and less clearly), else
    `<DATA_DIR>/dagster`."""
    explicit = env_str("DAGSTER_HOME", "")
    if explicit:
        home = Path(explicit).expanduser().resolve()
        if not home.is_dir():
            raise ConfigurationError(f"DAGSTER_HOME={explicit} does not exist (create it, or unset it)")
        return home
    return data_dir() / "dagster"


def prepare_dagster_home() -> Path:
    """The instance directory, exported as DAGSTER_HOME for this process and its children.

    The default one (`<DATA_DIR>/dagster`) is created with a `dagster.yaml` (telemetry off, one training
    run at a time) unless it already has one; a DAGSTER_HOME the operator set is used as it is.
    """
    explicit = env_str("DAGSTER_HOME", "")
    home = dagster_home()
    if not explicit:
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        try:
            with config.open("x") as handle:
                handle.write(DAGSTER_YAML)
        except FileExistsError:
            pass  # the operator's (or an earlier run's) file wins
    os.environ["DAGSTER_HOME"] = str(home)
    return home


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
