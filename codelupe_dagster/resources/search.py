"""The code index and the repo index, on Elasticsearch when configured, else the local SQLite file.

The search backends take every setting as an argument; this module is where those settings come from:
the resource's fields (environment defaults set in ``resources.search_from_env``), and, for commands
that run outside Dagster, ``open_configured_index``, which builds the same resource from the same
variables — so a command and a run always see the same index.
"""

from __future__ import annotations

import dagster as dg

from codelupe_dagster.backends.search import (
    CODE_SCHEMA,
    DEFAULT_INDEX_NAMES,
    REPO_SCHEMA,
    IndexSchema,
    SearchIndex,
    open_search_index,
)


class SearchIndexResource(dg.ConfigurableResource):
    elasticsearch_url: str | None = None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    data_dir: str = ".codelupe"
    code_index_name: str = DEFAULT_INDEX_NAMES[CODE_SCHEMA.name]
    repo_index_name: str = DEFAULT_INDEX_NAMES[REPO_SCHEMA.name]

    def index(self, schema: IndexSchema) -> SearchIndex:
        """The index of ``schema`` (code or repos) under its configured name; call ``ensure()`` to write."""
        name = self.code_index_name if schema.name == CODE_SCHEMA.name else self.repo_index_name
        return open_search_index(
            schema,
            data_dir=self.data_dir,
            elasticsearch_url=self.elasticsearch_url,
            index_name=name,
            api_key=self.api_key,
            username=self.username,
            password=self.password,
        )

    def code_index(self) -> SearchIndex:
        return self.index(CODE_SCHEMA)

    def repo_index(self) -> SearchIndex:
        return self.index(REPO_SCHEMA)


def configured_search() -> SearchIndexResource:
    """The search resource this environment points at (DESIGN §8), initialised, for the CLI."""
    from codelupe_dagster import settings
    from codelupe_dagster.resources import search_from_env  # the package imports this module

    resource: SearchIndexResource = search_from_env(str(settings.data_dir())).process_config_and_initialize()
    return resource


def open_configured_index(schema: IndexSchema) -> SearchIndex:
    """The index of ``schema`` this environment points at (ELASTICSEARCH_URL, else DATA_DIR's file)."""
    return configured_search().index(schema)
