"""`cloned_repos`: shallow clone or fetch every repository of one batch, in parallel."""

import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from codelupe_dagster.backends.git import CloneOutcome, GitRepos, MissingObject, RepositoryUnreadable
from codelupe_dagster.backends.repo_queue import BatchNotFound
from codelupe_dagster.core.license_detection import detect_license, record_license, wanted_file
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


def detected_license(repos: GitRepos, outcome: CloneOutcome) -> str | None:
    """The SPDX expression of the clone's root licence files and package manifests at the commit that
    will be read (``outcome.head``), or None: nothing found, or the clone could not be read."""
    if not outcome.path:
        return None
    try:
        return detect_license(repos.open(outcome.path).root_texts(outcome.head, wanted_file))
    except (RepositoryUnreadable, MissingObject):
        return None  # scoring reports the unreadable clone; its documents are simply unlicensed


def licensed_record(record: RepoRecord, detected: str | None) -> dict[str, Any]:
    """The record documents of the repository carry, with `license` and `license_source` settled."""
    doc = record.to_doc()
    doc["license"], doc["license_source"] = record_license(record.license, detected)
    return doc


def handoff_entries(
    results: list[tuple[RepoRecord, CloneOutcome]], repos: GitRepos | None = None
) -> tuple[list[ClonedRepo], list[FailedClone]]:
    """The repositories on disk (with their records) and the failures, as `cloned.json` lists them.

    With ``repos``, a repository the forge gave no licence id is read for its licence files."""
    cloned = []
    for record, outcome in results:
        if outcome.ok:
            needs_files = repos is not None and not record_license(record.license, None)[0]
            detected = detected_license(repos, outcome) if repos is not None and needs_files else None
            doc = licensed_record(record, detected)
            cloned.append(ClonedRepo(outcome.repo, outcome.path or "", outcome.head, doc, outcome.status))
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
    repos = git.repos()
    with queue.keep_leased(batch_id):
        results = clone_batch(records, repos, git.worker_count())
        cloned, failed = handoff_entries(results, repos)
    seconds = time.monotonic() - started
    write_cloned_manifest(pipeline.data_path(), batch_id, cloned, failed)

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
        "licenses": dg.MetadataValue.json(dict(Counter(str(c.record.get("license")) for c in cloned))),
        "license_sources": dg.MetadataValue.json(
            dict(Counter(str(c.record.get("license_source")) for c in cloned))
        ),
    }
    return dg.MaterializeResult(metadata=metadata)


defs = dg.Definitions(assets=[cloned_repos])
