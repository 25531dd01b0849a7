"""The corpus view: `corpus_stats` numbers (from a fresh index on both backends and the scoring totals),
its materialization's numeric metadata, when the sensor asks for it, the spool's and the index's row
count and column schema, and dropped files sampled by a real `scored_files` run."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import redis

from codelupe_dagster.assets.corpus import (
    BATCH_JOB,
    CORPUS_STATS_COOLDOWN_S,
    CORPUS_STATS_JOB,
    corpus_stats,
    corpus_stats_sensor,
    corpus_table,
    next_corpus_request,
)
from codelupe_dagster.assets.index import es_code_index
from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.backends.corpus_stats import CorpusStats, corpus_numbers
from codelupe_dagster.backends.dropped_samples import DroppedSamples
from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.core.documents import CODE_FIELD_NAMES, STORED_CODE_FIELDS
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.resources import SearchIndexResource
from codelupe_dagster.stages.score_batch import BatchCounts
from tests.assets.test_score_and_index import materialize
from tests.support.planted import PlantedCorpus, indexed_python_record

ROOT = Path(__file__).resolve().parents[2]


def _doc(n: int, language: str, licence: str | None, quality: float) -> dict:
    record = indexed_python_record(n, f"x = {n}\n", f"m{n}.py")
    record.update(language=language, license=licence, quality_score=quality, size_bytes=100 + n)
    return record


def _batch(kept: int, **dropped: int) -> dict:
    counts = BatchCounts(seen=kept + sum(dropped.values()), kept=kept, kept_bytes=kept * 10)
    counts.dropped.update(dropped)
    counts.exact_duplicates, counts.near_duplicates = 2, 1
    return counts.to_dict()


def test_corpus_numbers_from_a_fresh_index(search_backend: Callable[..., SearchIndex], valkey_client) -> None:
    index = search_backend(CODE_SCHEMA)
    stats = CorpusStats(valkey_client, RedisKeys("t:"))
    empty = corpus_numbers(index, stats.totals(), top=3)
    assert empty["documents"] == 0 and empty["batches"] == 0 and empty["dropped"] == 0
    assert [key for key in empty if key.startswith("quality/")] == [
        "quality/<0.3",
        "quality/0.3-0.5",
        "quality/0.5-0.7",
        "quality/>=0.7",
    ]
    assert not any(key.startswith(("language/", "licence/", "dropped/")) for key in empty)

    # 5 languages and 4 licences with distinct counts, unlicensed documents, qualities across the buckets.
    languages = ["python"] * 8 + ["go"] * 5 + ["rust"] * 4 + ["c"] * 2 + ["java"]
    licences = ["MIT"] * 6 + ["Apache-2.0"] * 5 + ["GPL-3.0"] * 3 + ["BSD-3-Clause"] * 2 + [None] * 4
    docs = [_doc(n, languages[n], licences[(n * 7) % 20], n / 20) for n in range(20)]
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    stats.record("b1", _batch(12, minified=3, too_large=1))
    stats.record("b2", _batch(8, minified=2, binary=4, vendored=1, generated=1))
    numbers = corpus_numbers(index, stats.totals(), top=3)

    assert numbers["documents"] == 20 and numbers["bytes"] == 200 and numbers["batches"] == 2
    assert (numbers["exact_duplicates"], numbers["near_duplicates"], numbers["files_seen"]) == (4, 2, 32)
    shown = {k: v for k, v in numbers.items() if k.startswith("language/")}
    assert shown == {"language/python": 8, "language/go": 5, "language/rust": 4, "language/other": 3}
    shown = {k: v for k, v in numbers.items() if k.startswith("licence/")}
    assert shown == {
        "licence/MIT": 6,
        "licence/Apache-2.0": 5,
        "licence/GPL-3.0": 3,
        "licence/other": 2,  # BSD-3-Clause, past the top 3
        "licence/none": 4,  # never folded into other
    }
    assert sum(v for k, v in numbers.items() if k.startswith("quality/")) == 20
    assert numbers["quality/<0.3"] == 6 and numbers["quality/>=0.7"] == 6  # n / 20 < 0.3: n < 6
    assert numbers["dropped"] == 12
    assert {k: v for k, v in numbers.items() if k.startswith("dropped/")} == {
        "dropped/minified": 5,
        "dropped/binary": 4,
        "dropped/generated": 1,  # ties by name: generated before too_large and vendored
        "dropped/other": 2,
    }
    assert len(numbers) == 3 * (3 + 1) + 13  # the most keys there can be, whatever the corpus holds
    assert "| language/python |" in corpus_table(numbers)


@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
def test_corpus_stats_materializes_numbers_the_ui_plots(
    planted: PlantedCorpus, valkey_url: str, resources_for: Callable[..., dict], request, backend: str
) -> None:
    url = request.getfixturevalue("elasticsearch_url") if backend == "elasticsearch" else None
    resources = resources_for(planted.data_dir, valkey_url, elasticsearch_url=url)
    name = f"test-corpus-{uuid.uuid4().hex[:8]}"
    resources["search"] = SearchIndexResource(
        elasticsearch_url=url, data_dir=str(planted.data_dir), code_index_name=name
    )
    instance = dg.DagsterInstance.ephemeral()
    try:
        first = dg.materialize([corpus_stats], instance=instance, resources=resources)  # a fresh index
        assert first.success
        empty = first.asset_materializations_for_node("corpus_stats")[0].metadata
        assert empty["documents"].value == 0 and empty["batches"].value == 0

        batch = materialize(planted, resources, [scored_files, es_code_index], workers=0)
        assert batch.success
        second = dg.materialize([corpus_stats], instance=instance, resources=resources)
        metadata = second.asset_materializations_for_node("corpus_stats")[0].metadata
        index = resources["search"].code_index()
        scored = batch.asset_materializations_for_node("scored_files")[0].metadata
        assert metadata["documents"].value == index.count() > 0
        assert metadata["bytes"].value > 0 and metadata["batches"].value == 1
        assert metadata["dropped/too_large"].value == 1 == scored["dropped"].data["too_large"]
        assert metadata["exact_duplicates"].value == scored["exact_duplicates"].value
        assert metadata["language/python"].value > 0
        # Every number is an int metadata value (plotted by the UI); the table is for people.
        numeric = {k: v for k, v in metadata.items() if k != "corpus"}
        assert numeric and all(isinstance(v, dg.IntMetadataValue) for v in numeric.values())
        assert isinstance(metadata["corpus"], dg.MarkdownMetadataValue)
        history = instance.fetch_materializations(dg.AssetKey("corpus_stats"), limit=10).records
        assert len(history) == 2  # one point per materialization
    finally:
        resources["search"].code_index().delete()


def test_spool_and_index_carry_row_count_and_column_schema(
    planted: PlantedCorpus, redis_url: str, resources_for: Callable[..., dict]
) -> None:
    resources = resources_for(planted.data_dir, redis_url)
    result = materialize(planted, resources, [scored_files, es_code_index], workers=0)
    assert result.success
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    assert scored["dagster/row_count"].value == scored["kept"].value > 0
    columns = [c.name for c in scored["dagster/column_schema"].schema.columns]
    assert columns == ["id", *(spec.name for spec in STORED_CODE_FIELDS)]
    types = {c.name: c.type for c in scored["dagster/column_schema"].schema.columns}
    assert (types["quality_score"], types["size_bytes"], types["quality_signals"]) == ("float", "int", "json")

    indexed = result.asset_materializations_for_node("es_code_index")[0].metadata
    assert indexed["dagster/row_count"].value == resources["search"].code_index().count()
    assert indexed["dagster/partition_row_count"].value == indexed["indexed"].value > 0
    assert [c.name for c in indexed["dagster/column_schema"].schema.columns] == ["id", *CODE_FIELD_NAMES]


def test_scored_files_samples_its_drops_and_a_rerun_does_not_grow_them(
    planted: PlantedCorpus, valkey_url: str, resources_for: Callable[..., dict]
) -> None:
    resources = resources_for(planted.data_dir, valkey_url)
    client = redis.Redis.from_url(valkey_url)
    samples = DroppedSamples(client, RedisKeys())
    for _ in range(2):  # the partition runs twice
        result = materialize(planted, resources, [scored_files], workers=0)
        assert result.success
        held = samples.reasons()
    dropped = result.asset_materializations_for_node("scored_files")[0].metadata["dropped"].data
    assert held == {reason: n for reason, n in dropped.items()}
    huge = samples.samples("too_large")
    assert [(s.repo, s.path, s.excerpt) for s in huge] == [("acme/alpha", "data/huge.py", None)]
    assert huge[0].size is not None and huge[0].size > 50_000_000 and huge[0].batch == planted.batch_id


def _succeed(instance: dg.DagsterInstance, name: str = BATCH_JOB) -> None:
    @dg.op
    def noop() -> None:
        pass

    @dg.job(name=name)
    def job() -> None:
        noop()

    assert job.execute_in_process(instance=instance).success


def test_the_sensor_requests_one_run_per_cooldown_and_never_misses_the_last_batch() -> None:
    with dg.instance_for_test() as instance:
        now = 1_000_000_000.0
        result, cursor = next_corpus_request(instance, None, now)
        assert isinstance(result, dg.SkipReason) and "no batch_job" in (result.skip_message or "")
        assert cursor is None

        _succeed(instance)
        result, cursor = next_corpus_request(instance, None, now)
        assert isinstance(result, dg.RunRequest) and cursor is not None
        _succeed(instance)  # succeeds during the cooldown
        skipped, unchanged = next_corpus_request(instance, cursor, now + CORPUS_STATS_COOLDOWN_S / 2)
        assert isinstance(skipped, dg.SkipReason) and "cooldown" in (skipped.skip_message or "")
        assert unchanged is None
        later, cursor2 = next_corpus_request(instance, cursor, now + CORPUS_STATS_COOLDOWN_S)
        assert isinstance(later, dg.RunRequest) and later.run_key != result.run_key  # counted after all
        idle, _ = next_corpus_request(instance, cursor2, now + 10 * CORPUS_STATS_COOLDOWN_S)
        assert isinstance(idle, dg.SkipReason) and "no batch_job" in (idle.skip_message or "")

        # A corpus_stats run still going: wait for it rather than queue another.
        _succeed(instance)
        instance.add_run(
            dg.DagsterRun(
                job_name=CORPUS_STATS_JOB, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
            )
        )
        busy, unchanged = next_corpus_request(instance, cursor2, now + 20 * CORPUS_STATS_COOLDOWN_S)
        assert isinstance(busy, dg.SkipReason) and "has not finished" in (busy.skip_message or "")
        assert unchanged is None


def test_the_sensor_keeps_its_cursor_between_ticks() -> None:
    with dg.instance_for_test() as instance:
        _succeed(instance)
        context = dg.build_sensor_context(instance=instance)
        requested = corpus_stats_sensor(context)
        assert isinstance(requested, dg.RunRequest) and context.cursor is not None
        again = corpus_stats_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
        assert isinstance(again, dg.SkipReason) and "cooldown" in (again.skip_message or "")


def test_the_sensor_and_job_are_in_the_code_location() -> None:
    from codelupe_dagster.definitions import defs

    job = defs.resolve_job_def(CORPUS_STATS_JOB)
    assert job.asset_layer.executable_asset_keys == {dg.AssetKey("corpus_stats")}
    sensor = defs.resolve_sensor_def("corpus_stats_sensor")
    assert sensor.description and sensor.job_name == CORPUS_STATS_JOB


def test_the_job_runs_from_the_code_location_as_codelupe_run_launches_it(data_dir, valkey_url: str) -> None:
    """What `codelupe run` does after its last batch: the real definitions' job, resources from the
    environment (a fresh process: the code location reads it at import), on the run's instance."""
    script = (
        "import dagster as dg\n"
        "from codelupe_dagster.assets.corpus import CORPUS_STATS_JOB\n"
        "from codelupe_dagster.definitions import defs\n"
        "with dg.instance_for_test() as instance:\n"
        "    result = defs.resolve_job_def(CORPUS_STATS_JOB).execute_in_process(instance=instance)\n"
        "    metadata = result.asset_materializations_for_node('corpus_stats')[0].metadata\n"
        "    event = instance.get_latest_materialization_event(dg.AssetKey('corpus_stats'))\n"
        "    print(result.success, metadata['documents'].value, 'corpus' in metadata, event is not None)\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in {"ELASTICSEARCH_URL", "DAGSTER_HOME"}}
    environ.update(DATA_DIR=str(data_dir), REDIS_URL=valkey_url, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environ, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "0", "True", "True"]
