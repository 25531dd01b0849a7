"""GitLab's project list as a repository source (kind `gitlab`), for gitlab.com or a self-hosted instance.

`GET /api/v4/projects?order_by=id&sort=asc&pagination=keyset` walks every project the token may see in id
order; pages follow the `Link: <...>; rel="next"` header (keyset pagination has no page numbers and no
totals). The walk is resumable: after each page is handed over, the last project id is saved as a cursor
(`id_after`), so a run stopped by a rate limit or its page budget continues where it stopped. When a
pass reaches the last page the cursor is cleared, so the next run starts a new pass and refreshes stars
and activity of projects seen before.

A project becomes a `RepoRecord` named by `path_with_namespace`, which may be nested
(`group/subgroup/project`); `core/repo_names.py` maps such names to clone directories.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from codelupe_dagster.backends.sources.base import SourceRequest, SourceStats, check_options
from codelupe_dagster.backends.sources.forge_http import ClientLimits, CrawlStopped
from codelupe_dagster.backends.sources.gitlab_client import GitLabClient
from codelupe_dagster.backends.sources.records import normalize_timestamp
from codelupe_dagster.backends.sources.state import DictStore, KeyValueStore
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_names import is_safe_name

GITLAB = "gitlab"
DEFAULT_GITLAB_URL = "https://gitlab.com"
# State name (a Redis hash in production): instance URL -> id of the last project handed over.
CURSOR_STATE = "gitlab_cursor"
# GitLab's license keys are lowercase SPDX ids; "other" is a license file it could not identify.
_UNKNOWN_LICENSES = frozenset({"", "other", "none", "noassertion"})


class MalformedProject(ValueError):
    """A project entry without the fields a record needs."""


def repo_record_from_project(project: Mapping[str, Any]) -> RepoRecord:
    """One project of `GET /projects` → RepoRecord. Raises MalformedProject without name or clone URL."""
    full_name = project.get("path_with_namespace")
    clone_url = project.get("http_url_to_repo")
    if not isinstance(full_name, str) or not full_name or not isinstance(clone_url, str) or not clone_url:
        raise MalformedProject("no path_with_namespace or http_url_to_repo")
    statistics = project.get("statistics")
    size_bytes = statistics.get("repository_size") if isinstance(statistics, Mapping) else None
    topics = project.get("topics") or project.get("tag_list") or ()
    try:
        return RepoRecord(
            full_name=full_name,
            clone_url=clone_url,
            stars=int(project.get("star_count") or 0),
            forks=int(project.get("forks_count") or 0),
            license=_license(project.get("license")),
            size_kb=int(size_bytes or 0) // 1024,
            pushed_at=normalize_timestamp(project.get("last_activity_at")),
            archived=bool(project.get("archived")),
            fork=bool(project.get("forked_from_project")),
            default_branch=project.get("default_branch") or None,
            topics=tuple(str(topic) for topic in topics),
            description=project.get("description") or None,
            source=GITLAB,
        )
    except (TypeError, ValueError) as exc:
        raise MalformedProject(str(exc)) from exc


def _license(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return None
    key = str(value.get("key") or "").strip()
    return None if key.lower() in _UNKNOWN_LICENSES else key


def skip_reason(project: Mapping[str, Any], min_stars: int) -> str | None:
    """Why a well-formed project is not a repository to crawl, or None to keep it."""
    if project.get("empty_repo"):
        return "empty_repository"
    if project.get("repository_access_level") == "disabled":
        return "repository_disabled"
    if int(project.get("star_count") or 0) < min_stars:
        return "below_min_stars"
    return None


@dataclass
class GitLabStats:
    pages: int = 0
    pass_complete: bool = False
    cursor: int | None = None


@dataclass(frozen=True)
class GitLabSettings:
    """The GitLab source's options."""

    url: str = DEFAULT_GITLAB_URL
    token: str | None = field(default=None, repr=False)
    per_page: int = 100
    min_stars: int = 0
    max_pages: int | None = None  # per run; the cursor carries the rest over to the next run
    statistics: bool = False  # ask for repository sizes (needs Reporter access to each project)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> tuple[GitLabSettings, ClientLimits]:
        limits, rest = ClientLimits.split(options)
        check_options(rest, {item.name for item in fields(cls)}, GITLAB)
        return cls(**rest), limits


