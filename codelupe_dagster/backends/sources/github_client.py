"""The GitHub REST API client: the shared rate-limited GET loop with GitHub's headers and refusals.

GitHub semantics honoured (docs.github.com, "Rate limits for the REST API"):
- primary limit: `X-RateLimit-Remaining: 0` means wait until `X-RateLimit-Reset` (epoch seconds);
- secondary limit: 403/429 with `Retry-After` means wait that long; without it (a 403 whose message
  names the secondary limit, or a 429) wait at least a minute, growing exponentially while it persists;
- conditional requests (`If-None-Match`) answered 304 do not count against the primary limit.
"""

from __future__ import annotations

from typing import ClassVar, Unpack

import requests

from codelupe_dagster.backends.sources.forge_http import (
    ApiResponse,
    ClientOptions,
    ForgeAPIError,
    RateLimitedClient,
)

SECONDARY_LIMIT_MARKERS = ("secondary rate limit", "abuse detection")


class GitHubAPIError(ForgeAPIError):
    """A request GitHub refused for a reason waiting will not fix (bad token, bad query, 404...)."""

    service = "GitHub"


class GitHubServerError(GitHubAPIError):
    """5xx or connection failures that persisted through every retry."""


class SearchCapExceeded(GitHubAPIError):
    """422 'Only the first 1000 search results are available': a page past the cap was requested."""


class GitHubSearchClient(RateLimitedClient):
    """GET requests to the GitHub REST API; see `forge_http` for the waiting and retrying rules."""

    service = "GitHub"
    api_error: ClassVar[type[ForgeAPIError]] = GitHubAPIError
    server_error: ClassVar[type[ForgeAPIError]] = GitHubServerError
    remaining_header = "X-RateLimit-Remaining"
    reset_header = "X-RateLimit-Reset"

    def __init__(
        self,
        api_url: str = "https://api.github.com",
        token: str | None = None,
        **options: Unpack[ClientOptions],
    ):
        super().__init__(api_url, **options)
        self._token = token

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> ApiResponse:
        """One GET, conditional when validators from an earlier answer are given (304 = unchanged)."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self.fetch(url, headers)

    def request_headers(self) -> dict[str, str]:
        headers = {
            **super().request_headers(),
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def is_secondary_limit(self, response: requests.Response, message: str) -> bool:
        lowered = message.lower()
        return response.status_code == 429 or any(marker in lowered for marker in SECONDARY_LIMIT_MARKERS)

    def refusal(self, status: int, message: str, url: str) -> ForgeAPIError:
        if status == 422 and "first 1000" in message:
            return SearchCapExceeded(status, message, url)
        return GitHubAPIError(status, message, url)
