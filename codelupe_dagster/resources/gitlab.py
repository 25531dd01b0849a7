"""GitLab's settings block: which instance, and how much of its project list one crawl reads."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from codelupe_dagster.backends.sources.gitlab import DEFAULT_GITLAB_URL
from codelupe_dagster.resources.forge import CrawlOverrides, ForgeConfig, env_field, url_host


class GitLabForge(ForgeConfig):
    """A GitLab instance's project list. Without a token only public projects are listed."""

    url: str = env_field("GITLAB_URL", DEFAULT_GITLAB_URL, "the instance; its host may be cloned from.")
    token: str | None = env_field(
        "GITLAB_TOKEN", None, "lists private projects too (an EnvVar: never shown).", secret=True
    )
    per_page: int = Field(default=100, ge=1, le=100)
    min_stars: int = 0
    max_pages: int | None = Field(
        default=None, description="Pages per crawl; the cursor resumes there on the next run."
    )
    statistics: bool = Field(
        default=False, description="Ask for repository sizes (needs Reporter access per project)."
    )

    def source_options(self, overrides: CrawlOverrides) -> dict[str, Any]:
        """`min_stars` from the run config overrides the block's; GitLab has no language filter."""
        return {
            **self.client_options(),
            "url": self.url,
            "token": self.token or None,
            "per_page": self.per_page,
            "min_stars": self.min_stars if overrides.min_stars is None else overrides.min_stars,
            "max_pages": self.max_pages,
            "statistics": self.statistics,
        }

    def clone_hosts(self) -> list[str]:
        return [url_host(self.url)]