class GitLabSource:
    """Every project of a GitLab instance, page by page, behind the `RepoSource` interface."""

    kind = GITLAB

    def __init__(self, client: GitLabClient, settings: GitLabSettings, cursors: KeyValueStore | None = None):
        self.client = client
        self.settings = settings
        self.cursors: KeyValueStore = cursors if cursors is not None else DictStore()
        self.crawl = GitLabStats()
        self._stats = SourceStats()
        self._seen: set[str] = set()

    @property
    def location(self) -> str:
        return self.client.instance_url

    def batches(self) -> Iterator[Sequence[RepoRecord]]:
        """Each page's new records; the cursor moves past a page once its records were handed over."""
        try:
            url: str | None = self._first_url()
            while url is not None:
                if self.settings.max_pages is not None and self.crawl.pages >= self.settings.max_pages:
                    self._stats.stopped = "page_budget"
                    return
                response = self.client.get(url)
                projects = [p for p in response.body or [] if isinstance(p, Mapping)]
                self.crawl.pages += 1
                records = self._records(projects)
                if records:
                    yield records
                url = response.next_url
                self._advance(projects, finished=url is None)
        except CrawlStopped as stop:
            self._stats.stopped = stop.reason
            self._stats.resume_at = getattr(stop, "resume_at", None)
            self.client.log.warning("GitLab crawl stopped early, cursor kept for the next run: %s", stop)
        finally:
            self._stats.repos_seen = len(self._seen)

    def stats(self) -> SourceStats:
        client = self.client.stats
        self._stats.details = {
            "api_calls": client.api_calls,
            "rate_limit_waits": client.rate_limit_waits,
            "rate_limit_wait_s": round(client.rate_limit_wait_s, 3),
            "retries": client.retries,
            "pages": self.crawl.pages,
            "pass_complete": self.crawl.pass_complete,
            "cursor": self.crawl.cursor if self.crawl.cursor is not None else "",
            "rate_limited": self._stats.stopped == "rate_limited",
        }
        return self._stats

    def _first_url(self) -> str:
        params: dict[str, Any] = {
            "order_by": "id",
            "sort": "asc",
            "pagination": "keyset",
            "per_page": self.settings.per_page,
        }
        cursor = self.cursors.get(self.location)
        if cursor and cursor.isdigit():
            self.crawl.cursor = int(cursor)
            params["id_after"] = cursor
        if self.settings.statistics:
            params["statistics"] = "true"
        return self.client.url_for("/projects", params)

    def _records(self, projects: list[Mapping[str, Any]]) -> list[RepoRecord]:
        records: list[RepoRecord] = []
        for project in projects:
            where = str(project.get("path_with_namespace") or project.get("id") or "?")
            try:
                record = repo_record_from_project(project)
            except MalformedProject as exc:
                self._stats.skip(where, "malformed_item", str(exc))
                continue
            reason = skip_reason(project, self.settings.min_stars)
            if reason is None and not is_safe_name(record.full_name):
                reason = "unsafe_name"
            if reason is None and record.full_name in self._seen:
                reason = "duplicate_name"
            if reason is not None:
                self._stats.skip(where, reason)
                continue
            self._seen.add(record.full_name)
            records.append(record)
        return records

    def _advance(self, projects: list[Mapping[str, Any]], *, finished: bool) -> None:
        """Saves the cursor past this page, or clears it when the pass reached the last page."""
        if finished:
            self.crawl.pass_complete = True
            self.crawl.cursor = None
            self.cursors.delete(self.location)
            return
        ids = [int(p["id"]) for p in projects if isinstance(p.get("id"), int)]
        if ids:
            self.crawl.cursor = max(ids)
            self.cursors.set(self.location, str(self.crawl.cursor))


def open_gitlab_source(request: SourceRequest) -> GitLabSource:
    """The registry's factory: options → client and cursor store (cleared on a full refresh)."""
    settings, limits = GitLabSettings.from_options(request.options)
    client = GitLabClient(
        settings.url,
        settings.token or None,
        sleep=request.sleep,
        now=request.now,
        log=request.log,
        **limits.as_kwargs(),
    )
    cursors = request.state(CURSOR_STATE)
    if request.full_refresh:
        cursors.delete(client.instance_url)
    return GitLabSource(client, settings, cursors)
