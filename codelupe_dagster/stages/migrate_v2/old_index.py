"""The old code index streamed through the new per-file path into the new code index."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from codelupe_dagster.backends.dedup_ledger import DedupLedger, RedisDedupLedger
from codelupe_dagster.backends.search.base import DocError, SearchIndex
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.file_processing import Dropped, ProcessedFile, ProcessingConfig, process_file
from codelupe_dagster.stages.handoff import ClonedRepo
from codelupe_dagster.stages.migrate_v2.constants import (
    MIGRATE_CLAIMANT,
    NO_CONTENT,
)
from codelupe_dagster.stages.migrate_v2.old_jobs import int_field, license_field, str_field
from codelupe_dagster.stages.score_batch import code_document


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
    secrets_redacted: Counter[str] = field(default_factory=Counter)  # kind -> replaced in kept documents
    pii_redacted: Counter[str] = field(default_factory=Counter)  # the same for personal data (PII_REDACT)
    errors: list[DocError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dropped"] = dict(sorted(self.dropped.items()))
        data["secrets_redacted"] = dict(sorted(self.secrets_redacted.items()))
        data["pii_redacted"] = dict(sorted(self.pii_redacted.items()))
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
        (v for k in ("repo", "repo_name", "repository", "full_name") if (v := str_field(source.get(k)))), None
    )
    raw_path = next(
        (
            v
            for k in ("file_path", "path", "relative_path", "filename", "name")
            if (v := str_field(source.get(k)))
        ),
        None,
    )
    content = source.get("content")
    return OldDocument(
        old_id=old_id,
        path=relative_path(raw_path, repo) if raw_path else old_id,
        content=content if isinstance(content, str) else None,
        repo=repo,
        stars=int_field(source.get("repo_stars", source.get("stars"))),
        license=license_field(source.get("license")),
        commit=str_field(source.get("commit")),
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
    are dropped as ``low_quality``, as ``es_code_index`` would; ``config.pii_kinds`` should be the
    configured PII_REDACT kinds, redacted from content and path besides secrets. A dry run claims
    nothing and writes nothing; its duplicate count covers exact duplicates only (near-dup buckets are
    claimed, not read).
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
            self.report.pii_redacted.update(processed.pii)
        return docs

    def _upsert(self, docs: list[dict[str, Any]]) -> None:
        # A re-run keeps each document's first `indexed_at`, so the training watermark sees no "new" files.
        existing = self.target.get([doc["id"] for doc in docs], fields=("indexed_at",))
        stamp = datetime.now(UTC).isoformat()
        for doc in docs:
            doc["indexed_at"] = (existing.get(doc["id"]) or {}).get("indexed_at") or stamp
        result = self.target.bulk_upsert(docs)
        self.report.indexed += result.indexed
        self.report.errors.extend(result.errors)
