"""Take over the state of the old pipeline (``data_pipeline_v2.py``) without losing any of its work.

The old pipeline left Redis keys under the very names we use, but with other types: ``pipeline:repos``
was a LIST of repo jobs where ours is a priority ZSET, the processed ledgers were SETs where ours are
HASHes. Our commands would fail on them with WRONGTYPE, and deleting them would lose pending work. So each
old key whose TYPE is still the old type is RENAMEd (atomic, never a delete) to a backup name, and the
backup is converted from there:

- repo jobs (JSON objects or plain names) become ``RepoRecord``s, enqueued with our priority;
- ``pipeline:processed:repos`` (names, no HEAD sha) only stays in its backup: without a sha the new
  pipeline cannot tell an unchanged repo, so each of them is processed once more;
- ``pipeline:processed:files`` held MD5 hex of *raw* content; our ledger keys 16-byte xxh3 digests of
  *normalized, redacted* content, so the old entries cannot be translated and stay in the backup;
- ``pipeline:files`` (per-file jobs) has no equivalent — files are read from git trees per batch — and is
  counted and kept, renamed.

Idempotent and resumable: a key already of the new type is left alone, a backup is marked converted in
``<backup prefix>migration`` only after its last job is enqueued (a crash before that converts it again:
the queue's ``enqueue`` skips what is already queued), and a second run finds nothing to do.

The old code index (Elasticsearch, one doc per file, no ``id``/``indexed_at`` fields) is streamed over
a point-in-time in ``_shard_doc`` order and every document goes through the new per-file path
(``process_file``: filters, v2 score, secret redaction, digest), the exact and near dedup ledgers
(claimant ``migrate-v2``, so a re-run recognises its own claims) and into the new code index.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis

from codelupe_dagster.backends.dedup_ledger import DedupLedger, RedisDedupLedger
from codelupe_dagster.backends.git_clone import is_safe_name
from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.backends.repo_queue import RepoQueue
from codelupe_dagster.backends.search.base import DocError, SearchIndex
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_priority import repo_priority
from codelupe_dagster.stages.file_processing import Dropped, ProcessedFile, ProcessingConfig, process_file
from codelupe_dagster.stages.handoff import ClonedRepo
from codelupe_dagster.stages.score_batch import code_document

log = logging.getLogger(__name__)

MIGRATE_CLAIMANT = "migrate-v2"  # claimant of the dedup ledgers and `batch` of the migrated documents
DEFAULT_BACKUP_PREFIX = "pipeline:v2:"
UNPARSEABLE = "unparseable"
NO_CONTENT = "no_content"
READ_CHUNK = 1000  # list elements per LRANGE
SAMPLE_LIMIT = 5  # unparseable jobs quoted in the report


# ====================================================================== Redis


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

    @property
    def changed(self) -> bool:
        return any(k.action == "backed_up" for k in self.keys) or bool(self.converted_backups)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = dict(sorted(self.skipped.items()))
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


# ---------------------------------------------------------------------- old repo jobs


_GIT_SUFFIX = re.compile(r"\.git$")


def _name_from_url(url: str) -> str | None:
    """``owner/name`` from https://github.com/owner/name(.git), git@github.com:owner/name.git, an API URL."""
    url = url.strip()
    if url.startswith("git@") and ":" in url:
        path = url.split(":", 1)[1]
    else:
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            return None
        path = parts.path
        if parts.netloc.startswith("api.") and path.startswith("/repos/"):
            path = path[len("/repos") :]
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        return None
    return f"{segments[0]}/{_GIT_SUFFIX.sub('', segments[1])}"


