"""Pick the search backend: Elasticsearch when a URL is given, else the local SQLite FTS5 file.

Every setting arrives as an argument; reading them from the environment is ``resources.search``'s job.
"""

from __future__ import annotations

from pathlib import Path

from codelupe_dagster.backends.search.base import (
    CODE_SCHEMA,
    QUALITY_BUCKETS,
    REPO_SCHEMA,
    BackendUnavailable,
    BulkIndexError,
    BulkResult,
    DocError,
    Filters,
    Hit,
    IndexSchema,
    SearchIndex,
)
from codelupe_dagster.backends.search.query_syntax import QuerySyntaxError

DEFAULT_INDEX_NAMES = {CODE_SCHEMA.name: "codelupe-code", REPO_SCHEMA.name: "github-coding-repos"}
SQLITE_FILENAME = "index.sqlite"


def open_search_index(
    schema: IndexSchema,
    *,
    data_dir: str | Path,
    elasticsearch_url: str | None = None,
    index_name: str | None = None,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> SearchIndex:
    """Open (not create) one logical index; call ``ensure()`` before writing."""
    name = index_name or DEFAULT_INDEX_NAMES[schema.name]
    if elasticsearch_url:
        from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex

        return ElasticSearchIndex.connect(
            schema,
            url=elasticsearch_url,
            name=name,
            api_key=api_key,
            username=username,
            password=password,
        )
    from codelupe_dagster.backends.search.sqlite_index import SqliteSearchIndex

    return SqliteSearchIndex(schema, path=Path(data_dir) / SQLITE_FILENAME, name=name)


__all__ = [
    "CODE_SCHEMA",
    "DEFAULT_INDEX_NAMES",
    "QUALITY_BUCKETS",
    "REPO_SCHEMA",
    "BackendUnavailable",
    "BulkIndexError",
    "BulkResult",
    "DocError",
    "Filters",
    "Hit",
    "IndexSchema",
    "QuerySyntaxError",
    "SearchIndex",
    "open_search_index",
]
