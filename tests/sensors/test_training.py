"""The training sensor against a real Dagster instance and a real SQLite code index."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource
from codelupe_dagster.sensors.training import training_sensor
from codelupe_dagster.training import checkpoints
from tests.support.training_docs import stdlib_docs

pytestmark = pytest.mark.train


@pytest.fixture
def setup(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    search = SearchIndexResource(data_dir=str(data_dir))
    index = search.code_index()
    index.ensure()
    resources = {
        "search": search,
        "training": TrainingResource(data_dir=str(data_dir), min_new_files=5),
        "pipeline": PipelineResource(data_dir=str(data_dir), check_interval=0),
    }
    with dg.instance_for_test() as instance:
        yield index, resources, instance


def _tick(instance, resources, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return training_sensor(context), context


def _add(index, docs):
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()


def test_triggers_exactly_at_min_new_files_and_once_per_watermark(setup) -> None:
    index, resources, instance = setup
    docs = stdlib_docs(["json", "email"], per_package=6)
    docs = [d for d in docs if d["content"].strip()][:5]
    _add(index, docs[:4] + stdlib_docs(["xml"], per_package=3, quality=0.3))  # low quality never counts

    result, context = _tick(instance, resources)
    assert isinstance(result, dg.SkipReason)
    assert "4/5 new high-quality files" in result.skip_message

    _add(index, docs[4:5])
    result, context = _tick(instance, resources, context.cursor)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    assert request.run_key == "qwen_checkpoint:initial:1"

    again, _ = _tick(instance, resources, result.cursor)
    assert isinstance(again, dg.SkipReason)
    assert "already requested" in again.skip_message


def test_counts_only_past_the_latest_checkpoint_watermark(setup, data_dir: Path) -> None:
    index, resources, instance = setup
    old = stdlib_docs(["json"], per_package=6)
    new = stdlib_docs(["http"], per_package=5, start=datetime(2026, 5, 1, tzinfo=UTC))
    _add(index, old)
    staging = checkpoints.staging_dir(data_dir, "v0001")
    checkpoints.publish(staging, "v0001", {"data_watermark": max(d["indexed_at"] for d in old)})

    result, context = _tick(instance, resources)
    assert isinstance(result, dg.SkipReason)
    assert "0/5 new high-quality files since v0001" in result.skip_message

    _add(index, new)
    result, _ = _tick(instance, resources, context.cursor)
    assert isinstance(result, dg.SensorResult)
    assert result.run_requests[0].run_key.startswith("qwen_checkpoint:" + old[-1]["indexed_at"][:19])


def test_never_requests_while_a_training_run_is_in_progress(setup) -> None:
    index, resources, instance = setup
    _add(index, stdlib_docs(["json", "email"], per_package=6))
    instance.add_run(
        dg.DagsterRun(job_name="qwen_training_job", run_id="a" * 36, status=dg.DagsterRunStatus.STARTED)
    )
    result, _ = _tick(instance, resources)
    assert isinstance(result, dg.SkipReason)
    assert "still in progress" in result.skip_message


def test_check_interval_is_honoured(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    _, resources, instance = setup
    resources = {**resources, "pipeline": PipelineResource(check_interval=300)}
    cursor = json.dumps({"last_check": datetime.now(UTC).timestamp()})
    result, _ = _tick(instance, resources, cursor)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith("next check in")
