"""Fresh search indexes for tests, on each backend and each Elasticsearch layout (``search_backend``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codelupe_dagster.backends.search import IndexSchema, SearchIndex, open_search_index
from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex
from codelupe_dagster.backends.search.elastic_mapping import index_mappings

IndexFactory = Callable[..., SearchIndex]


def factory(open_index: Callable[[IndexSchema, str], SearchIndex]) -> Iterator[IndexFactory]:
    """A factory of ensured indexes opened by ``open_index``, each deleted afterwards."""
    created: list[SearchIndex] = []

    def make(schema: IndexSchema, name: str | None = None) -> SearchIndex:
        index = open_index(schema, name or f"test-{schema.name}-{uuid.uuid4().hex[:10]}")
        index.ensure()
        created.append(index)
        return index

    yield make
    for index in created:
        index.delete()


ES_DISTINCT_WORDS = "elasticsearch, words before 2026-12-03"


def backend_factory(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[IndexFactory]:
    """`search_backend`'s factory for `backend`: "sqlite", "elasticsearch", or `ES_DISTINCT_WORDS`, an
    Elasticsearch index made as before 2026-12-03 (each word once, the text by the standard analyzer;
    `elastic_mapping`) and then ensured by today's code, as a deployment upgraded in place has it."""
    if backend == "sqlite":
        yield from factory(lambda schema, name: open_search_index(schema, data_dir=tmp_path, index_name=name))
        return
    url = request.getfixturevalue("elasticsearch_url")

    def open_index(schema: IndexSchema, name: str) -> SearchIndex:
        index = open_search_index(schema, data_dir=tmp_path, elasticsearch_url=url, index_name=name)
        if backend == ES_DISTINCT_WORDS:
            assert isinstance(index, ElasticSearchIndex)
            index.client.indices.create(
                index=name,
                settings={"number_of_shards": 1, "number_of_replicas": 0},
                mappings=index_mappings(schema, ordered=False),
            )
        return index

    yield from factory(open_index)
