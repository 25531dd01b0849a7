"""`scored_files`: a batch's cloned repositories -> filtered, scored, deduplicated Parquet spool.

The asset only wires resources, configuration and metadata; the stage is `stages.score_batch`.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from codelupe_dagster.assets.corpus import table_metadata
from codelupe_dagster.backends.corpus_stats import CorpusStats
from codelupe_dagster.backends.dropped_samples import DroppedSamples
from codelupe_dagster.backends.search.base import QUALITY_BUCKETS
from codelupe_dagster.backends.spool import PART_PREFIX
from codelupe_dagster.core.documents import STORED_CODE_FIELDS
from codelupe_dagster.partitions import repo_batches
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.stages.dropped_sampling import DropSampler
from codelupe_dagster.stages.file_processing import ProcessingConfig
from codelupe_dagster.stages.score_batch import BatchCounts, score_batch
from codelupe_dagster.stages.stream_index import StreamIndexer


class ScoredFilesConfig(dg.Config):
    scorer: str = "v2"
    max_file_bytes: int = 1_000_000
    # None: the pipeline resource's file_workers (FILE_WORKERS); 0 processes files in the step's own process.
    file_workers: int | None = None
    keep_near_duplicates: bool = False
    # None: the pipeline resource's min_quality (MIN_QUALITY_THRESHOLD). Applied before any dedup claim
    # (DESIGN §6): a low file that claimed its digest and buckets would make a better near copy elsewhere
    # its duplicate, and then neither would be indexed.
    min_quality: float | None = None
    # Index kept documents while the batch is scored (stages.stream_index): es_code_index then finalizes
    # the batch without writing them again. Off: es_code_index indexes the spool itself.
    stream_index: bool = True


def quality_table(histogram: dict[str, int]) -> str:
    rows = "\n".join(f"| {label} | {histogram.get(label, 0)} |" for label, _, _ in QUALITY_BUCKETS)
    return f"| quality | files |\n| --- | --- |\n{rows}"


def counts_metadata(counts: BatchCounts) -> dict[str, Any]:
    summary = counts.to_dict()
    return {
        "seen": summary["seen"],
        "kept": summary["kept"],
        "dropped": dg.MetadataValue.json(summary["dropped"]),
        "exact_duplicates": summary["exact_duplicates"],
        "near_duplicates": summary["near_duplicates"],
        "secrets_redacted": dg.MetadataValue.json(summary["secrets_redacted"]),
        "pii_redacted": dg.MetadataValue.json(summary["pii_redacted"]),
        # Kept files per evaluation set they overlap (DECONTAMINATE_SETS): indexed, left out of training.
        "contaminated": dg.MetadataValue.json(summary["contaminated"]),
        "languages": dg.MetadataValue.json(summary["languages"]),
        "quality_histogram": dg.MetadataValue.md(quality_table(summary["quality_histogram"])),
        "failed_repos": dg.MetadataValue.json(summary["failed_repos"]),
        "unaccounted": summary["unaccounted"],
        "pool_rebuilds": summary["pool_rebuilds"],
        "files_per_s": summary["files_per_s"],
        "elapsed_s": summary["elapsed_s"],
    }


NO_LICENSE = "none"  # how a document without a licence is counted in metadata


def spool_license_counts(spool: str | Path) -> dict[str, dict[str, int]]:
    """Kept documents per licence and per licence source in a committed spool (two columns read).

    The spool is what the index and every consumer will see, so its counts are the ones to show; an
    unlicensed document counts under ``none``."""
    licenses: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for part in sorted(Path(spool).glob(f"{PART_PREFIX}*.parquet")):
        # ParquetFile, not pq.read_table: that one imports pyarrow.dataset, and with it pandas (~0.3 s
        # CPU in every step process, issue 12).
        table = pq.ParquetFile(part).read(columns=["license", "license_source"])
        licenses.update(value or NO_LICENSE for value in table.column("license").to_pylist())
        sources.update(value or NO_LICENSE for value in table.column("license_source").to_pylist())
    return {"licenses": dict(licenses.most_common()), "license_sources": dict(sources.most_common())}


@dg.asset(group_name="files", partitions_def=repo_batches, deps=["cloned_repos"], kinds={"parquet"})
def scored_files(
    context: dg.AssetExecutionContext,
    config: ScoredFilesConfig,
    redis: RedisResource,
    search: SearchIndexResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """The batch's HEAD trees filtered, scored, redacted (secrets and PII) and deduplicated into the spool;
    kept files are streamed into the code index as they are spooled, for es_code_index to finalize."""
    batch_id = context.partition_key
    min_quality = config.min_quality if config.min_quality is not None else pipeline.min_quality
    processing = ProcessingConfig(
        scorer=config.scorer,
        max_file_bytes=config.max_file_bytes,
        min_quality=min_quality,
        pii_kinds=pipeline.pii_kinds(),
        decontaminate_sets=pipeline.decontamination_spec(),
    )
    queue = redis.queue()
    stream = StreamIndexer(search.code_index(), min_quality) if config.stream_index else None
    sampler = DropSampler(pii_kinds=processing.pii_kinds, max_file_bytes=config.max_file_bytes)
    with queue.keep_leased(batch_id):
        counts, spool = score_batch(
            redis.ledger(),
            pipeline.data_path(),
            batch_id,
            processing,
            workers=config.file_workers if config.file_workers is not None else pipeline.file_workers,
            keep_near_duplicates=config.keep_near_duplicates,
            stream=stream,
            samples=sampler,
        )
    # The spool is committed: keep the batch's counts for the corpus totals (a re-run overwrites them),
    # and its dropped-file samples (`codelupe dropped`; one round trip, bounded per reason).
    CorpusStats(redis.get_client(), redis.redis_keys).record(batch_id, counts.to_dict())
    DroppedSamples(redis.get_client(), redis.redis_keys).record(sampler.samples(batch_id))
    # A repository that could not be read fails alone: settling the batch retries it, then parks it.
    failures = {repo: f"score: {reason}" for repo, reason in counts.failed_repos.items()}
    queue.record_repo_failures(batch_id, failures)
    context.log.info(
        f"batch {batch_id}: {counts.seen} files seen, {counts.kept} kept, "
        f"{counts.exact_duplicates} exact and {counts.near_duplicates} near duplicates, "
        f"{counts.files_per_s:.0f} files/s"
    )
    if counts.unaccounted:
        context.log.error(f"batch {batch_id}: {counts.unaccounted} files seen but not accounted for")
    metadata = counts_metadata(counts)
    metadata["spool"] = dg.MetadataValue.path(str(spool))
    for key, value in spool_license_counts(spool).items():
        metadata[key] = dg.MetadataValue.json(value)
    metadata["min_quality"] = min_quality
    metadata["decontaminate_sets"] = processing.decontaminate_sets or "none"
    # Rows of this batch's spool (the documents written; the spool is per batch, so both counts agree).
    metadata.update(table_metadata(counts.kept, STORED_CODE_FIELDS, partition_row_count=counts.kept))
    return dg.MaterializeResult(metadata=metadata)


defs = dg.Definitions(assets=[scored_files])
