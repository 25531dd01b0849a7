"""GitHub search API settings: what to crawl (the client limits are shared with GitLab, `sources.py`)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from codelupe_dagster import settings
from codelupe_dagster.backends.sources.base import Now, Sleep
from codelupe_dagster.backends.sources.github_client import GitHubSearchClient
from codelupe_dagster.backends.sources.github_query import SearchPlan
from codelupe_dagster.resources.sources import ForgeClientResource

DEFAULT_LANGUAGES = ["python", "javascript", "typescript", "go", "rust", "java", "c", "cpp"]


class GitHubResource(ForgeClientResource):
    """The GitHub REST API. A token is optional: without one the search limit is 10 requests a minute
    instead of 30, and the crawl simply waits more. The token comes from `EnvVar("GITHUB_TOKEN")`."""

    token: str | None = Field(default=None, description="GitHub token; set through EnvVar('GITHUB_TOKEN').")
    api_url: str = "https://api.github.com"
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    min_stars: int = 10
    pushed_since: str | None = Field(default=None, description="ISO date; overrides pushed_within_days.")
    pushed_within_days: int | None = 365
    per_page: int = Field(default=100, ge=1, le=100)

    @classmethod
    def from_env(cls) -> GitHubResource:
        """The resource for this environment: the token only as an EnvVar, so it is never shown in the UI."""
        token = dg.EnvVar("GITHUB_TOKEN") if settings.env_str("GITHUB_TOKEN") else None
        return cls(token=token)  # type: ignore[arg-type]

    def client(
        self, *, sleep: Sleep = time.sleep, now: Now = time.time, log: logging.Logger | None = None
    ) -> GitHubSearchClient:
        return GitHubSearchClient(
            self.api_url, self.token or None, sleep=sleep, now=now, log=log, **self.client_options()
        )

    def source_options(
        self,
        *,
        languages: list[str] | None = None,
        min_stars: int | None = None,
        pushed_since: str | None = None,
        today: date | None = None,
    ) -> dict[str, Any]:
        """The github source's options; arguments (from the run config) override the resource's."""
        plan = self.plan(languages=languages, min_stars=min_stars, pushed_since=pushed_since, today=today)
        return {
            **self.client_options(),
            "api_url": self.api_url,
            "token": self.token or None,
            "languages": plan.languages,
            "min_stars": plan.min_stars,
            "pushed_since": plan.pushed_since,
            "per_page": plan.per_page,
        }

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
