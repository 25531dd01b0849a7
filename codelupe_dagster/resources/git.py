"""Clone/fetch settings (DESIGN §9): where repositories live, which hosts they may come from, limits;
`GitResource.repos()` hands out the `GitRepos` that applies them.

Plain fields, filled from the environment by `default_resources()` (`git_from_env`); a resource built
by hand gets the same defaults without reading the environment.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from codelupe_dagster.backends.git import ClonePolicy, GitRepos
from codelupe_dagster.backends.pygit2_repos import Pygit2Repos
from codelupe_dagster.resources.sources import SourcesResource
from codelupe_dagster.settings import DEFAULTS


def comma_list(text: str | None) -> list[str]:
    """`"https, HTTP"` → `["https", "http"]`: lower case, blanks dropped."""
    return [item.strip().lower() for item in (text or "").split(",") if item.strip()]


def default_clone_hosts() -> list[str]:
    """The hosts of the forges' default settings (github.com, gitlab.com)."""
    return SourcesResource().clone_hosts()


class GitResource(dg.ConfigurableResource):
    """Clones are bare, shallow and https-only from the allow-listed hosts unless configured otherwise."""

    repos_dir: str = Field(
        default=str(Path(DEFAULTS["DATA_DIR"]) / "repos"),
        description="REPOS_DIR: where repositories are cloned; unset: <DATA_DIR>/repos.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=default_clone_hosts,
        description="CLONE_ALLOWED_HOSTS: hosts clones may come from; the configured forges' hosts "
        "(github.com, GITLAB_URL's host) plus the variable's comma list.",
    )
    allowed_schemes: list[str] = Field(
        default_factory=lambda: comma_list(DEFAULTS["CLONE_ALLOWED_SCHEMES"]),
        description="CLONE_ALLOWED_SCHEMES: URL schemes clones may use; add http only for a trusted mirror.",
    )
    workers: int = Field(
        default=int(DEFAULTS["REPO_WORKERS"]),
        description="REPO_WORKERS: repositories cloned at once per run.",
    )
    max_repo_mb: float = Field(default=1024.0, description="Largest repository cloned, in MiB.")
    timeout_s: float = Field(default=600.0, description="Longest clone or fetch, in seconds.")
    depth: int = Field(default=1, description="History depth of a clone (1: the latest commit only).")

    def repos_path(self) -> Path:
        return Path(self.repos_dir).expanduser().resolve()

    def policy(self) -> ClonePolicy:
        return ClonePolicy(
            repos_dir=self.repos_path(),
            allowed_hosts=frozenset(host.strip().lower() for host in self.allowed_hosts if host.strip()),
            allowed_schemes=frozenset(
                scheme.strip().lower() for scheme in self.allowed_schemes if scheme.strip()
            ),
            max_repo_mb=self.max_repo_mb,
            timeout_s=self.timeout_s,
            depth=self.depth,
        )

    def repos(self) -> GitRepos:
        """Git under this resource's policy: clone or fetch a queued repository, read a clone's files."""
        return Pygit2Repos(self.policy())

    def worker_count(self) -> int:
        return max(1, self.workers)
