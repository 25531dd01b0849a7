"""`es_code_index`: a batch's spool -> the code index (Elasticsearch or the local SQLite file)."""

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.backends.search import Filters, SearchIndex
from codelupe_dagster.backends.spool import iter_documents, read_manifest
from codelupe_dagster.core.filters import LOW_QUALITY
from codelupe_dagster.core.secrets import redact_secrets
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.stages.repo_updates import replace_generations
from codelupe_dagster.stages.score_batch import spool_path

INDEXED_COUNT_MATCHES_KEPT = "indexed_count_matches_kept"
NO_DOCUMENT_BELOW_THRESHOLD = "no_document_below_threshold"
NO_SECRETS_IN_SAMPLE = "no_secrets_in_sample"
NO_DUPLICATES_IN_BATCH = "no_duplicates_in_batch"

SECRET_SAMPLE_SIZE = 200
GET_CHUNK = 500


class CodeIndexConfig(dg.Config):
    # None: the MIN_QUALITY_THRESHOLD environment variable (0.3, the old pipeline's filter).
    min_quality: float | None = None
    bulk_size: int = 500


def _chunks(items: list[str], size: int = GET_CHUNK) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _index_spool(index: SearchIndex, spool: Any, batch_id: str, threshold: float, bulk_size: int) -> dict:
    """Upsert the spool's documents at or above the threshold; returns ids written and counts.

    A document already in the index keeps its `indexed_at`: a re-run of the batch then changes nothing,
    and the training watermark does not see old files as new.
    """
    indexed_ids: list[str] = []
    repos: list[str] = []
    low_quality = 0
    for docs in iter_documents(spool, batch_size=bulk_size):
        keep = [doc for doc in docs if doc["quality_score"] >= threshold]
        low_quality += len(docs) - len(keep)
        if not keep:
            continue
        existing = index.get([doc["id"] for doc in keep])
        now = datetime.now(UTC).isoformat()
        for doc in keep:
            previous = existing.get(doc["id"])
            doc["indexed_at"] = (previous or {}).get("indexed_at") or now
        index.bulk_upsert(keep).raise_for_errors()
        indexed_ids.extend(doc["id"] for doc in keep)
        repos.extend(doc["repo"] for doc in keep)
    return {"ids": indexed_ids, "repos": repos, "low_quality": low_quality, "batch": batch_id}


def _count_check(index: SearchIndex, ids: list[str], batch_id: str) -> dg.AssetCheckResult:
    found = 0
    for chunk in _chunks(ids):
        found += sum(1 for doc in index.get(chunk).values() if doc.get("batch") == batch_id)
    return dg.AssetCheckResult(
        check_name=INDEXED_COUNT_MATCHES_KEPT,
        passed=found == len(ids),
        metadata={"kept": len(ids), "indexed_for_batch": found},
    )


def _threshold_check(index: SearchIndex, repos: tuple[str, ...], threshold: float) -> dg.AssetCheckResult:
    below = index.count(Filters(repos=repos, max_quality=threshold)) if repos else 0
    return dg.AssetCheckResult(
        check_name=NO_DOCUMENT_BELOW_THRESHOLD,
        passed=below == 0,
        metadata={"below_threshold": below, "threshold": threshold},
    )


