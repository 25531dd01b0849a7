"""Pipeline-wide settings as one resource, so assets, sensors, schedules and the CLI read them from a
field (shown in the launchpad) instead of the environment.

`default_resources()` fills the fields from the environment in one place; a field's description starts
with the variable it defaults from.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field, field_validator

from codelupe_dagster.backends.eval_sets import EvalSetError, check_spec, resolve_spec
from codelupe_dagster.core.pii import PiiKind, parse_kinds
from codelupe_dagster.settings import DEFAULTS

# PII_REDACT's default: every kind of personal data `core.pii` knows.
PII_REDACT_DEFAULT = DEFAULTS["PII_REDACT"]


def _int_default(name: str) -> int:
    return int(DEFAULTS[name])


def _float_default(name: str) -> float:
    return float(DEFAULTS[name])


class PipelineResource(dg.ConfigurableResource):
    """Where the pipeline keeps its state, how large a batch is, how often sensors look again."""

    data_dir: str = Field(
        default=DEFAULTS["DATA_DIR"],
        description="DATA_DIR: state directory (spool, batches, checkpoints, embedded stores).",
    )
    file_workers: int = Field(
        default=_int_default("FILE_WORKERS"), description="FILE_WORKERS: processes scoring files."
    )
    min_quality: float = Field(
        default=_float_default("MIN_QUALITY_THRESHOLD"),
        description="MIN_QUALITY_THRESHOLD: the lowest quality score a file is indexed with.",
    )
    batch_size: int = Field(
        default=_int_default("BATCH_SIZE"), description="BATCH_SIZE: repos per batch run."
    )
    batch_max_active_runs: int = Field(
        default=_int_default("BATCH_MAX_ACTIVE_RUNS"),
        description="BATCH_MAX_ACTIVE_RUNS: queued and running batch runs the batch sensor allows at once.",
    )
    keep_batch_partitions: int = Field(
        default=_int_default("KEEP_BATCH_PARTITIONS"),
        description="KEEP_BATCH_PARTITIONS: newest repo_batches partitions (and batch records) kept; the "
        "batch sensor retires older ones once their batch is settled and indexed.",
    )
    check_interval: int = Field(
        default=_int_default("CHECK_INTERVAL"),
        description="CHECK_INTERVAL: seconds between the training sensor's looks at the index.",
    )
    crawler_mode: str = Field(
        default=DEFAULTS["CRAWLER_MODE"],
        description="CRAWLER_MODE: 'continuous' crawls every SYNC_INTERVAL seconds; 'once' does not.",
    )
    sync_interval: int = Field(
        default=_int_default("SYNC_INTERVAL"),
        description="SYNC_INTERVAL: seconds between crawls in continuous mode.",
    )

    pii_redact: str = Field(
        default=PII_REDACT_DEFAULT,
        description="PII_REDACT: personal data replaced by placeholders, a comma list of 'email', 'ip' "
        "(or 'none'); secrets are always redacted.",
    )

    decontaminate_sets: str = Field(
        default=DEFAULTS["DECONTAMINATE_SETS"],
        description="DECONTAMINATE_SETS: evaluation sets whose overlapping documents are marked contaminated "
        "and left out of training and export: a comma list of built-in sets (humaneval, verilogeval), "
        "NAME=PATH.jsonl[#FIELD+FIELD] files, 'auto' (the built-ins whose package is installed) or 'none'.",
    )

    source: str | None = Field(
        default=None,
        description="CODELUPE_SOURCE: 'github', a directory of git repositories, or a file of clone URLs.",
    )

    @field_validator("pii_redact", mode="before")
    @classmethod
    def _known_pii_kinds(cls, value: object) -> object:
        """A typo in PII_REDACT fails when the resource is built (`dagster definitions validate`, the
        code location's load), not at the first batch; ValueError names the allowed kinds."""
        if isinstance(value, str) and not isinstance(value, dg.EnvVar):
            try:
                parse_kinds(value)
            except ValueError as exc:
                raise ValueError(f"PII_REDACT: {exc}") from None
        return value  # an EnvVar is resolved (and this validator runs again) at run time

    @field_validator("decontaminate_sets", mode="before")
    @classmethod
    def _readable_sets(cls, value: object) -> object:
        """An unknown set, a missing package or file fails when the resource is built, naming it."""
        if isinstance(value, str) and not isinstance(value, dg.EnvVar):
            try:
                check_spec(value)
            except EvalSetError as exc:
                raise ValueError(f"DECONTAMINATE_SETS: {exc}") from None
        return value

    def data_path(self) -> Path:
        """DATA_DIR as an absolute path, so every process of a session agrees on it."""
        return Path(self.data_dir).expanduser().resolve()

    def pii_kinds(self) -> frozenset[PiiKind]:
        """The kinds of `pii_redact`; ValueError names an unknown one."""
        return parse_kinds(self.pii_redact)

    def decontamination_spec(self) -> str:
        """`decontaminate_sets` in canonical form, `auto` expanded: what scoring workers load and what
        asset metadata reports ('' when no set is used)."""
        return resolve_spec(self.decontaminate_sets)

    def is_continuous(self) -> bool:
        return self.crawler_mode.strip().lower() == "continuous"
