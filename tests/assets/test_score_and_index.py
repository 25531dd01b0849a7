from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import pytest
import redis

from codelupe_dagster.assets.index import es_code_index
from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.backends.search import CODE_SCHEMA, Filters, SearchIndex
from codelupe_dagster.backends.spool import iter_documents
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.resources import SearchIndexResource
from codelupe_dagster.stages.handoff import spool_path
from tests.support.planted import AWS_KEY_ID, GITHUB_TOKEN, PlantedCorpus, write_cloned_manifest

THRESHOLD = 0.3


def materialize(
    planted: PlantedCorpus, resources: dict[str, Any], assets: list, workers: int = 0, stream: bool = True
) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repo_batches", [planted.batch_id])
    run_config: dict = {"ops": {}}
    if scored_files in assets:
        run_config["ops"]["scored_files"] = {"config": {"file_workers": workers, "stream_index": stream}}
    if es_code_index in assets:
        run_config["ops"]["es_code_index"] = {"config": {"min_quality": THRESHOLD}}
    return dg.materialize(
        assets, partition_key=planted.batch_id, instance=instance, resources=resources, run_config=run_config
    )


def spooled_above_threshold(planted: PlantedCorpus) -> set[str]:
    return {
        d["id"]
        for chunk in iter_documents(spool_path(planted.data_dir, planted.batch_id))
        for d in chunk
        if d["quality_score"] >= THRESHOLD
    }


def all_ids(index: SearchIndex) -> dict[str, str]:
    return {d["id"]: d["indexed_at"] for d in index.iter_documents(fields=["id", "indexed_at"])}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_batch_is_scored_indexed_and_checked(
    planted: PlantedCorpus, redis_url: str, resources_for: Callable[..., dict]
) -> None:
    resources = resources_for(planted.data_dir, redis_url)
    result = materialize(planted, resources, [scored_files, es_code_index], workers=2)
    assert result.success
    assert check_results(result) == {
        "indexed_count_matches_kept": True,
        "no_document_below_threshold": True,
        "no_secrets_in_sample": True,
        "no_duplicates_in_batch": True,
    }
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    assert scored["kept"].value > 0 and scored["exact_duplicates"].value == 1
    assert scored["dropped"].data["too_large"] == 1
    assert "| >=0.7 |" in scored["quality_histogram"].value

    index = resources["search"].code_index()
    expected = spooled_above_threshold(planted)
    assert set(all_ids(index)) == expected
    assert index.count(Filters(max_quality=THRESHOLD)) == 0
    # Secrets never reach the index.
    assert index.search(GITHUB_TOKEN) == [] and index.search(AWS_KEY_ID) == []
    assert index.search("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") == []
    assert index.search("JSONDecodeError")  # while real code is searchable
    # Repos marked processed at the commit that was read.
    processed = redis.Redis.from_url(redis_url).hgetall(RedisKeys().processed_repos)
    assert processed == {name.encode(): head.encode() for name, _, head in planted.repos}


def test_rerun_leaves_index_unchanged(
    planted: PlantedCorpus, valkey_url: str, resources_for: Callable[..., dict]
) -> None:
    resources = resources_for(planted.data_dir, valkey_url)
    assert materialize(planted, resources, [scored_files, es_code_index]).success
    index = resources["search"].code_index()
    first = all_ids(index)

    again = materialize(planted, resources, [scored_files, es_code_index])
    assert again.success and all(check_results(again).values())
    assert all_ids(index) == first  # same ids, same count, same indexed_at