def _cloneable(url: Any) -> str | None:
    """A URL git can clone; GitHub's API URL (``api.github.com/repos/...``) is not one."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if url.startswith("git@"):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ssh", "git", "file") or parts.netloc.startswith("api."):
        return None
    return url


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _license(value: Any) -> str | None:
    if isinstance(value, dict):  # GitHub's {"key": "mit", "spdx_id": "MIT", ...}
        value = value.get("spdx_id") or value.get("key")
    return _str(value)


def _record_from_name(text: str) -> RepoRecord | None:
    if "://" in text or text.startswith("git@"):
        name = _name_from_url(text)
        return RepoRecord(name, clone_url=text) if name else None
    if text.count("/") == 1 and not any(c.isspace() for c in text):
        return RepoRecord(text, clone_url=f"https://github.com/{text}.git")
    return None


def _record_from_job(job: dict[str, Any]) -> RepoRecord | None:
    owner = job.get("owner")
    if isinstance(owner, dict):  # the GitHub API's owner object
        owner = owner.get("login")
    name = _str(job.get("name"))
    full_name = _str(job.get("full_name")) or _str(job.get("repo")) or _str(job.get("repo_name"))
    if not full_name and isinstance(owner, str) and name and "/" not in name:
        full_name = f"{owner}/{name}"
    if not full_name:
        for url_field in ("clone_url", "html_url", "url", "git_url", "ssh_url"):
            if isinstance(job.get(url_field), str) and (found := _name_from_url(job[url_field])):
                full_name = found
                break
    if not full_name and name and name.count("/") == 1:
        full_name = name
    if not full_name or full_name.count("/") != 1:
        return None
    clone_url = (
        _cloneable(job.get("clone_url"))
        or _cloneable(job.get("html_url"))
        or _cloneable(job.get("url"))
        or f"https://github.com/{full_name}.git"
    )
    topics = job.get("topics")
    return RepoRecord(
        full_name=full_name,
        clone_url=clone_url,
        stars=_int(job.get("stars", job.get("stargazers_count"))),
        forks=_int(job.get("forks", job.get("forks_count"))),
        language=_str(job.get("language")),
        license=_license(job.get("license")),
        size_kb=_int(job.get("size_kb", job.get("size"))),
        pushed_at=_str(job.get("pushed_at")),
        archived=job.get("archived") is True,
        fork=job.get("fork") is True,
        default_branch=_str(job.get("default_branch")),
        topics=tuple(t for t in topics if isinstance(t, str)) if isinstance(topics, list) else (),
        description=_str(job.get("description")),
    )


def parse_repo_job(raw: bytes | str) -> RepoRecord | None:
    """One element of the old ``pipeline:repos`` list as a RepoRecord, or None when it names no repo.

    Jobs were JSON objects with GitHub metadata (``full_name``/``name``/``url``/``clone_url``/``stars``
    /``language``…) or plain ``owner/name`` strings or URLs; both are accepted, and a JSON string too.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    text = text.strip()
    if not text:
        return None
    if text[0] in '{["' or text in ("null", "true", "false") or text[0].isdigit() or text[0] == "-":
        try:
            job = json.loads(text)
        except ValueError:
            return None if text[0] in "{[" else _record_from_name(text)
        if isinstance(job, dict):
            return _record_from_job(job)
        if isinstance(job, str):
            return _record_from_name(job.strip())
        return None
    return _record_from_name(text)


def _iter_list(client: redis.Redis, key: str, chunk: int = READ_CHUNK) -> Iterator[list[bytes]]:
    start = 0
    while True:
        items = client.lrange(key, start, start + chunk - 1)
        if not items:
            return
        yield items
        start += len(items)


def _convert_repo_jobs(
    client: redis.Redis,
    keys: RedisKeys,
    queue: RepoQueue,
    source: str,
    report: RedisMigrationReport,
    now: datetime,
    dry_run: bool,
    seen: set[str],
) -> None:
    """Enqueue every job of one old list (the backup, or in a dry run the live old key)."""
    for items in _iter_list(client, source):
        scored: list[tuple[RepoRecord, float]] = []
        for raw in items:
            report.repo_jobs_read += 1
            record = parse_repo_job(raw)
            if record is None:
                report.skipped[UNPARSEABLE] += 1
                if len(report.unparseable_samples) < SAMPLE_LIMIT:  # counted always, quoted a few times
                    report.unparseable_samples.append(repr(raw[:120]))
                    log.warning("unparseable repo job in %s: %r", source, raw[:200])
                continue
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
) -> RedisMigrationReport:
    """Back up every old-format key and convert the repo jobs onto the new queue (see module doc)."""
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
        _convert_repo_jobs(client, keys, queue, source, report, now, dry_run, seen)
        if not dry_run:
            entry = {"converted": now.timestamp(), "jobs": report.repo_jobs_read - before}
            client.hset(state_key, source, json.dumps(entry))
            report.converted_backups.append(source)

    for old in OLD_KEYS:
        names = backup_candidates(client, backup_name(backup_prefix, old), old.old_type)
        report.backups[old.role] = {name: _size(client, name, old.old_type) for name in names}
    return report


# ====================================================================== old code index


