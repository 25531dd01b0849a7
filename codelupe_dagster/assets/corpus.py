"""`corpus_stats`: the corpus as a whole, one materialization per look, plotted over time by the Dagster UI.

Batch metadata describes one batch; this asset is not partitioned, and each materialization records the
whole corpus as flat numeric metadata (`backends.corpus_stats.corpus_numbers`: documents, bytes, per
language, per licence, quality buckets, drops per reason, duplicates) plus a markdown table for people.
The UI plots every numeric key of a non-partitioned asset across its materializations.

When it is materialized:
- under the daemon (`dagster dev`), `corpus_stats_sensor` requests `corpus_stats_job` when a `batch_job`
  run has succeeded since its last request, at most once per `CORPUS_STATS_COOLDOWN_S` (a hundred batches
  an hour make a few runs, and the last batch is always counted by the next one);
- `codelupe run` launches `corpus_stats_job` (`CORPUS_STATS_JOB`) once after its last batch.

Also here: `document_table_schema`, the `dagster/column_schema` of the spool and index assets.
"""

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from codelupe_dagster.backends.corpus_stats import CorpusStats, corpus_numbers
from codelupe_dagster.core.documents import ID_FIELD, CodeDocument, FieldSpec
from codelupe_dagster.resources.redis import RedisResource
from codelupe_dagster.resources.search import SearchIndexResource

CORPUS_STATS_JOB = "corpus_stats_job"
BATCH_JOB = "batch_job"
CORPUS_STATS_COOLDOWN_S = 300  # at most one corpus_stats run per this many seconds under the daemon

# --------------------------------------------------------------------------- the spool's and index's schema

_COLUMN_TYPES = {
    "text": "string",
    "code": "string",
    "keyword": "string",
    "float": "float",
    "int": "int",
    "date": "timestamp",
    "bool": "bool",
    "object": "json",
}


def _field_docs() -> dict[str, str]:
    docs: dict[str, str] = {}
    for attribute in dataclasses.fields(CodeDocument):
        for meta in attribute.metadata.values():
            if isinstance(meta, Mapping) and meta.get("doc"):
                docs[attribute.name] = str(meta["doc"])
    return docs


def document_table_schema(fields: Sequence[FieldSpec]) -> dg.TableSchema:
    """The code document's columns (`core.documents`): the id, then `fields` in document order."""
    docs = _field_docs()
    columns = [dg.TableColumn(ID_FIELD, "string", description="hex content digest (xxh3-128)")]
    columns += [
        dg.TableColumn(spec.name, _COLUMN_TYPES[spec.kind], description=docs.get(spec.name) or None)
        for spec in fields
    ]
    return dg.TableSchema(columns=columns)


def table_metadata(
    row_count: int, fields: Sequence[FieldSpec], partition_row_count: int | None = None
) -> dict[str, Any]:
    """`dagster/row_count` (and `dagster/partition_row_count`) and `dagster/column_schema`."""
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": dg.MetadataValue.table_schema(document_table_schema(fields)),
    }
    if partition_row_count is not None:
        metadata["dagster/partition_row_count"] = dg.MetadataValue.int(partition_row_count)
    return metadata


# --------------------------------------------------------------------------- corpus_stats


def corpus_table(numbers: Mapping[str, int]) -> str:
    """The numbers as a markdown table, grouped the way the keys are (`language/...` under language)."""
    rows = [f"| {key} | {value:,} |" for key, value in numbers.items() if "/" not in key]
    for group in ("language", "licence", "quality", "dropped"):
        entries = [
            (key.split("/", 1)[1], value) for key, value in numbers.items() if key.startswith(f"{group}/")
        ]
        if entries:
            rows.append(f"| **{group}** | |")
            rows += [f"| {group}/{name} | {value:,} |" for name, value in entries]
    return "| corpus | count |\n| --- | ---: |\n" + "\n".join(rows)


