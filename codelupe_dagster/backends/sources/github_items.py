"""A GitHub search result item → `RepoRecord`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codelupe_dagster.backends.sources.records import normalize_language, normalize_timestamp
from codelupe_dagster.core.models import RepoRecord

GITHUB = "github"


def repo_record_from_item(item: Mapping[str, Any]) -> RepoRecord:
    """One search result → RepoRecord. Raises KeyError/ValueError on an item without name or URL."""
    license_info = item.get("license") or {}
    spdx = license_info.get("spdx_id") if isinstance(license_info, Mapping) else None
    return RepoRecord(
        full_name=str(item["full_name"]),
        clone_url=str(item["clone_url"]),
        stars=int(item.get("stargazers_count") or 0),
        forks=int(item.get("forks_count") or 0),
        language=normalize_language(item.get("language")),
        # NOASSERTION means GitHub found a license file it could not identify: as unknown as none.
        license=spdx if spdx and spdx != "NOASSERTION" else None,
        size_kb=int(item.get("size") or 0),
        pushed_at=normalize_timestamp(item.get("pushed_at")),
        archived=bool(item.get("archived")),
        fork=bool(item.get("fork")),
        default_branch=item.get("default_branch"),
        topics=tuple(item.get("topics") or ()),
        description=item.get("description"),
        source=GITHUB,
    )
