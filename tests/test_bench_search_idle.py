"""bench/end_to_end_files.py --search-idle: every batch starts on an index Elasticsearch holds search-idle,
as a production index is between batches (it then skips the index's periodic refreshes)."""

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from end_to_end_files import _resources, make_search_idle, parse_args

from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex


def test_the_index_is_created_empty_and_search_idle(elasticsearch_url: str, tmp_path: Path) -> None:
    label = f"idle-{uuid.uuid4().hex[:8]}"
    make_search_idle(label, tmp_path, elasticsearch_url)
    index = _resources(label, tmp_path, elasticsearch_url)["search"].code_index()
    assert isinstance(index, ElasticSearchIndex)
    try:
        stats = index.client.indices.stats(index=index.name, level="shards")
        shard = stats["indices"][index.name]["shards"]["0"][0]
        assert shard["search_idle"] is True  # read before any search, which would wake it
        assert shard["docs"]["count"] == 0
    finally:
        index.delete()


@pytest.mark.parametrize(
    "argv",
    [
        ["--search-idle"],  # only Elasticsearch has search-idle shards
        ["--search-idle", "--elasticsearch-url", "http://127.0.0.1:9", "--batches", "3"],
    ],
)
def test_search_idle_is_refused_where_it_means_nothing(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