@dataclass
class IndexMigrationReport:
    source: str
    target: str
    dry_run: bool
    total: int = 0  # documents in the old index when the migration started
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> documents
    exact_duplicates: int = 0
    near_duplicates: int = 0
    indexed: int = 0
    secrets_redacted: Counter[str] = field(default_factory=Counter)
    errors: list[DocError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dropped"] = dict(sorted(self.dropped.items()))
        data["secrets_redacted"] = dict(sorted(self.secrets_redacted.items()))
        data["errors"] = [{"id": e.id, "reason": e.reason} for e in self.errors[:20]]
        data["error_count"] = len(self.errors)
        return data


def iter_old_documents(es: Any, index: str, batch_size: int = 500) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(_id, _source)`` of every document of an index that has no sortable id field of its own.

    A point-in-time with ``search_after`` on ``_shard_doc`` (index order, the cheapest sort there is):
    each document once, unaffected by writes meanwhile, no scroll context to leak. ``es`` is an
    ``elasticsearch.Elasticsearch`` client. The PIT is closed however the caller stops.
    """
    pit_id = es.open_point_in_time(index=index, keep_alive="5m")["id"]
    after: list[Any] | None = None
    try:
        while True:
            extra = {"search_after": after} if after is not None else {}
            response = es.search(
                pit={"id": pit_id, "keep_alive": "5m"},
                sort=[{"_shard_doc": "asc"}],
                size=batch_size,
                track_total_hits=False,
                **extra,
            )
            pit_id = response.get("pit_id", pit_id)
            hits = response["hits"]["hits"]
            for hit in hits:
                yield hit["_id"], hit.get("_source") or {}
            if len(hits) < batch_size:
                return
            after = hits[-1]["sort"]
    finally:
        with contextlib.suppress(Exception):  # an expired PIT frees itself after keep_alive
            es.close_point_in_time(id=pit_id)


@dataclass(frozen=True)
class OldDocument:
    old_id: str
    path: str
    content: str | None
    repo: str | None
    stars: int
    license: str | None
    commit: str | None


def relative_path(path: str, repo: str | None) -> str:
    """The path inside the repository: the old pipeline stored where the clone sat on its disk
    (``/app/repos/<owner>/<name>/src/x.py``), and path rules (vendored dirs…) must see ``src/x.py``."""
    path = path.replace("\\", "/")
    if not path.startswith("/") or not repo:
        return path.lstrip("/") or path
    marker = f"/{repo}/"
    if marker in path:
        return path.split(marker, 1)[1]
    name = repo.rsplit("/", 1)[-1]
    segments = path.split("/")
    for position, segment in enumerate(segments[:-1]):
        if segment in (name, repo.replace("/", "_"), repo.replace("/", "__")):
            return "/".join(segments[position + 1 :])
    return path.lstrip("/")


def read_old_document(old_id: str, source: dict[str, Any]) -> OldDocument:
    """The fields the old pipeline's documents had, under any of the names it used."""
    repo = next(
        (v for k in ("repo", "repo_name", "repository", "full_name") if (v := _str(source.get(k)))), None
    )
    raw_path = next(
        (v for k in ("file_path", "path", "relative_path", "filename", "name") if (v := _str(source.get(k)))),
        None,
    )
    content = source.get("content")
    return OldDocument(
        old_id=old_id,
        path=relative_path(raw_path, repo) if raw_path else old_id,
        content=content if isinstance(content, str) else None,
        repo=repo,
        stars=_int(source.get("repo_stars", source.get("stars"))),
        license=_license(source.get("license")),
        commit=_str(source.get("commit")),
    )


def migrate_index(
    es: Any,
    source_index: str,
    target: SearchIndex,
    client: redis.Redis,
    keys: RedisKeys,
    *,
    config: ProcessingConfig | None = None,
    dry_run: bool = False,
    keep_near_duplicates: bool = False,
    batch_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
    ledger: DedupLedger | None = None,
) -> IndexMigrationReport:
    """Re-process every document of the old index into ``target`` (see module doc); returns the counts.

    ``config.min_quality`` should be the indexing threshold (MIN_QUALITY_THRESHOLD): documents below it
    are dropped as ``low_quality``, as ``es_code_index`` would. A dry run claims nothing and writes
    nothing; its duplicate count covers exact duplicates only (near-dup buckets are claimed, not read).
    The dedup state is ``ledger``, by default the Redis ledger of ``client`` under ``keys``.
    """
    migration = _IndexMigration(
        target=target,
        ledger=ledger or RedisDedupLedger(client, keys),
        config=config or ProcessingConfig(),
        dry_run=dry_run,
        keep_near_duplicates=keep_near_duplicates,
        report=IndexMigrationReport(source=source_index, target=target.name, dry_run=dry_run),
    )
    migration.report.total = int(es.count(index=source_index)["count"])
    if not dry_run:
        target.ensure()

    chunk: list[OldDocument] = []
    for old_id, source in iter_old_documents(es, source_index, batch_size):
        chunk.append(read_old_document(old_id, source))
        if len(chunk) >= batch_size:
            migration.migrate_chunk(chunk)
            if on_progress:
                on_progress(len(chunk))
            chunk = []
    if chunk:
        migration.migrate_chunk(chunk)
        if on_progress:
            on_progress(len(chunk))
    if not dry_run:
        target.refresh()
    return migration.report


_Survivor = tuple[OldDocument, ProcessedFile]


@dataclass
class _IndexMigration:
    """One run of `migrate_index`: each chunk is processed, claimed (or, dry, checked), then upserted."""

    target: SearchIndex
    ledger: DedupLedger
    config: ProcessingConfig
    dry_run: bool
    keep_near_duplicates: bool
    report: IndexMigrationReport
    seen: set[bytes] = field(default_factory=set)  # digests migrated so far in this run

    def migrate_chunk(self, chunk: Sequence[OldDocument]) -> None:
        survivors = self._process(chunk)
        if not survivors:
            return
        fresh = self._claim_exact(survivors)
        docs = self._documents(fresh, self._claim_near(fresh))
        self.report.kept += len(docs)
        if not self.dry_run and docs:
            self._upsert(docs)

    def _process(self, chunk: Sequence[OldDocument]) -> list[_Survivor]:
        """Each old document through the new per-file path; what passes, first copies only."""
        survivors: list[_Survivor] = []
        for old in chunk:
            self.report.read += 1
            if old.content is None or not old.content.strip():
                self.report.dropped[NO_CONTENT] += 1
                continue
            result = process_file(old.path, old.content.encode("utf-8", "surrogatepass"), self.config)
            if isinstance(result, Dropped):
                self.report.dropped[result.reason] += 1
                continue
            # A second copy within this migration is a duplicate although the ledger says "ours" for both.
            if result.digest in self.seen:
                self.report.exact_duplicates += 1
                continue
            self.seen.add(result.digest)
            survivors.append((old, result))
        return survivors

    def _claim_exact(self, survivors: list[_Survivor]) -> list[_Survivor]:
        """The survivors no other claimant holds; a dry run reads the ledger and claims nothing."""
        digests = [processed.digest for _, processed in survivors]
        if self.dry_run:
            owners = self.ledger.claimants(digests)
            foreign = [owners[d] is not None and owners[d] != MIGRATE_CLAIMANT for d in digests]
        else:
            statuses = self.ledger.claim_exact([(MIGRATE_CLAIMANT, digests)])[0]
            foreign = [status.is_duplicate for status in statuses]
        fresh = [item for item, is_dup in zip(survivors, foreign, strict=True) if not is_dup]
        self.report.exact_duplicates += len(survivors) - len(fresh)
        return fresh

    def _claim_near(self, fresh: list[_Survivor]) -> list[str | None]:
        """Document-level near claims: the old index has no repository to tell own copies from others'."""
        if self.dry_run:
            return [None] * len(fresh)
        return self.ledger.claim_near_documents([(p.digest, p.band_keys) for _, p in fresh])

    def _documents(self, fresh: list[_Survivor], clusters: list[str | None]) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for (old, processed), cluster in zip(fresh, clusters, strict=True):
            if cluster is not None:
                self.report.near_duplicates += 1
                if not self.keep_near_duplicates:
                    continue
            origin = ClonedRepo(old.repo or "", "", None, {"stars": old.stars, "license": old.license})
            doc = code_document(processed, origin, old.commit, MIGRATE_CLAIMANT, near_dup_cluster=cluster)  # type: ignore[arg-type]
            doc["repo"] = old.repo
            docs.append(doc)
            self.report.secrets_redacted.update(processed.secrets)
        return docs

    def _upsert(self, docs: list[dict[str, Any]]) -> None:
        # A re-run keeps each document's first `indexed_at`, so the training watermark sees no "new" files.
        existing = self.target.get([doc["id"] for doc in docs])
        stamp = datetime.now(UTC).isoformat()
        for doc in docs:
            doc["indexed_at"] = (existing.get(doc["id"]) or {}).get("indexed_at") or stamp
        result = self.target.bulk_upsert(docs)
        self.report.indexed += result.indexed
        self.report.errors.extend(result.errors)