def corpus_metadata(numbers: Mapping[str, int]) -> dict[str, Any]:
    """Every number as `MetadataValue.int` (what the UI plots), and the table for people."""
    metadata: dict[str, Any] = {key: dg.MetadataValue.int(value) for key, value in numbers.items()}
    metadata["corpus"] = dg.MetadataValue.md(corpus_table(numbers))
    return metadata


@dg.asset(group_name="corpus", kinds={"elasticsearch", "sqlite", "redis"}, deps=["es_code_index"])
def corpus_stats(
    context: dg.AssetExecutionContext, redis: RedisResource, search: SearchIndexResource
) -> dg.MaterializeResult:
    """The whole corpus now: documents, bytes, documents per language, licence and quality bucket (from the
    code index), files dropped per reason and duplicates (summed over every scored batch). Numeric
    metadata, one value per key per materialization, so the UI plots each key over time."""
    index = search.code_index()
    index.ensure()
    index.refresh()
    totals = CorpusStats(redis.get_client(), redis.redis_keys).totals()
    numbers = corpus_numbers(index, totals)
    context.log.info(
        f"corpus: {numbers['documents']} documents, {numbers['bytes']} bytes kept, "
        f"{numbers['batches']} batches, {numbers['dropped']} files dropped"
    )
    return dg.MaterializeResult(metadata=corpus_metadata(numbers))


corpus_stats_job = dg.define_asset_job(
    CORPUS_STATS_JOB,
    selection=[corpus_stats.key],
    description="Records the whole corpus's numbers (documents, languages, licences, quality, drops).",
)


# --------------------------------------------------------------------------- when it runs


def _cursor(raw: str | None) -> dict[str, Any]:
    try:
        cursor = json.loads(raw) if raw else {}
    except ValueError:
        cursor = {}
    return cursor if isinstance(cursor, dict) else {}


def next_corpus_request(
    instance: dg.DagsterInstance, cursor: str | None, now: float, cooldown_s: float = CORPUS_STATS_COOLDOWN_S
) -> tuple[dg.RunRequest | dg.SkipReason, str | None]:
    """A corpus_stats_job run request when a batch_job run succeeded after the last request and the
    cooldown since that request is over; otherwise why not. Returns the new cursor (None: unchanged).

    The cursor holds the end time of the newest batch success counted and when the last request was made,
    so a success during the cooldown is counted by the next tick after it, never lost."""
    state = _cursor(cursor)
    seen = float(state.get("batch_end", 0.0))
    requested = float(state.get("requested_at", 0.0))
    if now - requested < cooldown_s:
        return dg.SkipReason(
            f"cooldown: the last corpus_stats run was requested {int(now - requested)} s ago"
        ), None
    newest = instance.get_run_records(
        filters=dg.RunsFilter(job_name=BATCH_JOB, statuses=[dg.DagsterRunStatus.SUCCESS]),
        limit=1,
        order_by="update_timestamp",
        ascending=False,
    )
    end = (newest[0].end_time or newest[0].update_timestamp.timestamp()) if newest else None
    if end is None or end <= seen:
        return dg.SkipReason("no batch_job run has succeeded since the last corpus_stats run"), None
    active = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=CORPUS_STATS_JOB,
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    if active:
        return dg.SkipReason(f"corpus_stats run {active[0].dagster_run.run_id} has not finished yet"), None
    request = dg.RunRequest(run_key=f"corpus_stats:{end:.6f}")
    return request, json.dumps({"batch_end": end, "requested_at": now})


@dg.sensor(
    job=corpus_stats_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests corpus_stats_job after batch_job runs succeed, at most once per "
        f"{CORPUS_STATS_COOLDOWN_S} s, so the corpus view follows the batches without one run per batch."
    ),
)
def corpus_stats_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    result, cursor = next_corpus_request(context.instance, context.cursor, time.time())
    if cursor is not None:
        context.update_cursor(cursor)
    return result


defs = dg.Definitions(assets=[corpus_stats], jobs=[corpus_stats_job], sensors=[corpus_stats_sensor])
