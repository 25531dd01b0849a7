"""GitHub search API settings: what to crawl and how patiently to wait for rate limits."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from pydantic import Field

from codelupe_dagster import settings
from codelupe_dagster.backends.sources.github import GitHubSearchClient, Now, SearchPlan, Sleep

DEFAULT_LANGUAGES = ["python", "javascript", "typescript", "go", "rust", "java", "c", "cpp"]


class GitHubResource(dg.ConfigurableResource):
    """The GitHub REST API. A token is optional: without one the search limit is 10 requests a minute
    instead of 30, and the crawl simply waits more. The token comes from `EnvVar("GITHUB_TOKEN")`."""

    token: str | None = Field(default=None, description="GitHub token; set through EnvVar('GITHUB_TOKEN').")
    api_url: str = "https://api.github.com"
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    min_stars: int = 10
    pushed_since: str | None = Field(default=None, description="ISO date; overrides pushed_within_days.")
    pushed_within_days: int | None = 365
    per_page: int = Field(default=100, ge=1, le=100)
    max_wait_s: float = Field(default=900.0, description="Longest single rate-limit wait before stopping.")
    max_total_wait_s: float = Field(default=3600.0, description="Rate-limit waits a crawl may add up to.")
    secondary_wait_s: float = Field(
        default=60.0, description="Wait after a secondary limit without Retry-After."
    )
    max_retries: int = 4
    backoff_s: float = 1.0
    max_requests: int | None = Field(default=None, description="Request budget per crawl; None = unlimited.")
    timeout_s: float = 30.0

    @classmethod
    def from_env(cls) -> GitHubResource:
        """The resource for this environment: the token only as an EnvVar, so it is never shown in the UI."""
        token = dg.EnvVar("GITHUB_TOKEN") if settings.env_str("GITHUB_TOKEN") else None
        return cls(token=token)  # type: ignore[arg-type]

    def client(self, *, sleep: Sleep = time.sleep, now: Now = time.time, log=None) -> GitHubSearchClient:
        return GitHubSearchClient(
            self.api_url,
            self.token or None,
            sleep=sleep,
            now=now,
            max_wait_s=self.max_wait_s,
            max_total_wait_s=self.max_total_wait_s,
            secondary_wait_s=self.secondary_wait_s,
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
            max_requests=self.max_requests,
            timeout_s=self.timeout_s,
            log=log,
        )

    def plan(
        self,
        *,
        languages: list[str] | None = None,
        min_stars: int | None = None,
        pushed_since: str | None = None,
        today: date | None = None,
    ) -> SearchPlan:
        """The crawl plan; arguments (from the asset's run config) override the resource's settings."""
        since_text = pushed_since or self.pushed_since
        if since_text:
            since: date | None = date.fromisoformat(since_text)
        elif self.pushed_within_days is not None:
            since = (today or datetime.now(UTC).date()) - timedelta(days=self.pushed_within_days)
        else:
            since = None
        return SearchPlan(
            languages=tuple(languages if languages is not None else self.languages),
            min_stars=self.min_stars if min_stars is None else min_stars,
            pushed_since=since,
            per_page=self.per_page,
        )
