"""`queued_repos`: rank every crawled repository and push the ones needing work onto the Redis queue."""

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from codelupe_dagster import settings
from codelupe_dagster.backends.dropped_samples import DroppedSamples
from codelupe_dagster.backends.forget_registry import RedisForgetRegistry
from codelupe_dagster.backends.repo_queue import RepoQueue
from codelupe_dagster.backends.sources.records import redact_record
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.redaction import redact_field
from codelupe_dagster.core.repo_priority import DEFAULT_WEIGHTS, repo_priority
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.stages.forget import ForgetStores, apply_opt_out_file

WRITE_CHUNK = 500


def forget_stores(
    redis: RedisResource,
    search: SearchIndexResource,
    data_dir: Path,
    progress: Callable[[str], None] | None = None,
) -> ForgetStores:
    """Every store `stages.forget` clears, from the resources (shared by the assets and `codelupe forget`)."""
    client = redis.get_client()
    repo_index = search.repo_index()
    repo_index.ensure()
    code_index = search.code_index()
    code_index.ensure()
    return ForgetStores(
        registry=RedisForgetRegistry(client, redis.redis_keys),
        ledger=redis.ledger(),
        queue=redis.queue(),
        code_index=code_index,
        repo_index=repo_index,
        data_dir=data_dir,
        progress=progress or (lambda line: None),
        dropped=DroppedSamples(client, redis.redis_keys),
    )


def apply_opt_out(
    context: dg.AssetExecutionContext,
    redis: RedisResource,
    search: SearchIndexResource,
    pipeline: PipelineResource,
) -> dict[str, Any]:
    """Re-read OPT_OUT_FILE and forget its new lines (the same path as `codelupe forget`); metadata."""
    path = settings.env_str("OPT_OUT_FILE") or ""
    reports = apply_opt_out_file(path, forget_stores(redis, search, pipeline.data_path(), context.log.info))
    for report in reports:
        context.log.info(f"opt-out {report.pattern}: {dict(report.removed)}; re-queued {report.requeued}")
    return {
        "opt_out_file": path,
        "opt_out_forgotten": len(reports),
        "opt_out_removed": dg.MetadataValue.json(
            {report.pattern: dict(report.removed) for report in reports}
        ),
    }


class QueueConfig(dg.Config):
    weight_overrides: dict[str, float] = {}  # any PriorityWeights field, e.g. {"fork_penalty": 0}
    preferred_languages: list[str] = []


def _top_table(queue: RepoQueue, records: dict[str, RepoRecord], limit: int = 10) -> str:
    rows = ["| # | repo | priority | stars | license | pushed_at |", "|---|---|---|---|---|---|"]
    for rank, (repo, score) in enumerate(queue.top(limit), 1):
        record = records.get(repo)
        stars, lic, pushed = (record.stars, record.license, record.pushed_at) if record else ("", "", "")
        rows.append(f"| {rank} | {repo} | {score:.3f} | {stars} | {lic or ''} | {pushed or ''} |")
    return "\n".join(rows)


@dg.asset(group_name="ingest", deps=["crawled_repos"], kinds={"redis"})
def queued_repos(
    context: dg.AssetExecutionContext,
    config: QueueConfig,
    redis: RedisResource,
    search: SearchIndexResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """Scores repos from the repo index and enqueues those not processed at their current state.

    Records are redacted again on the way to the queue (idempotent): a repo index written before
    redaction existed, and not crawled since, must not carry a pasted token or an address into the
    queue's records and the batches made from them. What is redacted is written back to the index."""
    opt_out = apply_opt_out(context, redis, search, pipeline)
    pii_kinds = pipeline.pii_kinds()
    secrets_redacted: Counter[str] = Counter()
    pii_redacted: Counter[str] = Counter()
    weights = DEFAULT_WEIGHTS.with_overrides(
        {**config.weight_overrides, "preferred_languages": tuple(config.preferred_languages)}
    )
    now = datetime.now(UTC)
    index = search.repo_index()
    index.ensure()

    scored: list[tuple[RepoRecord, float]] = []
    updated_docs: list[dict] = []
    bad_records = 0
    for doc in index.iter_documents():
        try:
            record = RepoRecord.from_doc(doc)
        except (TypeError, ValueError) as exc:
            bad_records += 1
            # The error can quote a field's value: redacted like every other message.
            shown = redact_field(f"{doc.get('id')!r}: {exc}", pii_kinds).text
            context.log.warning(f"skipping unreadable repo document {shown}")
            continue
        redacted = redact_record(record, pii_kinds)
        record = redacted.record
        secrets_redacted.update(redacted.secrets)
        pii_redacted.update(redacted.pii)
        priority = repo_priority(record, now, weights)
        scored.append((record, priority))
        if redacted.secrets or redacted.pii:
            updated_docs.append({**doc, **record.to_doc(), "priority": priority})
        elif doc.get("priority") != priority:
            updated_docs.append({**doc, "priority": priority})
    # Priorities go back into the repo index so they can be searched and inspected alongside the metadata.
    for start in range(0, len(updated_docs), WRITE_CHUNK):
        index.bulk_upsert(updated_docs[start : start + WRITE_CHUNK]).raise_for_errors()
    if updated_docs:
        index.refresh()  # hand-over: status and searches after this run see the new priorities

    queue = redis.queue()
    report = queue.enqueue(sorted(scored, key=lambda item: -item[1]))
    skipped = dict(report.skipped)
    if bad_records:
        skipped["unreadable"] = bad_records
    state = queue.state()
    context.log.info(f"enqueued {len(report.enqueued)} of {len(scored)} repos; skipped {skipped}")
    return dg.MaterializeResult(
        metadata={
            "repos_seen": len(scored),
            "enqueued": len(report.enqueued),
            "skipped": dg.MetadataValue.json(skipped),
            "skipped_total": sum(skipped.values()),
            "queue_length": state.queued,
            "in_flight": state.in_flight,
            "priorities_written": len(updated_docs),
            "secrets_redacted": dg.MetadataValue.json(dict(sorted(secrets_redacted.items()))),
            "pii_redacted": dg.MetadataValue.json(dict(sorted(pii_redacted.items()))),
            **opt_out,
            "weights": dg.MetadataValue.json(json.loads(json.dumps(weights.__dict__))),
            "top_10": dg.MetadataValue.md(_top_table(queue, dict((r.full_name, r) for r, _ in scored))),
        }
    )


defs = dg.Definitions(assets=[queued_repos])
