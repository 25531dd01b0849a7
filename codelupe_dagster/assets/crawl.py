"""`crawled_repos`: repository metadata from GitHub search or a local source, upserted into the repo index."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field

from codelupe_dagster import settings
from codelupe_dagster.backends.search import SearchIndex
from codelupe_dagster.backends.sources.github import CrawlStats, RedisHashStore, SearchCrawler
from codelupe_dagster.backends.sources.local import DEFAULT_SCAN_DEPTH, load_local_source
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.resources.github import GitHubResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource

GITHUB = "github"
WRITE_CHUNK = 500
# Redis hashes of the crawl state (RedisKeys.stats names): base query -> latest pushed_at seen, and
# request URL -> JSON {etag, last_modified, total_count, next, ...} for conditional requests.
WATERMARK_STATS = "crawl_watermark"
ETAG_STATS = "crawl_etags"
LOGGED_SKIPS = 20


class CrawlConfig(dg.Config):
    source: str | None = Field(
        default=None, description="'github', or a directory of git repositories / a file of clone URLs and "
        "paths. Default: CODELUPE_SOURCE, else 'github'."
    )  # fmt: skip
    languages: list[str] | None = Field(
        default=None, description="Overrides the github resource's languages."
    )
    min_stars: int | None = None
    pushed_since: str | None = Field(default=None, description="ISO date; overrides the resource's window.")
    full_refresh: bool = Field(
        default=False, description="Forget watermarks and ETags: crawl everything again."
    )
    scan_depth: int = Field(
        default=DEFAULT_SCAN_DEPTH, description="Directory levels searched for repositories."
    )


def resolve_source(configured: str | None) -> str:
    return configured or settings.env_str("CODELUPE_SOURCE") or GITHUB


class RepoIndexWriter:
    """Upserts records into the repo index, counting new / updated / unchanged against what it holds.

    A changed repository's document is merged over the stored one, so fields other stages own (the
    queue's `priority`) and a HEAD learned earlier survive a GitHub crawl, which never knows the HEAD.
    """

    def __init__(self, index: SearchIndex):
        self.index = index
        self.new = 0
        self.updated = 0
        self.unchanged = 0

    def __call__(self, records: Sequence[RepoRecord]) -> None:
        for start in range(0, len(records), WRITE_CHUNK):
            self._write(records[start : start + WRITE_CHUNK])

    def _write(self, records: Sequence[RepoRecord]) -> None:
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


@dg.asset(group_name="ingest", kinds={"github"})
def crawled_repos(
    context: dg.AssetExecutionContext,
    config: CrawlConfig,
    search: SearchIndexResource,
    redis: RedisResource,
    github: GitHubResource,
) -> dg.MaterializeResult:
    """Repository metadata from GitHub search (incremental, rate-limit aware) or a local source."""
    source = resolve_source(config.source)
    index = search.repo_index()
    index.ensure()
    writer = RepoIndexWriter(index)
    if source == GITHUB:
        metadata = _crawl_github(context, config, github, redis, writer)
    else:
        metadata = _crawl_local(context, config, source, writer)
    # Hand-over (SearchIndex visibility contract): queued_repos iterates this index next, and on
    # Elasticsearch it would otherwise miss the repositories written here.
    index.refresh()
    metadata.update(repos_new=writer.new, repos_updated=writer.updated, repos_unchanged=writer.unchanged)
    return dg.MaterializeResult(metadata=metadata)


def _crawl_github(
    context: dg.AssetExecutionContext,
    config: CrawlConfig,
    github: GitHubResource,
    redis: RedisResource,
    writer: RepoIndexWriter,
) -> dict[str, Any]:
    client = redis.get_client()
    keys = redis.redis_keys
    watermark_key, etag_key = keys.stats(WATERMARK_STATS), keys.stats(ETAG_STATS)
    if config.full_refresh:
        client.delete(watermark_key, etag_key)
    plan = github.plan(
        languages=config.languages, min_stars=config.min_stars, pushed_since=config.pushed_since
    )
    api = github.client(log=context.log)
    crawler = SearchCrawler(
        api,
        plan,
        sink=writer,
        etags=RedisHashStore(client, etag_key),
        watermarks=RedisHashStore(client, watermark_key),
    )
    stats = crawler.run()
    if stats.stopped:
        context.log.warning(
            f"crawl stopped early ({stats.stopped}); {stats.repos_seen} repositories kept, watermarks of "
            "unfinished queries left in place so the next run resumes"
        )
    return {"source": GITHUB, **_github_metadata(stats, api.stats.__dict__)}


def _github_metadata(stats: CrawlStats, client_stats: dict[str, Any]) -> dict[str, Any]:
    resume_at = datetime.fromtimestamp(stats.resume_at, UTC).isoformat() if stats.resume_at else ""
    return {
        "repos_seen": stats.repos_seen,
        "api_calls": client_stats["api_calls"],
        "not_modified": client_stats["not_modified"],
        "rate_limit_waits": client_stats["rate_limit_waits"],
        "rate_limit_wait_s": round(client_stats["rate_limit_wait_s"], 3),
        "retries": client_stats["retries"],
        "pages": stats.pages,
        "pages_not_modified": stats.pages_not_modified,
        "slices": stats.slices,
        "splits": stats.splits,
        "truncated_slices": stats.truncated_slices,
        "repos_beyond_cap": stats.repos_beyond_cap,
        "incomplete_results": stats.incomplete_results,
        "malformed_items": stats.malformed_items,
        "etags_pruned": stats.etags_pruned,
        "duplicates": stats.duplicates,
        "rate_limited": stats.stopped == "rate_limited",
        "stopped": stats.stopped or "",
        "resume_at": resume_at,
        "watermarks": dg.MetadataValue.json(stats.watermarks),
    }


def _crawl_local(
    context: dg.AssetExecutionContext, config: CrawlConfig, source: str, writer: RepoIndexWriter
) -> dict[str, Any]:
    scan = load_local_source(source, max_depth=config.scan_depth)
    for entry in scan.skipped[:LOGGED_SKIPS]:
        context.log.warning(f"skipped {entry.entry}: {entry.reason} {entry.detail}".rstrip())
    if len(scan.skipped) > LOGGED_SKIPS:
        context.log.warning(f"... and {len(scan.skipped) - LOGGED_SKIPS} more skipped entries")
    writer(scan.records)
    return {
        "source": source,
        "repos_seen": len(scan.records),
        "skipped": len(scan.skipped),
        "skipped_by_reason": dg.MetadataValue.json(scan.skipped_by_reason),
    }


# The github resource travels with its asset (as `git` does with cloned_repos); its token is an EnvVar only
# when GITHUB_TOKEN is set, because an EnvVar naming an unset variable fails the whole code location.
defs = dg.Definitions(assets=[crawled_repos], resources={"github": GitHubResource.from_env()})
