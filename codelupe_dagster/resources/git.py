"""Clone/fetch settings (DESIGN §9): where repositories live, which hosts they may come from, limits."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.core.git_clone import ClonePolicy


class GitResource(dg.ConfigurableResource):
    """Unset ``repos_dir``/``workers`` fall back to REPOS_DIR/REPO_WORKERS, read when the run starts."""

    repos_dir: str | None = None
    allowed_hosts: list[str] = ["github.com"]
    max_repo_mb: float = 1024.0
    workers: int | None = None
    timeout_s: float = 600.0
    depth: int = 1

    def policy(self) -> ClonePolicy:
        return ClonePolicy(
            repos_dir=Path(self.repos_dir).expanduser().resolve() if self.repos_dir else settings.repos_dir(),
            allowed_hosts=frozenset(host.lower() for host in self.allowed_hosts),
            max_repo_mb=self.max_repo_mb,
            timeout_s=self.timeout_s,
            depth=self.depth,
        )

    def worker_count(self) -> int:
        return max(1, self.workers if self.workers is not None else settings.env_int("REPO_WORKERS", 4))
