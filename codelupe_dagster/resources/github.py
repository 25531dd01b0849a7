"""GitHub's settings block: what GitHub search crawls (the client limits are shared, `forge.py`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import Field

from codelupe_dagster.backends.sources.github_query import SearchPlan
from codelupe_dagster.resources.forge import CrawlOverrides, ForgeConfig, env_field, url_host

DEFAULT_LANGUAGES = ["python", "javascript", "typescript", "go", "rust", "java", "c", "cpp"]
PUBLIC_API_HOST = "api.github.com"
PUBLIC_HOST = "github.com"


class GitHubForge(ForgeConfig):
    """The GitHub REST API. A token is optional: without one the search limit is 10 requests a minute
    instead of 30, and the crawl simply waits more."""

    token: str | None = env_field(
        "GITHUB_TOKEN", None, "raises the search rate limit (an EnvVar: never shown).", secret=True
    )
    api_url: str = "https://api.github.com"
    languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    min_stars: int = 10
    pushed_since: str | None = Field(default=None, description="ISO date; overrides pushed_within_days.")
    pushed_within_days: int | None = 365
    per_page: int = Field(default=100, ge=1, le=100)

    def source_options(self, overrides: CrawlOverrides, *, today: date | None = None) -> dict[str, Any]:
        plan = self.plan(
            languages=overrides.languages,
            min_stars=overrides.min_stars,
            pushed_since=overrides.pushed_since,
            today=today,
        )
        return {
            **self.client_options(),
            "api_url": self.api_url,
            "token": self.token or None,
            "languages": plan.languages,
            "min_stars": plan.min_stars,
            "pushed_since": plan.pushed_since,
            "per_page": plan.per_page,
        }

    def clone_hosts(self) -> list[str]:
        """github.com for the public API; a GitHub Enterprise server clones from its own host."""
        host = url_host(self.api_url)
        return [PUBLIC_HOST if host == PUBLIC_API_HOST else host]

    def plan(
        self,
        *,
        languages: list[str] | None = None,
        min_stars: int | None = None,
        pushed_since: str | None = None,
        today: date | None = None,
    ) -> SearchPlan:
        """The crawl plan; arguments (from the asset's run config) override the block's settings."""
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
