"""The code index and the repo index, on Elasticsearch when configured, else the local SQLite file."""

from __future__ import annotations

import dagster as dg

from codelupe_dagster.backends.search import CODE_SCHEMA, REPO_SCHEMA, SearchIndex, open_search_index


class SearchIndexResource(dg.ConfigurableResource):
    elasticsearch_url: str | None = None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    data_dir: str = ".codelupe"
    code_index_name: str = "codelupe-code"
    repo_index_name: str = "github-coding-repos"

    def _open(self, schema, name: str) -> SearchIndex:
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
        return self._open(CODE_SCHEMA, self.code_index_name)

    def repo_index(self) -> SearchIndex:
        return self._open(REPO_SCHEMA, self.repo_index_name)

    @property
    def backend_name(self) -> str:
        return "elasticsearch" if self.elasticsearch_url else "sqlite"
