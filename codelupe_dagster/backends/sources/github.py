"""GitHub search as a repository source: the crawl that slices past the result cap, incrementally.

No Dagster here: the `crawled_repos` asset wires the source to the repo index and Redis. The pieces:
`github_client.py` (rate-limit-aware HTTP), `github_query.py` (queries and slicing), `github_items.py`
(item → RepoRecord); this module crawls a plan with them and remembers ETags and watermarks.

GitHub semantics honoured (docs.github.com, "Searching repositories"): pages follow the
`Link: <...>; rel="next"` header, never a computed page number; a page past result 1,000 is a 422.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime
from typing import Any

from codelupe_dagster.backends.sources.base import SourceRequest, SourceStats, check_options
from codelupe_dagster.backends.sources.forge_http import ClientLimits, CrawlStopped
from codelupe_dagster.backends.sources.github_client import (
    GitHubAPIError,
    GitHubSearchClient,
    SearchCapExceeded,
)
from codelupe_dagster.backends.sources.github_items import GITHUB, repo_record_from_item
from codelupe_dagster.backends.sources.github_query import (
    SEARCH_RESULT_CAP,
    SearchPlan,
    SearchSlice,
    split_slice,
)
from codelupe_dagster.backends.sources.records import later, safe_timestamp
from codelupe_dagster.backends.sources.state import DictStore, KeyValueStore
from codelupe_dagster.core.models import RepoRecord

# State names (the crawl asset maps each to a Redis hash): base query -> latest pushed_at seen, and
# request URL -> JSON {etag, last_modified, total_count, next, ...} for conditional requests.
WATERMARK_STATE = "crawl_watermark"
ETAG_STATE = "crawl_etags"


@dataclass
class CrawlStats:
    pages: int = 0
    pages_not_modified: int = 0
    slices: int = 0
    splits: int = 0
    truncated_slices: int = 0
    repos_beyond_cap: int = 0
    incomplete_results: int = 0
    malformed_items: int = 0
    etags_pruned: int = 0
    repos_seen: int = 0
    duplicates: int = 0
    stopped: str | None = None
    resume_at: float | None = None
    watermarks: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Page:
    items: list[Mapping[str, Any]] | None  # None: 304, unchanged since the run that upserted it
    total_count: int
    next_url: str | None
    max_stars: int | None
    max_pushed_at: str | None
    incomplete: bool = False
    etag: str | None = None
    last_modified: str | None = None


class SearchCrawler:
    """Crawls every base query of a plan, incrementally and resumably, batch by batch.

    - Each page's new repositories are handed over (`batches()` yields them) before the page's ETag is
      saved, so a 304 on a later run really means "already upserted" and can be skipped.
    - A base query's watermark (latest `pushed_at` seen) is saved only once the whole query finished
      without incomplete results; a stopped or partial crawl leaves it, so the next run re-covers the
      same range (cheaply: its finished pages come back 304) and nothing is lost.
    """

    def __init__(
        self,
        client: GitHubSearchClient,
        plan: SearchPlan,
        *,
        sink: Callable[[list[RepoRecord]], None] | None = None,
        etags: KeyValueStore | None = None,
        watermarks: KeyValueStore | None = None,
        today: date | None = None,
    ):
        self.client = client
        self.plan = plan
        self.sink = sink
        self.etags: KeyValueStore = etags if etags is not None else DictStore()
        self.watermarks: KeyValueStore = watermarks if watermarks is not None else DictStore()
        self.today = today or datetime.fromtimestamp(client.now(), UTC).date()
        self.stats = CrawlStats()
        self._seen: set[str] = set()
        self._requested: set[str] = set()

    def run(self) -> CrawlStats:
        """The whole crawl into `sink`; returns its stats."""
        for batch in self.batches():
            if self.sink is not None:
                self.sink(list(batch))
        return self.stats

    def batches(self) -> Iterator[list[RepoRecord]]:
        """Each page's new repositories; a budget or rate-limit stop ends the iteration cleanly."""
        try:
            for base in self.plan.base_slices():
                yield from self._crawl_base(base)
            if not self.stats.incomplete_results:
                # URLs embed the watermark date, so yesterday's ETags are never asked for again; a stopped or
                # partial crawl keeps them all, because its next run repeats the same URLs
                self.stats.etags_pruned = self.etags.retain(self._requested)
        except CrawlStopped as stop:
            self.stats.stopped = stop.reason
            self.stats.resume_at = getattr(stop, "resume_at", None)
            self.client.log.warning("GitHub crawl stopped early, state kept for the next run: %s", stop)
        finally:
            self.stats.repos_seen = len(self._seen)

    def _crawl_base(self, base: SearchSlice) -> Iterator[list[RepoRecord]]:
        previous = self.watermarks.get(base.base_query)
        start = base
        if previous:
            resume_day = datetime.fromisoformat(previous).date()
            # The watermark's own day is crawled again: `pushed` is day-granular and upserts are idempotent.
            if base.pushed_from is None or resume_day > base.pushed_from:
                start = replace(base, pushed_from=resume_day)
        latest: str | None = previous
        complete = True
        pending = [start]
        while pending:
            piece = pending.pop()
            for page, fresh in self._pages(piece, pending):
                if fresh:
                    yield fresh
                latest = later(latest, page.max_pushed_at)
                complete = complete and not page.incomplete
        if not complete:
            self.client.log.warning(
                "incomplete results for %r; watermark left at %s", base.base_query, previous
            )
            return
        if latest and latest != previous:
            self.watermarks.set(base.base_query, latest)
        if latest:
            self.stats.watermarks[base.base_query] = latest

    def _pages(
        self, piece: SearchSlice, pending: list[SearchSlice]
    ) -> Iterator[tuple[_Page, list[RepoRecord]]]:
        """Pages of one slice with their new records; pushes its halves onto `pending` when over the cap.

        A page's ETag is saved when the consumer comes back for the next page, i.e. after its records
        were handed over.
        """
        params = {"q": piece.query(), "sort": "stars", "order": "desc", "per_page": self.plan.per_page}
        url = self.client.url_for("/search/repositories", params)
        page = self._fetch(url)
        truncated = page.total_count > SEARCH_RESULT_CAP
        if truncated:
            halves = split_slice(piece, max_stars_seen=page.max_stars, today=self.today)
            if halves is not None:
                self.stats.splits += 1
                pending.extend(reversed(halves))
                self._remember(url, page)  # the probe page's counts steer the same split after a 304
                return
            self.stats.truncated_slices += 1
            self.stats.repos_beyond_cap += page.total_count - SEARCH_RESULT_CAP
            self.client.log.warning(
                "%r matches %d repositories on one star value and one day; only %d are reachable",
                piece.query(), page.total_count, SEARCH_RESULT_CAP,
            )  # fmt: skip
        self.stats.slices += 1
        while True:
            yield page, self._fresh_records(page)
            self._remember(url, page)
            if page.next_url is None:
                return
            url = page.next_url
            try:
                page = self._fetch(url)
            except SearchCapExceeded:
                # GitHub offered a `next` past result 1,000; the slice is already counted as truncated
                if not truncated:
                    self.stats.truncated_slices += 1
                return

    def _fetch(self, url: str) -> _Page:
        self._requested.add(url)
        cached = self._cached(url)
        response = self.client.get(url, etag=cached.get("etag"), last_modified=cached.get("last_modified"))
        if response.not_modified:
            if "total_count" not in cached:
                raise GitHubAPIError(304, "not modified, but nothing cached for this URL", url)
            self.stats.pages_not_modified += 1
            return _Page(
                None,
                cached["total_count"],
                cached.get("next"),
                cached.get("max_stars"),
                cached.get("max_pushed"),
            )
        body = response.body if isinstance(response.body, Mapping) else {}
        items = [item for item in body.get("items") or [] if isinstance(item, Mapping)]
        stars = [int(item.get("stargazers_count") or 0) for item in items]
        pushed = [p for p in (safe_timestamp(item.get("pushed_at")) for item in items) if p]
        incomplete = bool(body.get("incomplete_results"))
        if incomplete:
            self.stats.incomplete_results += 1
            self.client.log.warning("GitHub returned incomplete_results for %s", url)
        return _Page(
            items=items,
            total_count=int(body.get("total_count") or 0),
            next_url=response.next_url,
            max_stars=max(stars) if stars else None,
            max_pushed_at=max(pushed, key=datetime.fromisoformat) if pushed else None,
            incomplete=incomplete,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _fresh_records(self, page: _Page) -> list[RepoRecord]:
        if page.items is None:
            return []  # 304: this page's repositories were upserted by the run that cached its ETag
        self.stats.pages += 1
        fresh: list[RepoRecord] = []
        for item in page.items:
            try:
                record = repo_record_from_item(item)
            except (KeyError, TypeError, ValueError) as exc:
                self.stats.malformed_items += 1
                self.client.log.warning("skipping malformed search item %r: %s", item.get("full_name"), exc)
                continue
            if record.full_name in self._seen:
                # a repository whose stars changed mid-crawl shows up in two slices; the first copy is kept
                self.stats.duplicates += 1
                continue
            self._seen.add(record.full_name)
            fresh.append(record)
        return fresh

    def _cached(self, url: str) -> dict[str, Any]:
        raw = self.etags.get(url)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _remember(self, url: str, page: _Page) -> None:
        if page.items is None or page.incomplete or not (page.etag or page.last_modified):
            return  # an incomplete page must be fetched again, not answered 304
        entry = {
            "etag": page.etag,
            "last_modified": page.last_modified,
            "total_count": page.total_count,
            "next": page.next_url,
            "max_stars": page.max_stars,
            "max_pushed": page.max_pushed_at,
        }
        self.etags.set(url, json.dumps(entry))


# ---------------------------------------------------------------- the RepoSource


@dataclass(frozen=True)
class GitHubSettings:
    """The GitHub source's options (the resource's fields after the run config's overrides)."""

    api_url: str = "https://api.github.com"
    token: str | None = field(default=None, repr=False)
    languages: tuple[str, ...] = ()
    min_stars: int = 0
    pushed_since: date | None = None
    per_page: int = 100

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> tuple[GitHubSettings, ClientLimits]:
        limits, rest = ClientLimits.split(options)
        check_options(rest, {item.name for item in fields(cls)}, GITHUB)
        since = rest.get("pushed_since")
        if isinstance(since, str):
            rest = {**rest, "pushed_since": date.fromisoformat(since)}
        if "languages" in rest:
            rest = {**rest, "languages": tuple(rest["languages"])}
        return cls(**rest), limits

    def plan(self) -> SearchPlan:
        return SearchPlan(self.languages, self.min_stars, self.pushed_since, self.per_page)


class GitHubSource:
    """GitHub repository search behind the `RepoSource` interface."""

    kind = GITHUB

    def __init__(self, crawler: SearchCrawler):
        self.crawler = crawler

    @property
    def location(self) -> str:
        return self.crawler.client.api_url

    def batches(self) -> Iterator[Sequence[RepoRecord]]:
        return self.crawler.batches()

    def stats(self) -> SourceStats:
        crawl = self.crawler.stats
        client = self.crawler.client.stats
        stats = SourceStats(repos_seen=crawl.repos_seen, stopped=crawl.stopped, resume_at=crawl.resume_at)
        for reason, count in (
            ("malformed_item", crawl.malformed_items),
            ("duplicate_name", crawl.duplicates),
        ):
            if count:
                stats.skipped_by_reason[reason] = count
        stats.details = {
            "api_calls": client.api_calls,
            "not_modified": client.not_modified,
            "rate_limit_waits": client.rate_limit_waits,
            "rate_limit_wait_s": round(client.rate_limit_wait_s, 3),
            "retries": client.retries,
            "pages": crawl.pages,
            "pages_not_modified": crawl.pages_not_modified,
            "slices": crawl.slices,
            "splits": crawl.splits,
            "truncated_slices": crawl.truncated_slices,
            "repos_beyond_cap": crawl.repos_beyond_cap,
            "incomplete_results": crawl.incomplete_results,
            "malformed_items": crawl.malformed_items,
            "etags_pruned": crawl.etags_pruned,
            "duplicates": crawl.duplicates,
            "rate_limited": crawl.stopped == "rate_limited",
            "watermarks": dict(crawl.watermarks),
        }
        return stats


def open_github_source(request: SourceRequest) -> GitHubSource:
    """The registry's factory: options → client, plan and state stores (forgotten on a full refresh)."""
    settings, limits = GitHubSettings.from_options(request.options)
    client = GitHubSearchClient(
        settings.api_url,
        settings.token or None,
        sleep=request.sleep,
        now=request.now,
        log=request.log,
        **limits.as_kwargs(),
    )
    etags, watermarks = request.state(ETAG_STATE), request.state(WATERMARK_STATE)
    if request.full_refresh:
        etags.retain(set())
        watermarks.retain(set())
    return GitHubSource(SearchCrawler(client, settings.plan(), etags=etags, watermarks=watermarks))
