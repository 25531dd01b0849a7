"""The old Redis keys renamed to backups (never deleted) and their repo jobs converted onto our queue.

The old crawler stored descriptions and topics as the forge returned them; on their way onto the queue
they are redacted like every crawled record (`redact_record`: secrets, and the PII of PII_REDACT), and
an unparseable job is redacted before it is quoted in the report or the log.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.backends.repo_queue import RepoQueue
from codelupe_dagster.backends.sources.records import redact_record
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import redact_text
from codelupe_dagster.core.repo_names import is_safe_name
from codelupe_dagster.core.repo_priority import repo_priority
from codelupe_dagster.stages.migrate_v2.constants import (
    DEFAULT_BACKUP_PREFIX,
    READ_CHUNK,
    SAMPLE_LIMIT,
    UNPARSEABLE,
)
from codelupe_dagster.stages.migrate_v2.old_jobs import parse_repo_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OldKey:
    """One key the old pipeline wrote: its name after our prefix, its old type and the type we use."""

    suffix: str
    old_type: str
    new_type: str | None  # None: we have no key of that name
    role: str


OLD_KEYS: tuple[OldKey, ...] = (
    OldKey("repos", "list", "zset", "repo_jobs"),
    OldKey("files", "list", None, "file_jobs"),
    OldKey("processed:repos", "set", "hash", "processed_repos"),
    OldKey("processed:files", "set", "hash", "processed_files"),
)


@dataclass
class KeyOutcome:
    key: str
    role: str
    found_type: str
    action: str  # backed_up | would_back_up | new_format | absent | unexpected_type
    backup: str | None = None
    items: int = 0


@dataclass
class RedisMigrationReport:
    dry_run: bool
    keys: list[KeyOutcome] = field(default_factory=list)
    repo_jobs_read: int = 0
    enqueued: int = 0  # with dry_run: how many would be
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> repo jobs not enqueued
    unparseable_samples: list[str] = field(default_factory=list)
    converted_backups: list[str] = field(default_factory=list)
    # Every backup present after this run, by role: key -> number of elements (informational).
    backups: dict[str, dict[str, int]] = field(default_factory=dict)
    # Replaced in the jobs read (descriptions, topics, quoted unparseable jobs), per kind.
    secrets_redacted: Counter[str] = field(default_factory=Counter)
    pii_redacted: Counter[str] = field(default_factory=Counter)
    records_redacted: int = 0  # jobs whose record had a description or topic redacted

    @property
    def changed(self) -> bool:
        return any(k.action == "backed_up" for k in self.keys) or bool(self.converted_backups)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = dict(sorted(self.skipped.items()))
        data["secrets_redacted"] = dict(sorted(self.secrets_redacted.items()))
        data["pii_redacted"] = dict(sorted(self.pii_redacted.items()))
        data["changed"] = self.changed
        return data


class OldPipelineStillRunning(RuntimeError):
    """An old-format key reappeared mid-migration: something still runs ``data_pipeline_v2.py``."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _key_type(client: redis.Redis, key: str) -> str:
    return _text(client.type(key))


def _size(client: redis.Redis, key: str, key_type: str) -> int:
    return {"list": client.llen, "set": client.scard, "zset": client.zcard, "hash": client.hlen}.get(
        key_type, lambda _key: 0
    )(key)


def backup_name(backup_prefix: str, old: OldKey) -> str:
    return f"{backup_prefix}{old.suffix}"


def backup_candidates(client: redis.Redis, base: str, old_type: str) -> list[str]:
    """Existing backups of one old key: ``base``, then ``base:1``, ``base:2``… as later runs made them."""
    found: list[str] = []
    for number in range(0, 1000):
        name = base if number == 0 else f"{base}:{number}"
        kind = _key_type(client, name)
        if kind == "none":
            break
        if kind == old_type:
            found.append(name)
    return found


def _free_backup_name(client: redis.Redis, base: str) -> str:
    for number in range(0, 1000):
        name = base if number == 0 else f"{base}:{number}"
        if not client.exists(name):
            return name
    raise RuntimeError(f"no free backup name under {base!r} (1,000 backups exist?)")


def _rename_to_backup(client: redis.Redis, key: str, base: str) -> str:
    """RENAMENX to the first free backup name: an earlier backup is never overwritten."""
    for _ in range(100):
        target = _free_backup_name(client, base)
        if client.renamenx(key, target):
            return target
    raise RuntimeError(f"could not rename {key!r} to a backup under {base!r}")


def _iter_list(client: redis.Redis, key: str, chunk: int = READ_CHUNK) -> Iterator[list[bytes]]:
    start = 0
    while True:
        items = client.lrange(key, start, start + chunk - 1)
        if not items:
            return
        yield items
        start += len(items)


def _redacted_job(raw: bytes, pii_kinds: frozenset[PiiKind], report: RedisMigrationReport) -> bytes:
    """An unparseable job as it may be quoted: redacted whole, then cut by the caller, so a cut never
    leaves the part of a token that no longer matches. Undecodable bytes survive (surrogateescape):
    they may be why the job is unparseable."""
    redacted = redact_text(raw.decode("utf-8", "surrogateescape"), pii_kinds)
    report.secrets_redacted.update(redacted.secrets)
    report.pii_redacted.update(redacted.pii)
    return redacted.text.encode("utf-8", "surrogateescape")


