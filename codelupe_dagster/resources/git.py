"""Clone/fetch settings (DESIGN §9): where repositories live, which hosts they may come from, limits."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.backends.git_clone import ClonePolicy


class GitResource(dg.ConfigurableResource):
    """Unset ``repos_dir``/``workers``/``allowed_schemes`` fall back to REPOS_DIR/REPO_WORKERS/
    CLONE_ALLOWED_SCHEMES, read when the run starts; clones are https-only unless configured otherwise."""

    repos_dir: str | None = None
    allowed_hosts: list[str] = ["github.com"]
    allowed_schemes: list[str] | None = None
    max_repo_mb: float = 1024.0
    workers: int | None = None
    timeout_s: float = 600.0
    depth: int = 1

    def policy(self) -> ClonePolicy:
        return ClonePolicy(
            repos_dir=Path(self.repos_dir).expanduser().resolve() if self.repos_dir else settings.repos_dir(),
            allowed_hosts=frozenset(host.lower() for host in self.allowed_hosts),
            allowed_schemes=self.schemes(),
            max_repo_mb=self.max_repo_mb,
            timeout_s=self.timeout_s,
            depth=self.depth,
        )

    def worker_count(self) -> int:
        return max(1, self.workers if self.workers is not None else settings.env_int("REPO_WORKERS", 4))

    def schemes(self) -> frozenset[str]:
        """Configured schemes, else CLONE_ALLOWED_SCHEMES (a comma list), else https only."""
        if self.allowed_schemes is not None:
            chosen = self.allowed_schemes
        else:
            chosen = (settings.env_str("CLONE_ALLOWED_SCHEMES") or "https").split(",")
        return frozenset(scheme.strip().lower() for scheme in chosen if scheme.strip())
