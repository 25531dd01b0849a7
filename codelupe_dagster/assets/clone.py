"""`cloned_repos`: shallow clone or fetch every repository of one batch, in parallel."""

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from codelupe_dagster.backends.git import CloneOutcome, GitRepos
from codelupe_dagster.backends.repo_queue import BatchNotFound
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.git import GitResource
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.stages.handoff import ClonedRepo, FailedClone, write_cloned_manifest


def clone_batch(
    records: Sequence[RepoRecord], repos: GitRepos, workers: int
) -> list[tuple[RepoRecord, CloneOutcome]]:
    """Clone all records with ``workers`` threads: libgit2 releases the GIL for network and disk work."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="clone") as pool:
        outcomes = list(pool.map(repos.clone_or_fetch, records))
    return list(zip(records, outcomes, strict=True))


def handoff_entries(
    results: list[tuple[RepoRecord, CloneOutcome]],
) -> tuple[list[ClonedRepo], list[FailedClone]]:
    """The repositories on disk (with their records) and the failures, as `cloned.json` lists them."""
    cloned = [ClonedRepo(o.repo, o.path or "", o.head, r.to_doc(), o.status) for r, o in results if o.ok]
    failed = [FailedClone(o.repo, o.reason, o.detail) for _, o in results if not o.ok]
    return cloned, failed


@dg.asset(
    group_name="ingest",
    partitions_def=repo_batches,
    deps=["queued_repos"],
    pool="clone",  # caps clone work across concurrent runs; REPO_WORKERS caps it within one
    kinds={"git"},
)
def cloned_repos(
    context: dg.AssetExecutionContext, redis: RedisResource, git: GitResource, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Clones the batch's repos into REPOS_DIR. A repo that fails is recorded with its reason and retried
    on its own when the batch is settled, so a batch never fails because of one repository."""
    batch_id = context.partition_key
    queue = redis.queue()
    try:
        records = queue.batch_repos(batch_id)
    except BatchNotFound as exc:
        raise dg.Failure(f"batch {batch_id} has no record in Redis; it cannot be cloned") from exc

    started = time.monotonic()
    with queue.keep_leased(batch_id):
        results = clone_batch(records, git.repos(), git.worker_count())
    seconds = time.monotonic() - started
    write_cloned_manifest(pipeline.data_path(), batch_id, *handoff_entries(results))

    failures = {o.repo: f"clone {o.reason}: {o.detail}" for _, o in results if not o.ok}
    queue.record_repo_failures(batch_id, failures)
    statuses = Counter(outcome.status for _, outcome in results)
    failed_by_reason = Counter(outcome.reason for _, outcome in results if not outcome.ok)
    for _, outcome in results:
        if not outcome.ok:
            context.log.warning(f"{outcome.repo}: {outcome.reason} ({outcome.detail})")
    total_bytes = sum(outcome.bytes for _, outcome in results)
    metadata = {
        "repos": len(results),
        "cloned": statuses["cloned"],
        "updated": statuses["updated"],
        "unchanged": statuses["unchanged"],
        "failed": statuses["failed"],
        "failed_by_reason": dg.MetadataValue.json(dict(failed_by_reason)),
        "bytes": total_bytes,
        "seconds": round(seconds, 3),
        "repos_per_s": round(len(results) / seconds, 2) if seconds > 0 else 0.0,
    }
    return dg.MaterializeResult(metadata=metadata)


defs = dg.Definitions(assets=[cloned_repos])