def test_batch_killed_before_indexing_then_rerun_indexes_everything(
    planted: PlantedCorpus, redis_url: str, resources_for: Callable[..., dict]
) -> None:
    resources = resources_for(planted.data_dir, redis_url)
    # ... then the run dies (not streamed: nothing reached the index; tests/assets/test_stream_index.py
    # covers a streamed first try)
    assert materialize(planted, resources, [scored_files], stream=False).success
    kept_first_try = spooled_above_threshold(planted)
    index = resources["search"].code_index()
    index.ensure()
    assert index.count() == 0

    retry = materialize(planted, resources, [scored_files, es_code_index])
    assert retry.success and all(check_results(retry).values())
    # Its own claims never count as duplicates of itself: everything kept the first time is indexed.
    assert set(all_ids(index)) == kept_first_try
    assert retry.asset_materializations_for_node("scored_files")[0].metadata["exact_duplicates"].value == 1


def test_failed_batch_requeued_into_a_new_batch_indexes_everything(
    planted: PlantedCorpus, redis_url: str, resources_for: Callable[..., dict]
) -> None:
    """The run-status sensor re-queues a failed batch's repos, and they come back under a *new* batch id:
    the claims of the first try must still count as the repos' own, or the retry would index nothing."""
    resources = resources_for(planted.data_dir, redis_url)
    assert materialize(planted, resources, [scored_files], stream=False).success  # ... es_code_index fails
    kept_first_try = spooled_above_threshold(planted)

    retry_batch = "b-retry-of-" + planted.batch_id
    write_cloned_manifest(planted.data_dir, retry_batch, planted.repos)
    retry = PlantedCorpus(planted.data_dir, retry_batch, planted.repos)
    result = materialize(retry, resources, [scored_files, es_code_index])
    assert result.success and all(check_results(result).values())
    assert set(all_ids(resources["search"].code_index())) == kept_first_try
    assert result.asset_materializations_for_node("scored_files")[0].metadata["exact_duplicates"].value == 1


def test_index_without_complete_spool_fails_clearly(
    planted: PlantedCorpus, valkey_url: str, resources_for: Callable[..., dict]
) -> None:
    with pytest.raises(Exception, match="_SUCCESS"):
        materialize(planted, resources_for(planted.data_dir, valkey_url), [es_code_index])


def test_es_code_index_on_both_backends(
    planted: PlantedCorpus,
    valkey_url: str,
    resources_for: Callable[..., dict],
    search_backend: Callable[..., SearchIndex],
    request: pytest.FixtureRequest,
) -> None:
    target = search_backend(CODE_SCHEMA)
    on_es = request.node.callspec.params["search_backend"] == "elasticsearch"
    es_url = request.getfixturevalue("elasticsearch_url") if on_es else None
    resources = resources_for(planted.data_dir, valkey_url)
    resources["search"] = SearchIndexResource(
        elasticsearch_url=es_url, data_dir=str(target_dir(target, planted)), code_index_name=target.name
    )
    result = materialize(planted, resources, [scored_files, es_code_index])
    assert result.success and all(check_results(result).values())
    target.refresh()
    assert {d["id"] for d in target.iter_documents(fields=["id"])} == spooled_above_threshold(planted)
    assert target.search(GITHUB_TOKEN) == []


def target_dir(index: SearchIndex, planted: PlantedCorpus):
    """The SQLite factory keeps its file in the test's tmp dir (the parent of DATA_DIR)."""
    return planted.data_dir.parent


def test_streamed_first_try_then_rerun_indexes_everything_once(
    planted: PlantedCorpus, valkey_url: str, resources_for: Callable[..., dict]
) -> None:
    """scored_files streams kept files into the index as it spools them; a run that dies before
    es_code_index leaves them there, and the retry finalizes the batch without writing them twice."""
    resources = resources_for(planted.data_dir, valkey_url)
    assert materialize(planted, resources, [scored_files]).success  # ... then the run dies
    index = resources["search"].code_index()
    streamed = all_ids(index)
    assert set(streamed) == spooled_above_threshold(planted)

    retry = materialize(planted, resources, [scored_files, es_code_index])
    assert retry.success and all(check_results(retry).values())
    assert retry.asset_materializations_for_node("es_code_index")[0].metadata["streamed"].value is True
    assert all_ids(index) == streamed  # same documents, same indexed_at
