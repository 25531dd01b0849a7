"""What every forge's settings block has in common, and what the crawl may override per run.

A forge (GitHub, GitLab, ...) is configured as one `ForgeConfig` block inside `SourcesResource`
(`resources/sources.py`). A block turns its fields, with the run's overrides, into the options of the
backends source of the same kind (`backends/sources`), and names the hosts its repositories are cloned
from, so the clone allow-list follows the forges that are configured.

A field filled from the environment is declared with `env_field`: its description starts with the
variable's name (shown in the launchpad) and the variable is read by `default_resources()`, the one
place the environment is read for resource fields. Secret variables reach the block as `EnvVar`s, so
Dagster resolves them at run time and never shows their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
from pydantic import Field
from pydantic.fields import FieldInfo


def env_field(variable: str, default: Any, description: str, *, secret: bool = False) -> Any:
    """A field `default_resources()` fills from `variable` when it is set (a secret as an EnvVar)."""
    return Field(
        default=default,
        description=f"{variable}: {description}",
        json_schema_extra={"env": variable, "secret": secret},
    )


def env_variable(info: FieldInfo) -> tuple[str, bool] | None:
    """(variable, secret) for a field declared with `env_field`, else None."""
    extra = info.json_schema_extra
    if not isinstance(extra, dict) or not isinstance(extra.get("env"), str):
        return None
    return str(extra["env"]), bool(extra.get("secret"))


def url_host(url: str) -> str:
    """The host name of `url`, lower case and without a port (what the clone policy compares)."""
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class CrawlOverrides:
    """What one crawl run may override (the crawl asset's run config); None keeps the configured value.

    A forge uses the overrides it understands: `languages` and `pushed_since` mean something to GitHub
    search only. `scan_depth` is for a local directory source.
    """

    languages: list[str] | None = None
    min_stars: int | None = None
    pushed_since: str | None = None
    scan_depth: int | None = None


class ForgeConfig(dg.Config):
    """A forge API client's patience with rate limits and failures, shared by every forge."""

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

    def source_options(self, overrides: CrawlOverrides) -> dict[str, Any]:
        """The options of this forge's backends source, with the run's overrides applied."""
        raise NotImplementedError

    def clone_hosts(self) -> list[str]:
        """The hosts this forge's repositories are cloned from (for the clone allow-list)."""
        raise NotImplementedError
