"""Where repositories come from: every source kind behind one interface (`base.RepoSource`).

The registry maps a source kind to the factory that opens it from a `SourceRequest`. To add a forge,
write its module (a factory returning a `RepoSource`) and register it below with one line; on the
Dagster side it gets a settings block (`resources/<forge>.py`) and one field of that name in
`SourcesResource`, and the crawl asset finds it by name. A path given as the source is a local
directory or a URL-list file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from codelupe_dagster.backends.sources.base import RepoSource, SourceRequest, SourceStats, collect
from codelupe_dagster.backends.sources.github import open_github_source
from codelupe_dagster.backends.sources.gitlab import open_gitlab_source
from codelupe_dagster.backends.sources.local import open_local_dir
from codelupe_dagster.backends.sources.url_list import open_url_list

SourceFactory = Callable[[SourceRequest], RepoSource]

SOURCE_KINDS: dict[str, SourceFactory] = {}


def register_source(kind: str, factory: SourceFactory) -> None:
    """Makes `kind` a source name the crawl accepts; a kind is registered once."""
    if kind in SOURCE_KINDS:
        raise ValueError(f"source kind {kind!r} is already registered")
    SOURCE_KINDS[kind] = factory


register_source("github", open_github_source)
register_source("gitlab", open_gitlab_source)
register_source("local", open_local_dir)
register_source("urls", open_url_list)

# Kinds that name a place on disk: chosen from the path, never typed as a source name.
PATH_KINDS = frozenset({"local", "urls"})


def forge_kinds() -> list[str]:
    """The source names a user may give instead of a path (`github`, `gitlab`, ...)."""
    return sorted(kind for kind in SOURCE_KINDS if kind not in PATH_KINDS)


def resolve_kind(source: str) -> tuple[str, str | None]:
    """(kind, target) for a configured source: a registered forge name, or a directory / list file.

    Raises FileNotFoundError for a path that is neither (and is no forge name either).
    """
    if source in SOURCE_KINDS and source not in PATH_KINDS:
        return source, None
    path = Path(source).expanduser()
    if path.is_dir():
        return "local", str(path)
    if path.is_file():
        return "urls", str(path)
    raise FileNotFoundError(
        f"local source {source!r} is neither a directory nor a file"
        f" (nor a source name: {', '.join(forge_kinds())})"
    )


def open_source(kind: str, request: SourceRequest) -> RepoSource:
    """The source of `kind`, opened with `request`; ValueError for a kind nobody registered."""
    try:
        factory = SOURCE_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown source kind {kind!r}; known: {', '.join(sorted(SOURCE_KINDS))}") from None
    return factory(request)


__all__ = [
    "SOURCE_KINDS",
    "RepoSource",
    "SourceRequest",
    "SourceStats",
    "collect",
    "forge_kinds",
    "open_source",
    "register_source",
    "resolve_kind",
]