def _record_of(
    raw: bytes, source: str, pii_kinds: frozenset[PiiKind], report: RedisMigrationReport
) -> RepoRecord | None:
    """The job's record with its free text redacted (counted), or None (counted, a few quoted)."""
    record = parse_repo_job(raw)
    if record is None:
        report.skipped[UNPARSEABLE] += 1
        if len(report.unparseable_samples) < SAMPLE_LIMIT:  # counted always, quoted a few times
            quoted = _redacted_job(raw, pii_kinds, report)
            report.unparseable_samples.append(repr(quoted[:120]))
            log.warning("unparseable repo job in %s: %r", source, quoted[:200])
        return None
    redacted = redact_record(record, pii_kinds)
    if redacted.secrets or redacted.pii:
        report.records_redacted += 1
        report.secrets_redacted.update(redacted.secrets)
        report.pii_redacted.update(redacted.pii)
    return redacted.record


def _convert_repo_jobs(
    client: redis.Redis,
    keys: RedisKeys,
    queue: RepoQueue,
    source: str,
    report: RedisMigrationReport,
    now: datetime,
    dry_run: bool,
    seen: set[str],
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
) -> None:
    """Enqueue every job of one old list (the backup, or in a dry run the live old key), redacted."""
    for items in _iter_list(client, source):
        scored: list[tuple[RepoRecord, float]] = []
        for raw in items:
            report.repo_jobs_read += 1
            record = _record_of(raw, source, pii_kinds, report)
            if record is not None:
                scored.append((record, repo_priority(record, now)))
        if dry_run:
            _count_dry_run(client, keys, scored, report, seen)
            continue
        new_type = _key_type(client, keys.repos)
        if new_type not in ("zset", "none"):
            raise OldPipelineStillRunning(
                f"{keys.repos} is a {new_type} again while migrating: the old pipeline is still running. "
                "Stop data_pipeline_v2.py and crawler_to_redis.py, then run `codelupe migrate` again "
                "(the new jobs are backed up and converted too)."
            )
        result = queue.enqueue(scored)
        report.enqueued += len(result.enqueued)
        report.skipped.update(result.skipped)


def _count_dry_run(
    client: redis.Redis,
    keys: RedisKeys,
    scored: list[tuple[RepoRecord, float]],
    report: RedisMigrationReport,
    seen: set[str],
) -> None:
    """What ``RepoQueue.enqueue`` would decide, read-only (the queue may exist when a backup is pending)."""
    if not scored:
        return
    names = [record.full_name for record, _ in scored]
    pipe = client.pipeline(transaction=False)
    queued = _key_type(client, keys.repos) == "zset"
    if queued:
        for name in names:
            pipe.zscore(keys.repos, name)
    pipe.hmget(keys.inflight, names)
    *scores, inflight = pipe.execute()
    scores = scores or [None] * len(names)
    for name, score, flight in zip(names, scores, inflight, strict=True):
        # The same order of checks as RepoQueue.enqueue, so the dry run predicts its counts exactly.
        if not is_safe_name(name):
            report.skipped["invalid_name"] += 1
        elif flight is not None:
            report.skipped["in_flight"] += 1
        elif score is not None or name in seen:
            report.skipped["already_queued"] += 1
        else:
            seen.add(name)
            report.enqueued += 1


def migration_state_key(backup_prefix: str) -> str:
    """HASH backup key -> JSON {"converted": epoch, ...}: backups already converted."""
    return f"{backup_prefix}migration"


def migrate_redis(
    client: redis.Redis,
    keys: RedisKeys,
    backup_prefix: str = DEFAULT_BACKUP_PREFIX,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
) -> RedisMigrationReport:
    """Back up every old-format key and convert the repo jobs onto the new queue (see module doc);
    `pii_kinds` are the personal data redacted from their free text besides secrets (PII_REDACT)."""
    if not backup_prefix or backup_prefix == keys.prefix:
        raise ValueError("the backup prefix must differ from the key prefix, or backups would clash")
    now = now or datetime.now(UTC)
    report = RedisMigrationReport(dry_run=dry_run)
    state_key = migration_state_key(backup_prefix)

    for old in OLD_KEYS:
        key = f"{keys.prefix}{old.suffix}"
        found = _key_type(client, key)
        outcome = KeyOutcome(key=key, role=old.role, found_type=found, action="absent")
        base = backup_name(backup_prefix, old)
        if found == old.old_type:
            outcome.items = _size(client, key, found)
            if dry_run:
                outcome.action, outcome.backup = "would_back_up", _free_backup_name(client, base)
            else:
                outcome.action, outcome.backup = "backed_up", _rename_to_backup(client, key, base)
        elif found == old.new_type:
            outcome.action, outcome.items = "new_format", _size(client, key, found)
        elif found != "none":
            outcome.action = "unexpected_type"  # not ours, not the old pipeline's: left alone
            log.warning("%s has type %s, neither the old %s nor ours; left alone", key, found, old.old_type)
        report.keys.append(outcome)

    # Convert the repo-job backups not yet converted (this run's, or one a crash left half-done).
    repos_old = OLD_KEYS[0]
    converted = {_text(k) for k in client.hkeys(state_key)}
    sources = [
        name
        for name in backup_candidates(client, backup_name(backup_prefix, repos_old), "list")
        if name not in converted
    ]
    if dry_run and report.keys[0].action == "would_back_up":
        sources.append(report.keys[0].key)  # read in place: nothing is renamed in a dry run
    seen: set[str] = set()
    queue = RedisRepoQueue(client, keys)
    for source in sources:
        before = report.repo_jobs_read
        _convert_repo_jobs(client, keys, queue, source, report, now, dry_run, seen, pii_kinds)
        if not dry_run:
            entry = {"converted": now.timestamp(), "jobs": report.repo_jobs_read - before}
            client.hset(state_key, source, json.dumps(entry))
            report.converted_backups.append(source)

    for old in OLD_KEYS:
        names = backup_candidates(client, backup_name(backup_prefix, old), old.old_type)
        report.backups[old.role] = {name: _size(client, name, old.old_type) for name in names}
    return report
