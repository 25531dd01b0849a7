"""The qwen_checkpoint asset through real Dagster materialization."""

from pathlib import Path

import dagster as dg
import pytest

from codelupe_dagster.assets.train import DATA_CHECK, QwenCheckpointConfig, qwen_checkpoint
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource
from tests.support.planted import GITHUB_TOKEN
from tests.support.training_docs import stdlib_docs

pytestmark = pytest.mark.train


def _resources(data_dir: Path) -> dict:
    return {
        "search": SearchIndexResource(data_dir=str(data_dir)),
        "training": TrainingResource(data_dir=str(data_dir), wandb_mode="disabled"),
        "pipeline": PipelineResource(data_dir=str(data_dir)),
    }


def test_fails_clearly_without_eligible_samples(data_dir: Path) -> None:
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    index.bulk_upsert(stdlib_docs(["json"], per_package=3, quality=0.5)).raise_for_errors()
    result = dg.materialize([qwen_checkpoint], resources=_resources(data_dir), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "No eligible training samples" in str(failure.step_failure_data.error)
    assert "quality_score >= 0.7" in str(failure.step_failure_data.error)


def test_materializes_checkpoint_with_manifest_metadata_and_data_check(
    data_dir: Path, with_tiny_model
) -> None:
    pytest.importorskip("peft")
    with_tiny_model(data_dir)
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    docs = stdlib_docs(["json", "email", "http"], per_package=4, max_chars=2000)
    docs[0]["content"] = f'TOKEN = "{GITHUB_TOKEN}"\n' + docs[0]["content"]  # an old, unredacted document
    index.bulk_upsert(docs).raise_for_errors()
    config = QwenCheckpointConfig(
        seq_len=128, micro_batch_rows=2, tokens_per_step=256, max_steps=3, eval_fraction=0.3
    )
    result = dg.materialize(
        [qwen_checkpoint],
        resources=_resources(data_dir),
        run_config=dg.RunConfig(ops={"qwen_checkpoint": config}),
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("qwen_checkpoint")
    metadata = materialization.metadata
    assert metadata["version"].value == "v0001"
    assert metadata["steps"].value == 3
    assert metadata["eval_loss_before"].value > 0
    # Training data is redacted on the way out of the index, and the run says what it redacted.
    assert metadata["secrets_redacted"].value == {"github_pat": 1}
    assert (data_dir / "checkpoints" / "v0001" / "manifest.json").is_file()
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == DATA_CHECK and check.passed
