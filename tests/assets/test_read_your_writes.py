"""Stages that hand an index over read what the stage before wrote, on a fresh index, on both backends.

Elasticsearch makes writes searchable only on a refresh; before `crawled_repos` refreshed its index, a
first `codelupe run` against a fresh cluster crawled the repositories and then enqueued none of them.
An index nobody has written yet (the code index before the first batch) reads as empty, not as an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from codelupe_dagster.assets.crawl import crawled_repos
from codelupe_dagster.assets.queue import queued_repos
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource
from codelupe_dagster.stages.training_samples import count_new_samples
from tests.backends.sources.test_local import make_repo

REPOS = {"local/alpha": ["json/decoder.py"], "local/beta": ["textwrap.py"], "acme/gamma": ["colorsys.py"]}


@pytest.fixture
def local_source(tmp_path: Path) -> Path:
    """Three small git repositories: the local source a first `codelupe run` would crawl."""
    root = tmp_path / "source"
    for full_name, sources in REPOS.items():
        owner, name = full_name.split("/")
        make_repo(root / name if owner == "local" else root / owner / name, sources)
    return root


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def fresh_search(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[SearchIndexResource]:
    """Search resources whose code and repo indexes have names nobody has used: a fresh deployment."""
    url = request.getfixturevalue("elasticsearch_url") if request.param == "elasticsearch" else None
    suffix = uuid.uuid4().hex[:10]
    search = SearchIndexResource(
        elasticsearch_url=url,
        data_dir=str(data_dir),
        code_index_name=f"test-ryw-code-{suffix}",
        repo_index_name=f"test-ryw-repos-{suffix}",
    )
    yield search
    search.repo_index().delete()
    search.code_index().delete()


def _resources(
    resources_for: Callable[..., dict[str, Any]], data_dir: Path, redis_url: str, search: SearchIndexResource
) -> dict[str, Any]:
    return resources_for(data_dir, redis_url, search=search)


def test_queue_enqueues_every_repo_the_crawl_just_wrote(
    data_dir, resources_for, valkey_client, valkey_url, fresh_search, local_source
):
    resources = _resources(resources_for, data_dir, valkey_url, fresh_search)
    result = dg.materialize(
        [crawled_repos, queued_repos],
        resources=resources,
        run_config={"ops": {"crawled_repos": {"config": {"source": str(local_source)}}}},
    )

    assert result.success
    (crawl,) = result.asset_materializations_for_node("crawled_repos")
    (queue,) = result.asset_materializations_for_node("queued_repos")
    assert crawl.metadata["repos_new"].value == 3
    assert queue.metadata["repos_seen"].value == 3
    assert queue.metadata["enqueued"].value == 3
    keys = RedisResource(url=valkey_url, data_dir=str(data_dir)).redis_keys
    queued = {name.decode() for name in valkey_client.zrange(keys.repos, 0, -1)}
    assert queued == set(REPOS)
    # The priorities queued_repos wrote back are visible to searches once it has returned.
    repos = fresh_search.repo_index()
    assert repos.count() == 3
    assert all(doc.get("priority") is not None for doc in repos.iter_documents(fields=["priority"]))


def test_training_count_on_a_code_index_never_written_is_zero(data_dir, fresh_search):
    training = TrainingResource(data_dir=str(data_dir), min_quality=0.5)
    assert count_new_samples(fresh_search.code_index(), training.min_quality, None) == 0
