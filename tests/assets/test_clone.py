from __future__ import annotations

import json

import dagster as dg
import pygit2
import pytest

from codelupe_dagster.assets.clone import cloned_repos
from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.core.models import RepoRecord
from tests.support.ingest_helpers import KEYS, enqueue, ingest_resources


def materialize_batch(data_dir, redis_url, batch_id, **git):
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("repo_batches", [batch_id])
        return dg.materialize(
            [cloned_repos],
            partition_key=batch_id,
            instance=instance,
            resources=ingest_resources(data_dir, redis_url, **git),
            raise_on_error=False,
        )


def test_broken_repo_is_recorded_and_the_batch_goes_on(data_dir, redis_url, redis_client, served_repos):
    good = [served_repos.add(f"octo/{pkg}", pkg) for pkg in ("json", "html", "wsgiref")]
    enqueue(
        redis_client,
        [
            (RepoRecord(f"octo/{pkg}", clone_url=url), 3.0)
            for pkg, (url, _) in zip(("json", "html", "wsgiref"), good, strict=True)
        ]
        + [
            (RepoRecord("octo/gone", clone_url=served_repos.server.repo_url("octo/gone.git")), 2.0),
            (RepoRecord("octo/elsewhere", clone_url="https://example.com/octo/x.git"), 1.0),
        ],
    )
    batch = RedisRepoQueue(redis_client, KEYS).pop_batch(10)
    result = materialize_batch(data_dir, redis_url, batch.batch_id)
    assert result.success

    manifest = json.loads((data_dir / "batches" / batch.batch_id / "cloned.json").read_text())
    assert manifest["batch"] == batch.batch_id
    by_repo = {entry["repo"]: entry for entry in manifest["repos"]}
    assert set(by_repo) == {"octo/json", "octo/html", "octo/wsgiref"}
    for (_, head), pkg in zip(good, ("json", "html", "wsgiref"), strict=True):
        entry = by_repo[f"octo/{pkg}"]
        assert entry["head"] == head
        assert str(pygit2.Repository(entry["path"]).head.target) == head
        assert entry["record"]["full_name"] == f"octo/{pkg}"
    assert {f["repo"]: f["reason"] for f in manifest["failed"]} == {
        "octo/gone": "not_found",
        "octo/elsewhere": "host_not_allowed",
    }

    metadata = result.asset_materializations_for_node("cloned_repos")[0].metadata
    assert metadata["cloned"].value == 3 and metadata["failed"].value == 2
    assert metadata["failed_by_reason"].value == {"not_found": 1, "host_not_allowed": 1}
    assert metadata["bytes"].value > 0


def test_every_repo_failing_is_recorded_per_repo_not_as_a_failed_batch(data_dir, redis_url, redis_client):
    """A batch never fails because of its repositories: each failure is recorded for the settle step,
    which retries the repo alone (with back-off) and parks it after MAX_REPO_ATTEMPTS."""
    enqueue(
        redis_client,
        [
            (RepoRecord("octo/a", clone_url="https://example.com/a.git"), 2.0),
            (RepoRecord("octo/b", clone_url="ssh://github.com/b.git"), 1.0),
        ],
    )
    batch = RedisRepoQueue(redis_client, KEYS).pop_batch(10)
    result = materialize_batch(data_dir, redis_url, batch.batch_id)
    assert result.success
    metadata = result.asset_materializations_for_node("cloned_repos")[0].metadata
    assert metadata["failed"].value == 2
    failures = {
        k.decode(): v.decode() for k, v in redis_client.hgetall(KEYS.batch_failures(batch.batch_id)).items()
    }
    assert set(failures) == {"octo/a", "octo/b"}
    assert "host_not_allowed" in failures["octo/a"] and "scheme_not_allowed" in failures["octo/b"]
    manifest = json.loads((data_dir / "batches" / batch.batch_id / "cloned.json").read_text())
    assert manifest["repos"] == [] and len(manifest["failed"]) == 2


def test_unknown_batch_fails_clearly(data_dir, redis_url):
    result = materialize_batch(data_dir, redis_url, "b20990101T000000-000000")
    assert not result.success
    assert "no record" in str(result.failure_data_for_node("cloned_repos").error.message)


@pytest.mark.parametrize("workers", [1, 3])
def test_worker_count_does_not_change_the_outcome(data_dir, redis_url, redis_client, served_repos, workers):
    urls = [served_repos.add(f"octo/{pkg}", pkg)[0] for pkg in ("dbm", "concurrent")]
    enqueue(redis_client, [(RepoRecord(f"octo/r{i}", clone_url=url), 1.0) for i, url in enumerate(urls)])
    batch = RedisRepoQueue(redis_client, KEYS).pop_batch(10)
    result = materialize_batch(data_dir, redis_url, batch.batch_id, workers=workers)
    assert result.success
    metadata = result.asset_materializations_for_node("cloned_repos")[0].metadata
    assert metadata["cloned"].value == 2
