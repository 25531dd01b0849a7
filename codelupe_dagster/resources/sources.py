"""The crawl's sources: one resource holding every forge's settings block.

`crawled_repos` takes this resource once, whatever the source. A block's field name is its kind in the
backends registry (`backends/sources`), so `options(kind, overrides)` finds the block for a forge by
name and a path source (a local directory, a URL list) needs no block at all. Adding a forge here is one
field line; `tests/backends/sources/test_source_contract.py` fails while a registered forge has no block.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from codelupe_dagster.backends.sources import forge_kinds
from codelupe_dagster.resources.forge import CrawlOverrides, ForgeConfig
from codelupe_dagster.resources.github import GitHubForge
from codelupe_dagster.resources.gitlab import GitLabForge


class SourcesResource(dg.ConfigurableResource):
    """Every forge the crawl can read, one settings block each, named by its source kind."""

    github: GitHubForge = Field(default_factory=GitHubForge, description="GitHub search.")
    gitlab: GitLabForge = Field(default_factory=GitLabForge, description="A GitLab instance's projects.")

    def forges(self) -> dict[str, ForgeConfig]:
        """The forge blocks by kind."""
        return {
            name: block
            for name in type(self).model_fields
            if isinstance(block := getattr(self, name), ForgeConfig)
        }

    def options(self, kind: str, overrides: CrawlOverrides) -> dict[str, Any]:
        """The options of the source `kind`: its block's settings with the run's overrides."""
        forge = self.forges().get(kind)
        if forge is not None:
            return forge.source_options(overrides)
        if kind in forge_kinds():
            raise ValueError(f"source kind {kind!r} has no settings block in SourcesResource")
        if kind == "local" and overrides.scan_depth is not None:
            return {"max_depth": overrides.scan_depth}
        return {}

    def clone_hosts(self) -> list[str]:
        """The hosts of every configured forge, in order and without repeats: the clone allow-list's base."""
        hosts = [host for forge in self.forges().values() for host in forge.clone_hosts() if host]
        return list(dict.fromkeys(hosts))
