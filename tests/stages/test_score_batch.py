from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.spool import SUCCESS_MARKER, is_complete, iter_documents, read_manifest
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.file_processing import ProcessingConfig
from codelupe_dagster.stages.handoff import ClonedBatch, cloned_manifest_path, spool_path
from codelupe_dagster.stages.score_batch import BatchScorer
from tests.support.corpus import STDLIB, write_cloned_manifest
from tests.support.planted import AWS_KEY_ID, GITHUB_TOKEN, PlantedCorpus

KEYS = RedisKeys("pipeline:")


def scorer(client: redis.Redis, workers: int = 0) -> BatchScorer:
    return BatchScorer(RedisDedupLedger(client, KEYS), ProcessingConfig(), workers=workers)


def run(planted: PlantedCorpus, client: redis.Redis, workers: int = 0, batch_id: str | None = None):
    batch_id = batch_id or planted.batch_id
    batch = ClonedBatch.load(cloned_manifest_path(planted.data_dir, batch_id))
    spool = spool_path(planted.data_dir, batch_id)
    counts = scorer(client, workers).run(batch, spool)
    docs = {d["id"]: d for chunk in iter_documents(spool) for d in chunk}
    return counts, docs


def by_path(docs: dict) -> dict:
    return {(d["repo"], d["path"]): d for d in docs.values()}


def test_planted_corpus(planted: PlantedCorpus, redis_client: redis.Redis) -> None:
    counts, docs = run(planted, redis_client, workers=2)
    paths = by_path(docs)

    for reason in ("symlink", "submodule", "too_large", "binary", "undecodable", "lock_file", "minified"):
        assert counts.dropped[reason] >= 1, (reason, counts.dropped)
    assert counts.dropped["generated"] >= 2  # app.min.js by name, service_pb2.py by name and header
    kept_paths = {path for _, path in paths}
    for dropped in (
        "web/bundle.js",
        "web/app.min.js",
        "gen/service_pb2.py",
        "package-lock.json",
        "tools/blob.py",
        "tools/latin1.py",
        "data/huge.py",
        "link.py",
        "third/lib",
    ):
        assert dropped not in kept_paths

    # Exact copy across repos: one survives, from the first repo in priority order.
    decoder = (STDLIB / "json" / "decoder.py").read_text()
    assert ("acme/alpha", "json/decoder.py") in paths
    assert ("acme/beta", "lib/decoder_copy.py") not in paths
    assert counts.exact_duplicates == 1
    assert sum(1 for d in docs.values() if d["content"] == decoder) == 1
    # Near copy (one line in 25 edited) caught; the original kept.
    assert ("acme/alpha", "json/encoder.py") in paths
    assert ("acme/beta", "lib/encoder_fork.py") not in paths
    assert counts.near_duplicates >= 1
    # Distinct files are not merged: every real module of both packages is there.
    assert ("acme/beta", "wsgiref/handlers.py") in paths
    assert ("acme/beta", "wsgiref/simple_server.py") in paths

    settings_doc = paths[("acme/alpha", "config/settings.py")]
    assert GITHUB_TOKEN not in settings_doc["content"] and AWS_KEY_ID not in settings_doc["content"]
    assert settings_doc["secrets_redacted"] == 2
    assert counts.secrets_redacted["github_pat"] == 1
    assert counts.secrets_redacted["aws_access_key_id"] == 1

    assert (
        counts.kept == len(docs) == sum(counts.languages.values()) == sum(counts.quality_histogram.values())
    )
    assert (
        counts.seen
        == counts.kept + sum(counts.dropped.values()) + counts.exact_duplicates + counts.near_duplicates
    )
    assert read_manifest(spool_path(planted.data_dir, planted.batch_id)).info["kept"] == counts.kept
    assert set(counts.commits) == {"acme/alpha", "acme/beta"}
    d = paths[("acme/alpha", "json/decoder.py")]
    assert d["id"] == d["id"].lower() and len(d["id"]) == 32
    assert (d["filename"], d["extension"], d["language"], d["repo_stars"], d["license"], d["batch"]) == (
        "decoder.py",
        "py",
        "python",
        10,
        "mit",
        planted.batch_id,
    )
    assert d["commit"] == counts.commits["acme/alpha"]
    assert isinstance(d["quality_signals"], dict) and d["quality_signals"]


def test_rerun_recognises_own_claims(planted: PlantedCorpus, redis_client: redis.Redis) -> None:
    first, docs_first = run(planted, redis_client)
    second, docs_second = run(planted, redis_client)
    assert docs_second.keys() == docs_first.keys()
    assert second.kept == first.kept and second.exact_duplicates == first.exact_duplicates
    assert second.near_duplicates == first.near_duplicates


def test_other_repos_with_same_content_are_all_duplicates(
    planted: PlantedCorpus, redis_client: redis.Redis
) -> None:
    first, _ = run(planted, redis_client)
    # Forks: the same trees under other names, in a later batch. (The same repos in a later batch are a
    # retry and keep their files: see test_failed_batch_requeued_into_a_new_batch_indexes_everything.)
    forks = [(f"fork-{name.replace('/', '-')}/copy", path, head) for name, path, head in planted.repos]
    write_cloned_manifest(planted.data_dir, "b-later", forks)
    later, docs = run(planted, redis_client, batch_id="b-later")
    assert docs == {}
    assert later.kept == 0
    # Near duplicates claimed their digest too, so their exact copies are duplicates now.
    assert later.exact_duplicates == first.kept + first.exact_duplicates + first.near_duplicates


def test_broken_repository_fails_alone(
    planted: PlantedCorpus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    (tmp_path / "broken").mkdir()
    write_cloned_manifest(
        planted.data_dir, "b-broken", [("acme/broken", tmp_path / "broken", "0" * 40), planted.repos[1]]
    )
    counts, docs = run(planted, redis_client, batch_id="b-broken")
    assert "acme/broken" in counts.failed_repos
    assert counts.kept > 0 and {d["repo"] for d in docs.values()} == {"acme/beta"}


class _InterruptedScorer(BatchScorer):
    """Interrupts the parent after the workers have started, as Ctrl-C or Dagster termination would."""

    def _claim_and_write(self, *args, **kwargs):
        raise KeyboardInterrupt


def _pool_workers() -> set[int]:
    """Pool workers are children of the forkserver, itself our child."""
    return {
        p.pid for p in psutil.Process().children(recursive=True) if "forkserver" not in " ".join(p.cmdline())
    }


def test_cancelled_pool_leaves_no_success_marker(planted: PlantedCorpus, valkey_client: redis.Redis) -> None:
    run(planted, valkey_client)  # a complete spool from an earlier try
    spool = spool_path(planted.data_dir, planted.batch_id)
    assert is_complete(spool)
    before = _pool_workers()

    interrupted = _InterruptedScorer(
        RedisDedupLedger(valkey_client, KEYS), ProcessingConfig(), workers=2, claim_files=8
    )
    with pytest.raises(KeyboardInterrupt):
        interrupted.run(ClonedBatch.load(cloned_manifest_path(planted.data_dir, planted.batch_id)), spool)

    assert not (spool / SUCCESS_MARKER).exists()
    assert not any(p.name.startswith("part-") for p in spool.iterdir())
    assert _pool_workers() <= before  # terminated and joined, not left running
