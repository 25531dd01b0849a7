"""`es_code_index`: a batch's spool -> the code index (Elasticsearch or the local SQLite file).

The asset only wires resources, configuration, metadata and check results; the stage is
`stages.index_spool`.
"""

from typing import Any

import dagster as dg

from codelupe_dagster.assets.corpus import table_metadata
from codelupe_dagster.backends.search.base import SearchIndex
from codelupe_dagster.core.documents import CODE_FIELDS
from codelupe_dagster.core.filters import LOW_QUALITY
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.stages.handoff import spool_path
from codelupe_dagster.stages.index_spool import CHECK_NAMES, CheckOutcome, batch_checks, index_batch


class CodeIndexConfig(dg.Config):
    # None: the pipeline resource's min_quality (MIN_QUALITY_THRESHOLD, 0.3, the old pipeline's filter).
    min_quality: float | None = None
    # Documents per bulk_upsert call when es_code_index indexes the spool itself: several requests per call
    # let Elasticsearch take them on parallel streams (backends/search/elastic_index.py).
    bulk_size: int = 2000


def _check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        key: dg.MetadataValue.json(value) if isinstance(value, dict) else value
        for key, value in outcome.metadata.items()
    }
    return dg.AssetCheckResult(check_name=outcome.name, passed=outcome.passed, metadata=metadata)


LICENSE_BUCKETS = 50


def license_metadata(index: SearchIndex) -> dict[str, Any]:
    """Documents per licence and per licence source in the whole index; documents with no licence
    count as ``none`` (when every licence fits the ``LICENSE_BUCKETS`` shown, so the rest is exact)."""
    total = index.count()
    licenses = index.terms("license", size=LICENSE_BUCKETS)
    sources = index.terms("license_source", size=10)
    if len(licenses) < LICENSE_BUCKETS and total > sum(licenses.values()):
        licenses["none"] = total - sum(licenses.values())
    if total > sum(sources.values()):
        sources["none"] = total - sum(sources.values())  # unlicensed, or indexed before sources existed
    return {
        "index_licenses": dg.MetadataValue.json(licenses),
        "index_license_sources": dg.MetadataValue.json(sources),
    }


def contaminated_counts(index: SearchIndex) -> dict[str, int]:
    """Documents per evaluation set in the whole index, from the counts per `contaminated` value ("a,b"
    counts for both); {} when none overlaps."""
    counts: dict[str, int] = {}
    for value, documents in index.terms("contaminated", size=1000).items():
        for name in value.split(","):
            counts[name] = counts.get(name, 0) + documents
    return dict(sorted(counts.items()))


@dg.asset(
    group_name="files",
    partitions_def=repo_batches,
    deps=["scored_files"],
    kinds={"elasticsearch", "sqlite"},
    check_specs=[
        dg.AssetCheckSpec(name, asset="es_code_index", description=description)
        for name, description in zip(
            CHECK_NAMES,
            (
                "Every document the batch wrote is in the index as this batch's document (the count "
                "indexed equals the count kept at or above the threshold). Runs after each batch.",
                "No document of the batch's repositories in the index scores below MIN_QUALITY_THRESHOLD. "
                "Runs after each batch.",
                "No secret and no personal data of PII_REDACT is left in the content or path of a sample "
                "spread over the batch's indexed documents. Runs after each batch.",
                "No document id appears twice in the batch, and the dedup ledger says the repository "
                "each document came from holds its content. Runs after each batch.",
            ),
            strict=True,
        )
    ],
)
def es_code_index(
    context: dg.AssetExecutionContext,
    config: CodeIndexConfig,
    redis: RedisResource,
    search: SearchIndexResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """The batch's spooled files at or above MIN_QUALITY_THRESHOLD, upserted by content id; then each
    repository's files that its new commit no longer holds leave the index, and the batch's repositories
    are marked processed at the commit that was read."""
    batch_id = context.partition_key
    threshold = config.min_quality if config.min_quality is not None else pipeline.min_quality
    index, ledger, queue = search.code_index(), redis.ledger(), redis.queue()
    with queue.keep_leased(batch_id):
        result = index_batch(
            index,
            ledger,
            spool_path(pipeline.data_path(), batch_id),
            batch_id,
            threshold=threshold,
            bulk_size=config.bulk_size,
            mark_processed=queue.mark_processed,
        )
    checks = [_check_result(outcome) for outcome in batch_checks(index, ledger, result)]
    documents = index.count()
    context.log.info(
        f"batch {batch_id}: indexed {result.indexed} documents, "
        f"{result.written.low_quality} below {threshold}"
    )
    return dg.MaterializeResult(
        metadata={
            "indexed": result.indexed,
            "spooled": result.spooled,
            "dropped": dg.MetadataValue.json({LOW_QUALITY: result.written.low_quality}),
            "min_quality": threshold,
            "stale_removed": result.stale_removed,
            "claims_released": result.claims_released,
            "docs_per_s": result.docs_per_s,
            # True: scored_files wrote the documents into the index while scoring (stages.stream_index).
            "streamed": result.streamed,
            "index_size_bytes": index.size_bytes(),
            "index": index.name,
            **license_metadata(index),
            # Documents of the whole index per evaluation set they overlap (DECONTAMINATE_SETS).
            "index_contaminated": dg.MetadataValue.json(contaminated_counts(index)),
            # row_count: documents in the whole index after this batch; partition_row_count: documents this
            # batch wrote (upserted at or above the threshold, the `indexed` above).
            **table_metadata(documents, CODE_FIELDS, partition_row_count=result.indexed),
        },
        check_results=checks,
    )


defs = dg.Definitions(assets=[es_code_index])
