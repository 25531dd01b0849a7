"""Pick the search backend: Elasticsearch when a URL is configured, else the local SQLite FTS5 file."""

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

DEFAULT_INDEX_NAMES = {CODE_SCHEMA.name: "codelupe-code", REPO_SCHEMA.name: "github-coding-repos"}
INDEX_NAME_VARIABLES = {CODE_SCHEMA.name: "ES_CODE_INDEX", REPO_SCHEMA.name: "ES_REPO_INDEX"}
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


def open_configured_index(schema: IndexSchema) -> SearchIndex:
    """The index this environment points at (DESIGN §8), for the CLI: the Dagster resources read the
    same variables, so a command and a run always see the same index."""
    from codelupe_dagster import settings

    return open_search_index(
        schema,
        data_dir=settings.data_dir(),
        elasticsearch_url=settings.env_str("ELASTICSEARCH_URL"),
        index_name=settings.env_str(INDEX_NAME_VARIABLES[schema.name]),
        api_key=settings.env_str("ELASTICSEARCH_API_KEY"),
        username=settings.env_str("ELASTICSEARCH_USERNAME"),
        password=settings.env_str("ELASTICSEARCH_PASSWORD"),
    )


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
    "SearchIndex",
    "open_configured_index",
    "open_search_index",
]