def _secrets_check(index: SearchIndex, ids: list[str]) -> dg.AssetCheckResult:
    # An even spread over the batch, so one repository cannot hide in an unsampled tail.
    step = max(1, len(ids) // SECRET_SAMPLE_SIZE)
    sample = ids[::step][:SECRET_SAMPLE_SIZE]
    found: Counter[str] = Counter()
    leaking: list[str] = []
    for doc_id, doc in index.get(sample).items():
        _, secrets = redact_secrets(doc.get("content") or "")
        if secrets:
            found.update(secrets)
            leaking.append(doc_id)
    return dg.AssetCheckResult(
        check_name=NO_SECRETS_IN_SAMPLE,
        passed=not found,
        metadata={
            "sampled": len(sample),
            "secrets": dg.MetadataValue.json(dict(found)),
            "documents": leaking[:20],
        },
    )


def _duplicates_check(redis: RedisResource, ids: list[str], repos: list[str]) -> dg.AssetCheckResult:
    """No id twice, and every indexed digest is claimed in the exact-dedup ledger by the repo it came from."""
    repeated = len(ids) - len(set(ids))
    client = redis.get_client()
    foreign = 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        owners = client.hmget(redis.redis_keys.processed_files, [bytes.fromhex(doc_id) for doc_id in chunk])
        claimants = repos[start : start + 1000]
        foreign += sum(1 for owner, repo in zip(owners, claimants, strict=True) if owner != repo.encode())
    return dg.AssetCheckResult(
        check_name=NO_DUPLICATES_IN_BATCH,
        passed=repeated == 0 and foreign == 0,
        metadata={"repeated_ids": repeated, "claimed_elsewhere": foreign},
    )


@dg.asset(
    group_name="files",
    partitions_def=repo_batches,
    deps=["scored_files"],
    kinds={"elasticsearch", "sqlite"},
    check_specs=[
        dg.AssetCheckSpec(INDEXED_COUNT_MATCHES_KEPT, asset="es_code_index"),
        dg.AssetCheckSpec(NO_DOCUMENT_BELOW_THRESHOLD, asset="es_code_index"),
        dg.AssetCheckSpec(NO_SECRETS_IN_SAMPLE, asset="es_code_index"),
        dg.AssetCheckSpec(NO_DUPLICATES_IN_BATCH, asset="es_code_index"),
    ],
)
def es_code_index(
    context: dg.AssetExecutionContext,
    config: CodeIndexConfig,
    redis: RedisResource,
    search: SearchIndexResource,
) -> dg.MaterializeResult:
    """The batch's spooled files at or above MIN_QUALITY_THRESHOLD, upserted by content id; then each
    repository's files that its new commit no longer holds leave the index, and the batch's repositories
    are marked processed at the commit that was read."""
    batch_id = context.partition_key
    spool = spool_path(settings.data_dir(), batch_id)
    manifest = read_manifest(spool)  # refuses an incomplete spool: scored_files must have finished
    threshold = (
        config.min_quality if config.min_quality is not None else settings.env_float("MIN_QUALITY_THRESHOLD")
    )
    commits: dict[str, str] = manifest.info.get("commits") or {}

    index = search.code_index()
    index.ensure()
    with redis.keep_leased(batch_id):
        started = time.perf_counter()
        written = _index_spool(index, spool, batch_id, threshold, config.bulk_size)
        index.refresh()
        elapsed = time.perf_counter() - started
        ids: list[str] = written["ids"]

        # Each repository scored completely now replaces its previous generation: its edited and deleted files
        # leave the index and release their claims. After every document is in, before the repos are marked
        # processed: a crash anywhere here re-runs to the same result (see stages.repo_updates).
        failed = manifest.info.get("failed_repos") or {}
        swaps = replace_generations(
            redis.get_client(),
            redis.redis_keys,
            index,
            [repo for repo in sorted(commits) if repo not in failed],
            batch_id,
        )

        # Only after every document is in: a crash before this line re-processes the repos, never skips them.
        if commits:
            redis.get_client().hset(redis.redis_keys.processed_repos, mapping=commits)

    repos = tuple(sorted(commits))
    checks = [
        _count_check(index, ids, batch_id),
        _threshold_check(index, repos, threshold),
        _secrets_check(index, ids),
        _duplicates_check(redis, ids, written["repos"]),
    ]
    context.log.info(
        f"batch {batch_id}: indexed {len(ids)} documents, {written['low_quality']} below {threshold}"
    )
    return dg.MaterializeResult(
        metadata={
            "indexed": len(ids),
            "spooled": manifest.rows,
            "dropped": dg.MetadataValue.json({LOW_QUALITY: written["low_quality"]}),
            "min_quality": threshold,
            "stale_removed": sum(swap.deleted for swap in swaps),
            "claims_released": sum(swap.released for swap in swaps),
            "docs_per_s": round(len(ids) / elapsed, 1) if elapsed > 0 else 0.0,
            "index_size_bytes": index.size_bytes(),
            "index": index.name,
        },
        check_results=checks,
    )


defs = dg.Definitions(assets=[es_code_index])
