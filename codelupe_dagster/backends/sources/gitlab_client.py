"""The GitLab REST API (v4) client: the shared rate-limited GET loop with GitLab's headers and refusals.

GitLab semantics honoured (docs.gitlab.com, "Rate limits" and "REST API"):
- the token goes in the `PRIVATE-TOKEN` header (never in the URL, where it would reach logs);
- `RateLimit-Remaining: 0` means wait until `RateLimit-Reset` (epoch seconds) before asking again;
- a 429 carries `Retry-After` (seconds), which is waited exactly;
- 401 (bad or expired token) and 403 (no access) are refusals waiting cannot fix: `GitLabAuthError`.
"""

from __future__ import annotations

from typing import ClassVar, Unpack

from codelupe_dagster.backends.sources.forge_http import (
    ApiResponse,
    ClientOptions,
    ForgeAPIError,
    RateLimitedClient,
)

API_PREFIX = "/api/v4"


class GitLabAPIError(ForgeAPIError):
    """A request GitLab refused for a reason waiting will not fix."""

    service = "GitLab"


class GitLabServerError(GitLabAPIError):
    """5xx or connection failures that persisted through every retry."""


class GitLabAuthError(GitLabAPIError):
    """401/403: the token is missing, wrong, expired or lacks access. Retrying cannot help."""

    def __init__(self, status: int, message: str, url: str):
        hint = (
            "the token was rejected (wrong, expired or revoked): check GITLAB_TOKEN"
            if status == 401
            else "access denied: the token lacks the scope (read_api) or the instance requires sign-in"
        )
        super().__init__(status, f"{message or 'refused'}; {hint}", url)


class GitLabClient(RateLimitedClient):
    """GET requests to a GitLab instance's API; see `forge_http` for the waiting and retrying rules."""

    service = "GitLab"
    api_error: ClassVar[type[ForgeAPIError]] = GitLabAPIError
    server_error: ClassVar[type[ForgeAPIError]] = GitLabServerError
    remaining_header = "RateLimit-Remaining"
    reset_header = "RateLimit-Reset"

    def __init__(
        self,
        instance_url: str = "https://gitlab.com",
        token: str | None = None,
        **options: Unpack[ClientOptions],
    ):
        super().__init__(instance_url.rstrip("/") + API_PREFIX, **options)
        self.instance_url = instance_url.rstrip("/")
        self._token = token

    def get(self, url: str) -> ApiResponse:
        return self.fetch(url)

    def request_headers(self) -> dict[str, str]:
        headers = {**super().request_headers(), "Accept": "application/json"}
        if self._token:
            headers["PRIVATE-TOKEN"] = self._token
        return headers

    def refusal(self, status: int, message: str, url: str) -> ForgeAPIError:
        if status in (401, 403):
            return GitLabAuthError(status, message, url)
        return GitLabAPIError(status, message, url)
