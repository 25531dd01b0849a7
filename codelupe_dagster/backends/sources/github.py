"""GitHub repository search: a rate-limit-aware HTTP client and the crawl that slices past the result cap.

No Dagster here: the `crawled_repos` asset wires this to the repo index and Redis. The clock (`sleep`,
`now`) is injected so tests run the real HTTP traffic against a replay server while recording waits
instead of sleeping through them.

GitHub semantics honoured (docs.github.com, "Rate limits for the REST API", "Searching repositories"):
- a search query returns at most 1,000 results (`total_count` says how many exist); so a query whose
  total is above the cap is split on its star range, then on its `pushed` date range, until each slice fits;
- pages follow the `Link: <...>; rel="next"` header, never a computed page number;
- primary limit: `X-RateLimit-Remaining: 0` means wait until `X-RateLimit-Reset` (epoch seconds);
- secondary limit: 403/429 with `Retry-After` means wait that long, without it wait at least a minute,
  growing exponentially while it persists;
- conditional requests (`If-None-Match`) answered 304 do not count against the primary limit.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import requests

from codelupe_dagster.core.models import RepoRecord

SEARCH_RESULT_CAP = 1000
# Nothing on GitHub was pushed before it opened; the floor of an open `pushed` range when it must be split.
GITHUB_LAUNCH = date(2008, 1, 1)
# Rate-limit resets are whole seconds and clocks drift: one spare second avoids a guaranteed second 403.
RESET_MARGIN_S = 1.0
SECONDARY_LIMIT_MARKERS = ("secondary rate limit", "abuse detection")
# A request still refused after this many rate-limit waits (e.g. `Retry-After: 0` forever) stops the crawl.
MAX_RATE_LIMIT_WAITS_PER_REQUEST = 8

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Now = Callable[[], float]


# ---------------------------------------------------------------- errors


class GitHubAPIError(RuntimeError):
    """A request GitHub refused for a reason waiting will not fix (bad token, bad query, 404...)."""

    def __init__(self, status: int, message: str, url: str):
        super().__init__(f"GitHub API {status} for {url}: {message}")
        self.status = status
        self.message = message
        self.url = url


class GitHubServerError(GitHubAPIError):
    """5xx or connection failures that persisted through every retry."""


class SearchCapExceeded(GitHubAPIError):
    """422 'Only the first 1000 search results are available': a page past the cap was requested."""


class CrawlStopped(Exception):
    """A clean stop: what was gathered is kept, and the next run resumes from the saved state."""

    reason = "stopped"


class RateLimitBudgetExceeded(CrawlStopped):
    reason = "rate_limited"

    def __init__(self, wait_s: float, resume_at: float, why: str):
        super().__init__(f"rate limited ({why}); stopping rather than waiting another {wait_s:.0f}s")
        self.wait_s = wait_s
        self.resume_at = resume_at


class RequestBudgetExceeded(CrawlStopped):
    reason = "request_budget"


# ---------------------------------------------------------------- HTTP client


@dataclass
class ClientStats:
    api_calls: int = 0
    not_modified: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    retries: int = 0


@dataclass(frozen=True)
class ApiResponse:
    status: int
    url: str
    headers: Mapping[str, str]
    body: Any
    next_url: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class GitHubSearchClient:
    """GET requests to the GitHub REST API that wait out rate limits and retry transient failures.

    Every wait is bounded: a single wait above `max_wait_s`, or waits adding up past `max_total_wait_s`,
    raise `RateLimitBudgetExceeded` *before* sleeping, so a crawl stops cleanly instead of hanging.
    """

    def __init__(
        self,
        api_url: str = "https://api.github.com",
        token: str | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        now: Now = time.time,
        max_wait_s: float = 900.0,
        max_total_wait_s: float = 3600.0,
        secondary_wait_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_requests: int | None = None,
        timeout_s: float = 30.0,
        log: logging.Logger | None = None,
    ):
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self._sleep = sleep
        self.now = now
        self.max_wait_s = max_wait_s
        self.max_total_wait_s = max_total_wait_s
        self.secondary_wait_s = secondary_wait_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_requests = max_requests
        self.timeout_s = timeout_s
        self.log = log or logger
        self.stats = ClientStats()
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._secondary_streak = 0

    def url_for(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The exact URL that will be requested; also the key of the conditional-request cache."""
        prepared = requests.Request("GET", f"{self.api_url}{path}", params=params).prepare()
        return str(prepared.url)

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> ApiResponse:
        """The response to one GET (200 with its JSON, or 304 when the validators still match).

        Raises `CrawlStopped` subclasses for budgets (clean stops), `GitHubServerError` once 5xx retries are
        spent, and `GitHubAPIError` for refusals that waiting cannot fix.
        """
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "codelupe-dagster",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        failures = 0
        limited = 0
        while True:
            self._wait_for_known_reset()
            if self.max_requests is not None and self.stats.api_calls >= self.max_requests:
                raise RequestBudgetExceeded(f"request budget of {self.max_requests} spent")
            self.stats.api_calls += 1
            try:
                response = self._session.get(url, headers=headers, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures = self._backoff_or_raise(failures, 0, str(exc), url)
                continue
            self._remember_rate_limit(response.headers)
            status = response.status_code
            if status == 304:
                self.stats.not_modified += 1
                return ApiResponse(304, url, response.headers, None, None)
            if status < 300:
                try:
                    body = response.json()
                except ValueError:
                    # a truncated or HTML body behind a 200 is a transient proxy failure, not an answer
                    failures = self._backoff_or_raise(failures, status, "response body is not JSON", url)
                    continue
                self._secondary_streak = 0
                return ApiResponse(status, url, response.headers, body, _next_link(response))
            message = _error_message(response)
            if status in (403, 429):
                wait = self._rate_limit_wait(response, message)
                if wait is not None:
                    limited += 1
                    if limited > MAX_RATE_LIMIT_WAITS_PER_REQUEST:
                        raise RateLimitBudgetExceeded(
                            wait[0], self.now() + wait[0], f"{wait[1]}, {limited} times"
                        )
                    self._wait(wait[0], wait[1])
                    continue
            if status >= 500:
                failures = self._backoff_or_raise(failures, status, message, url)
                continue
            if status == 422 and "first 1000" in message:
                raise SearchCapExceeded(status, message, url)
            raise GitHubAPIError(status, message, url)

    # -- rate limits

    def _remember_rate_limit(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        reset = headers.get("X-RateLimit-Reset")
        if remaining is not None and remaining.isdigit():
            self._remaining = int(remaining)
        if reset is not None and reset.isdigit():
            self._reset_at = float(reset)

    def _wait_for_known_reset(self) -> None:
        """Don't spend a request on a guaranteed 403: GitHub asks clients to wait for the reset."""
        if self._remaining == 0 and self._reset_at is not None:
            wait = self._reset_at - self.now() + RESET_MARGIN_S
            self._remaining = None
            if wait > 0:
                self._wait(wait, "primary rate limit exhausted")

    def _rate_limit_wait(self, response: requests.Response, message: str) -> tuple[float, str] | None:
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"), self.now())
        if retry_after is not None:
            self._secondary_streak += 1
            self._remaining = None  # Retry-After wins over any reset we computed
            return retry_after, f"{response.status_code} with Retry-After"
        if response.headers.get("X-RateLimit-Remaining") == "0" and self._reset_at is not None:
            self._remaining = None
            return max(self._reset_at - self.now(), 0.0) + RESET_MARGIN_S, "primary rate limit exceeded"
        lowered = message.lower()
        if response.status_code == 429 or any(marker in lowered for marker in SECONDARY_LIMIT_MARKERS):
            # GitHub: "wait at least one minute", then exponentially longer while it keeps failing.
            wait = self.secondary_wait_s * (2**self._secondary_streak)
            self._secondary_streak += 1
            return wait, "secondary rate limit"
        return None  # a plain 403 (permissions, bad token scope): waiting won't help

    def _wait(self, seconds: float, why: str) -> None:
        if seconds > self.max_wait_s or self.stats.rate_limit_wait_s + seconds > self.max_total_wait_s:
            raise RateLimitBudgetExceeded(seconds, self.now() + seconds, why)
        self.log.info("GitHub %s: waiting %.1fs", why, seconds)
        self.stats.rate_limit_waits += 1
        self.stats.rate_limit_wait_s += seconds
        self._sleep(seconds)

    # -- transient failures

    def _backoff_or_raise(self, failures: int, status: int, message: str, url: str) -> int:
        if failures >= self.max_retries:
            raise GitHubServerError(status, f"{message} (after {failures} retries)", url)
        delay = self.backoff_s * (2**failures)
        self.log.warning(
            "GitHub %s for %s; retry %d in %.1fs", status or "connection error", url, failures + 1, delay
        )
        self.stats.retries += 1
        self._sleep(delay)
        return failures + 1


def _next_link(response: requests.Response) -> str | None:
    return response.links.get("next", {}).get("url")


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason or ""
    if isinstance(body, dict):
        return str(body.get("message", ""))[:500]
    return str(body)[:200]


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110); GitHub sends seconds."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


# ---------------------------------------------------------------- query slices


@dataclass(frozen=True)
class SearchSlice:
    """One search query: a language, a star range and a `pushed` date range (None = open end)."""

    language: str | None
    min_stars: int = 0
    max_stars: int | None = None
    pushed_from: date | None = None
    pushed_to: date | None = None

    @property
    def base_query(self) -> str:
        """The query without its date range: the key of the crawl watermark, stable across runs."""
        parts = []
        if self.language:
            language = f'"{self.language}"' if " " in self.language else self.language
            parts.append(f"language:{language}")
        if self.max_stars is None:
            parts.append(f"stars:>={self.min_stars}")
        elif self.max_stars == self.min_stars:
            parts.append(f"stars:{self.min_stars}")
        else:
            parts.append(f"stars:{self.min_stars}..{self.max_stars}")
        return " ".join(parts)

    def query(self) -> str:
        pushed = _range_qualifier("pushed", self.pushed_from, self.pushed_to)
        return f"{self.base_query} {pushed}" if pushed else self.base_query


def _range_qualifier(name: str, low: date | None, high: date | None) -> str:
    if low and high:
        return f"{name}:{low.isoformat()}" if low == high else f"{name}:{low.isoformat()}..{high.isoformat()}"
    if low:
        return f"{name}:>={low.isoformat()}"
    if high:
        return f"{name}:<={high.isoformat()}"
    return ""


def split_slice(
    piece: SearchSlice, *, max_stars_seen: int | None, today: date
) -> tuple[SearchSlice, SearchSlice] | None:
    """Two slices covering `piece` exactly, or None when it is a single star value on a single day.

    Stars first, at the geometric midpoint: star counts are heavy-tailed, so a linear midpoint would leave
    nearly every repository in the lower half. An open star range is bounded by the most-starred
    repository seen (results are sorted by stars), and the upper half stays open so a repository that
    gains stars mid-crawl is not lost. When the stars are a single value, the date range is halved.
    """
    high = piece.max_stars if piece.max_stars is not None else max_stars_seen
    if high is not None and high > piece.min_stars:
        mid = math.isqrt(max(piece.min_stars, 1) * high)
        mid = min(max(mid, piece.min_stars), high - 1)
        return replace(piece, max_stars=mid), replace(piece, min_stars=mid + 1)
    if piece.max_stars is None and high is not None:
        # every match has exactly min_stars: pin it so that date halves do not reopen the star range
        piece = replace(piece, max_stars=piece.min_stars)
    low_day = piece.pushed_from or GITHUB_LAUNCH
    high_day = piece.pushed_to or today
    if low_day < high_day:
        mid_day = low_day + timedelta(days=(high_day - low_day).days // 2)
        return (
            replace(piece, pushed_from=low_day, pushed_to=mid_day),
            replace(piece, pushed_from=mid_day + timedelta(days=1)),
        )
    return None


@dataclass(frozen=True)
class SearchPlan:
    """What to crawl: one base query per language (none = all languages)."""

    languages: tuple[str, ...] = ()
    min_stars: int = 0
    pushed_since: date | None = None
    per_page: int = 100

    def base_slices(self) -> list[SearchSlice]:
        languages: tuple[str | None, ...] = self.languages or (None,)
        return [
            SearchSlice(lang, min_stars=self.min_stars, pushed_from=self.pushed_since) for lang in languages
        ]


# ---------------------------------------------------------------- item mapping

# GitHub's display names → the lowercase names used across the indexes (core/language.py).
_LANGUAGE_NAMES = {
    "c++": "cpp",
    "c#": "csharp",
    "f#": "fsharp",
    "vim script": "vim",
    "jupyter notebook": "jupyter",
}


def normalize_language(name: str | None) -> str | None:
    if not name:
        return None
    lowered = name.strip().lower()
    return _LANGUAGE_NAMES.get(lowered, lowered.replace(" ", "-"))


def normalize_timestamp(value: str | None) -> str | None:
    """GitHub's `2026-11-20T10:00:00Z` → `2026-11-20T10:00:00+00:00`, the index's date format."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def repo_record_from_item(item: Mapping[str, Any]) -> RepoRecord:
    """One search result → RepoRecord. Raises KeyError/ValueError on an item without name or URL."""
    license_info = item.get("license") or {}
    spdx = license_info.get("spdx_id") if isinstance(license_info, Mapping) else None
    return RepoRecord(
        full_name=str(item["full_name"]),
        clone_url=str(item["clone_url"]),
        stars=int(item.get("stargazers_count") or 0),
        forks=int(item.get("forks_count") or 0),
        language=normalize_language(item.get("language")),
        # NOASSERTION means GitHub found a license file it could not identify: as unknown as none.
        license=spdx if spdx and spdx != "NOASSERTION" else None,
        size_kb=int(item.get("size") or 0),
        pushed_at=normalize_timestamp(item.get("pushed_at")),
        archived=bool(item.get("archived")),
        fork=bool(item.get("fork")),
        default_branch=item.get("default_branch"),
        topics=tuple(item.get("topics") or ()),
        description=item.get("description"),
        source="github",
    )


# ---------------------------------------------------------------- crawl state stores


class KeyValueStore(Protocol):
    """Where ETags and watermarks persist between runs (a Redis hash in production)."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def retain(self, names: set[str]) -> int:
        """Forget every entry not in `names`; returns how many were dropped."""
        ...


@dataclass
class DictStore:
    """In-process store, for one-off crawls that need no memory between runs."""

    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def retain(self, names: set[str]) -> int:
        stale = [name for name in self.values if name not in names]
        for name in stale:
            del self.values[name]
        return len(stale)


class RedisHashStore:
    """One Redis hash; the crawl writes a field per URL (ETags) or per base query (watermarks)."""

    def __init__(self, client: Any, key: str):
        self._client = client
        self.key = key

    def get(self, name: str) -> str | None:
        value = self._client.hget(self.key, name)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def set(self, name: str, value: str) -> None:
        self._client.hset(self.key, name, value)

    def retain(self, names: set[str]) -> int:
        keep = {name.encode() for name in names}
        stale = [field for field in self._client.hkeys(self.key) if field not in keep]
        for start in range(0, len(stale), 1000):
            self._client.hdel(self.key, *stale[start : start + 1000])
        return len(stale)


# ---------------------------------------------------------------- the crawl


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
    """Crawls every base query of a plan into `sink`, incrementally and resumably.

    - The `sink` gets each page's new repositories before the page's ETag is saved, so a 304 on a later
      run really means "already upserted" and can be skipped.
    - A base query's watermark (latest `pushed_at` seen) is saved only once the whole query finished
      without incomplete results; a stopped or partial crawl leaves it, so the next run re-covers the
      same range (cheaply: its finished pages come back 304) and nothing is lost.
    """

    def __init__(
        self,
        client: GitHubSearchClient,
        plan: SearchPlan,
        *,
        sink: Callable[[list[RepoRecord]], None],
        etags: KeyValueStore | None = None,
        watermarks: KeyValueStore | None = None,
        today: date | None = None,
    ):
        self.client = client
        self.plan = plan
        self.sink = sink
        self.etags = etags if etags is not None else DictStore()
        self.watermarks = watermarks if watermarks is not None else DictStore()
        self.today = today or datetime.fromtimestamp(client.now(), UTC).date()
        self.stats = CrawlStats()
        self._seen: set[str] = set()
        self._requested: set[str] = set()

    def run(self) -> CrawlStats:
        try:
            for base in self.plan.base_slices():
                self._crawl_base(base)
            if not self.stats.incomplete_results:
                # URLs embed the watermark date, so yesterday's ETags are never asked for again; a stopped or
                # partial crawl keeps them all, because its next run repeats the same URLs
                self.stats.etags_pruned = self.etags.retain(self._requested)
        except CrawlStopped as stop:
            self.stats.stopped = stop.reason
            self.stats.resume_at = getattr(stop, "resume_at", None)
            self.client.log.warning("GitHub crawl stopped early, state kept for the next run: %s", stop)
        self.stats.repos_seen = len(self._seen)
        return self.stats

    def _crawl_base(self, base: SearchSlice) -> None:
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
            for page in self._pages(piece, pending):
                latest = _later(latest, page.max_pushed_at)
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

    def _pages(self, piece: SearchSlice, pending: list[SearchSlice]) -> Iterator[_Page]:
        """Pages of one slice; pushes its halves onto `pending` instead when it is over the cap."""
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
            self._consume(page)
            self._remember(url, page)
            yield page
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
        pushed = [p for p in (_safe_timestamp(item.get("pushed_at")) for item in items) if p]
        incomplete = bool(body.get("incomplete_results"))
        if incomplete:
            self.stats.incomplete_results += 1
            self.client.log.warning("GitHub returned incomplete_results for %s", url)
        return _Page(
            items=items,
            total_count=int(body.get("total_count") or 0),
            next_url=response.next_url,
            max_stars=max(stars) if stars else None,
            max_pushed_at=max(pushed, key=_sort_key) if pushed else None,
            incomplete=incomplete,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _consume(self, page: _Page) -> None:
        if page.items is None:
            return  # 304: this page's repositories were upserted by the run that cached its ETag
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
        if fresh:
            self.sink(fresh)

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


def _safe_timestamp(value: Any) -> str | None:
    try:
        return normalize_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _sort_key(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def _later(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if _sort_key(a) >= _sort_key(b) else b
