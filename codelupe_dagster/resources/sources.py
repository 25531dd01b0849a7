"""Settings of the forge sources the crawl reads: the client limits they share, and GitLab's own.

Each forge resource hands the crawl a plain options mapping for its source (`source_options`); the
backends registry (`backends/sources`) turns it into a `RepoSource`. The environment is read here and
only here: GITLAB_URL (default https://gitlab.com) and GITLAB_TOKEN (an EnvVar, resolved by Dagster at
run time and never shown in the UI).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from codelupe_dagster import settings
from codelupe_dagster.backends.sources.gitlab import DEFAULT_GITLAB_URL


class ForgeClientResource(dg.ConfigurableResource):
    """How patiently a forge's API client waits for rate limits and retries failures."""

    max_wait_s: float = Field(default=900.0, description="Longest single rate-limit wait before stopping.")
    max_total_wait_s: float = Field(default=3600.0, description="Rate-limit waits a crawl may add up to.")
    secondary_wait_s: float = Field(
        default=60.0, description="Wait after a secondary limit (429) without Retry-After."
    )
    max_retries: int = 4
    backoff_s: float = 1.0
    max_requests: int | None = Field(default=None, description="Request budget per crawl; None = unlimited.")
    timeout_s: float = 30.0

    def client_options(self) -> dict[str, Any]:
        return {
            "max_wait_s": self.max_wait_s,
            "max_total_wait_s": self.max_total_wait_s,
            "secondary_wait_s": self.secondary_wait_s,
            "max_retries": self.max_retries,
            "backoff_s": self.backoff_s,
            "max_requests": self.max_requests,
            "timeout_s": self.timeout_s,
        }


class GitLabResource(ForgeClientResource):
    """A GitLab instance's project list. Without a token only public projects are listed."""

    url: str = Field(default=DEFAULT_GITLAB_URL, description="The instance; GITLAB_URL.")
    token: str | None = Field(default=None, description="Set through EnvVar('GITLAB_TOKEN').")
    per_page: int = Field(default=100, ge=1, le=100)
    min_stars: int = 0
    max_pages: int | None = Field(
        default=None, description="Pages per crawl; the cursor resumes there on the next run."
    )
    statistics: bool = Field(
        default=False, description="Ask for repository sizes (needs Reporter access per project)."
    )

    @classmethod
    def from_env(cls) -> GitLabResource:
        """GITLAB_URL, and the token only as an EnvVar so it is never shown in the UI."""
        token = dg.EnvVar("GITLAB_TOKEN") if settings.env_str("GITLAB_TOKEN") else None
        return cls(url=settings.env_str("GITLAB_URL") or DEFAULT_GITLAB_URL, token=token)  # type: ignore[arg-type]

    def source_options(self, *, min_stars: int | None = None) -> dict[str, Any]:
        """The gitlab source's options; `min_stars` (from the run config) overrides the resource's."""
        return {
            **self.client_options(),
            "url": self.url,
            "token": self.token or None,
            "per_page": self.per_page,
            "min_stars": self.min_stars if min_stars is None else min_stars,
            "max_pages": self.max_pages,
            "statistics": self.statistics,
        }
