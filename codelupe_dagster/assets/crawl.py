"""`crawled_repos`: repository metadata from a source (GitHub search, GitLab, a local directory or a URL
list), upserted into the repo index.

The source is chosen by name through the backends registry (`backends/sources`): a forge (`github`,
`gitlab`, ...) or a path (a directory of repositories, or a file of clone URLs and paths). Its options
come from `SourcesResource`, which holds every forge's settings. Every source is driven the same way:
batch by batch into the index, then its counts and skips become the materialization's metadata.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from codelupe_dagster.assets.queue import apply_opt_out
from codelupe_dagster.backends.forget_registry import ForgetRules
from codelupe_dagster.backends.search import SearchIndex
from codelupe_dagster.backends.sources import (
    SourceRequest,
    SourceStats,
    forge_kinds,
    open_source,
    resolve_kind,
)
from codelupe_dagster.backends.sources.local import DEFAULT_SCAN_DEPTH
from codelupe_dagster.backends.sources.records import redact_record
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind
from codelupe_dagster.core.redaction import redact_field
from codelupe_dagster.resources.forge import CrawlOverrides
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.sources import SourcesResource

GITHUB = "github"
WRITE_CHUNK = 500
LOGGED_SKIPS = 20


class CrawlConfig(dg.Config):
    source: str | None = Field(
        default=None, description="A forge ('github', 'gitlab', ...), or a directory of git repositories / a "
        "file of clone URLs and paths. Default: CODELUPE_SOURCE, else 'github'."
    )  # fmt: skip
    languages: list[str] | None = Field(default=None, description="Overrides GitHub's search languages.")
    min_stars: int | None = Field(default=None, description="Overrides the forge's star floor.")
    pushed_since: str | None = Field(default=None, description="ISO date; overrides GitHub's pushed window.")
    full_refresh: bool = Field(
        default=False, description="Forget watermarks, ETags and cursors: crawl everything again."
    )
    scan_depth: int = Field(
        default=DEFAULT_SCAN_DEPTH, description="Directory levels searched for repositories."
    )

    def overrides(self) -> CrawlOverrides:
        return CrawlOverrides(
            languages=self.languages,
            min_stars=self.min_stars,
            pushed_since=self.pushed_since,
            scan_depth=self.scan_depth,
        )


def resolve_source(configured: str | None, default: str | None) -> str:
    """The run config's source, else the pipeline's (CODELUPE_SOURCE), else GitHub search."""
    return configured or default or GITHUB


class RepoIndexWriter:
    """Upserts records into the repo index, counting new / updated / unchanged against what it holds.

    A changed repository's document is merged over the stored one, so fields other stages own (the
    queue's `priority`) and a HEAD learned earlier survive a GitHub crawl, which never knows the HEAD.

    Every source's records pass here, so this is where their free text is redacted (secrets, and the
    PII of `pii_kinds`, PII_REDACT) before anything stores, ranks or clones them; what was replaced is
    counted per kind. A record stored before redaction compares as changed and is rewritten redacted.
    """

    def __init__(
        self,
        index: SearchIndex,
        pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS,
        forgotten: ForgetRules | None = None,
    ):
        self.index = index
        self.pii_kinds = pii_kinds
        self.forgotten = forgotten or ForgetRules()
        self.skipped_forgotten = 0
        self.new = 0
        self.updated = 0
        self.unchanged = 0
        self.secrets_redacted: Counter[str] = Counter()
        self.pii_redacted: Counter[str] = Counter()

    def redact(self, record: RepoRecord) -> RepoRecord:
        redacted = redact_record(record, self.pii_kinds)
        self.secrets_redacted.update(redacted.secrets)
        self.pii_redacted.update(redacted.pii)
        return redacted.record

    def __call__(self, records: Sequence[RepoRecord]) -> None:
        for start in range(0, len(records), WRITE_CHUNK):
            self._write(records[start : start + WRITE_CHUNK])

    def _write(self, records: Sequence[RepoRecord]) -> None:
        # Forgotten repositories (codelupe forget, OPT_OUT_FILE) are never stored again.
        kept = [record for record in records if not self.forgotten.repo_forgotten(record.full_name)]
        self.skipped_forgotten += len(records) - len(kept)
        records = [self.redact(record) for record in kept]
        if not records:
            return
        stored = self.index.get([record.full_name for record in records])
        now = datetime.now(UTC).isoformat()
        docs: list[dict[str, Any]] = []
        for record in records:
            doc = record.to_doc()
            old = stored.get(record.full_name)
            if old is not None:
                if record.head is None and old.get("head"):
                    doc["head"] = old["head"]
                if RepoRecord.from_doc({**old, "id": record.full_name}) == RepoRecord.from_doc(doc):
                    self.unchanged += 1
                    continue
                doc = {**old, **doc}
                self.updated += 1
            else:
                self.new += 1
            doc["indexed_at"] = now
            docs.append(doc)
        if docs:
            self.index.bulk_upsert(docs).raise_for_errors()


@dg.asset(group_name="ingest", kinds=set(forge_kinds()))
def crawled_repos(
    context: dg.AssetExecutionContext,
    config: CrawlConfig,
    search: SearchIndexResource,
    redis: RedisResource,
    pipeline: PipelineResource,
    sources: SourcesResource,
) -> dg.MaterializeResult:
    """Repository metadata from the configured source, upserted into the repo index."""
    source = resolve_source(config.source, pipeline.source)
    kind, target = resolve_kind(source)
    index = search.repo_index()
    index.ensure()
    opt_out = apply_opt_out(context, redis, search, pipeline)
    pii_kinds = pipeline.pii_kinds()
    writer = RepoIndexWriter(index, pii_kinds, redis.ledger().forget_rules())
    request = SourceRequest(
        target=target,
        options=sources.options(kind, config.overrides()),
        state=redis.source_state,
        log=context.log,
        full_refresh=config.full_refresh,
    )
    repo_source = open_source(kind, request)
    for batch in repo_source.batches():
        writer(batch)  # written before the source is asked for more: it saves its progress then
    stats = repo_source.stats()
    _log_outcome(context, stats, pii_kinds)
    # Hand-over (SearchIndex visibility contract): queued_repos iterates this index next, and on
    # Elasticsearch it would otherwise miss the repositories written here.
    index.refresh()
    metadata = {"source": source, "source_kind": kind, **_stats_metadata(stats)}
    metadata.update(repos_new=writer.new, repos_updated=writer.updated, repos_unchanged=writer.unchanged)
    metadata.update(opt_out, repos_forgotten_skipped=writer.skipped_forgotten)
    metadata["secrets_redacted"] = dg.MetadataValue.json(dict(sorted(writer.secrets_redacted.items())))
    metadata["pii_redacted"] = dg.MetadataValue.json(dict(sorted(writer.pii_redacted.items())))
    return dg.MaterializeResult(metadata=metadata)


def _log_outcome(
    context: dg.AssetExecutionContext, stats: SourceStats, pii_kinds: frozenset[PiiKind]
) -> None:
    for entry in stats.skipped_examples[:LOGGED_SKIPS]:
        # A skipped entry is a line of a URL list or a path as written: it may hold a token or an address.
        line = redact_field(f"skipped {entry.entry}: {entry.reason} {entry.detail}", pii_kinds).text
        context.log.warning(line.rstrip())
    if stats.skipped > LOGGED_SKIPS:
        context.log.warning(f"... and {stats.skipped - LOGGED_SKIPS} more skipped entries")
    if stats.stopped:
        context.log.warning(
            f"crawl stopped early ({stats.stopped}); {stats.repos_seen} repositories kept, the source's "
            "progress is saved so the next run resumes"
        )


def _stats_metadata(stats: SourceStats) -> dict[str, Any]:
    resume_at = datetime.fromtimestamp(stats.resume_at, UTC).isoformat() if stats.resume_at else ""
    metadata: dict[str, Any] = {
        "repos_seen": stats.repos_seen,
        "skipped": stats.skipped,
        "skipped_by_reason": dg.MetadataValue.json(dict(stats.skipped_by_reason)),
        "stopped": stats.stopped or "",
        "resume_at": resume_at,
    }
    for key, value in stats.details.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, dict) else value
    return metadata


defs = dg.Definitions(assets=[crawled_repos])
