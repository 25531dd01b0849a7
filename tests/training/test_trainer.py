"""End to end through the real SQLite code index: train, reload and generate, then resume."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from codelupe_dagster.resources.search import SearchIndexResource
from tests.support.training_docs import stdlib_docs

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")
pytest.importorskip("peft")


def _code_index(data_dir: Path, docs: list[dict]):
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    return index


def _config(data_dir: Path, **overrides):
    from codelupe_dagster.training.config import TrainingConfig

    values = dict(
        data_dir=data_dir,
        seq_len=128,
        micro_batch_rows=2,
        tokens_per_step=256,
        epochs=100.0,
        max_steps=250,
        learning_rate=5e-3,
        lora_r=8,
        lora_alpha=16,
        eval_fraction=0.25,
        max_eval_tokens=4096,
        wandb_mode="disabled",
    )
    values.update(overrides)
    return TrainingConfig(**values)


def test_training_lowers_heldout_loss_then_reloads_generates_and_resumes(
    data_dir: Path, with_tiny_model
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codelupe_dagster.training.trainer import run_training

    with_tiny_model(data_dir)
    first_docs = stdlib_docs(["json", "email", "http", "logging", "importlib"], per_package=5, max_chars=3000)
    low_quality = stdlib_docs(["xml"], per_package=3, quality=0.4, start=datetime(2026, 6, 1, tzinfo=UTC))
    index = _code_index(data_dir, first_docs + low_quality)

    first = run_training(_config(data_dir), index, log=lambda _: None)
    manifest = first.manifest
    assert first.version == "v0001" and manifest["resumed_from"] is None
    assert manifest["documents"] == len(
        [d for d in first_docs if d["content"].strip()]
    )  # low quality excluded
    assert manifest["data_watermark"] == max(d["indexed_at"] for d in first_docs)
    assert manifest["steps"] == 250 and manifest["tokens"] > 0
    assert (manifest["steps_planned"], manifest["stopped_on"], manifest["resumed_at_steps"]) == (
        250,
        "completed",
        [],
    )
    assert manifest["eval_documents"] > 0 and manifest["data_checks"]["repos_in_both_splits"] == 0
    assert manifest["eval_loss_after"] < manifest["eval_loss_before"] - 0.1
    for key in ("train_loss", "tokens_per_second", "peak_memory_bytes", "git_commit", "base_model"):
        assert key in manifest

    base = AutoModelForCausalLM.from_pretrained(manifest["base_model_path"])
    tuned = PeftModel.from_pretrained(base, str(first.adapter_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(first.tokenizer_dir))
    prompt = tokenizer("import json\n\ndef ", return_tensors="pt")
    with torch.no_grad():
        generated = tuned.generate(
            **prompt, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.eos_token_id
        )
    assert generated.shape[1] > prompt["input_ids"].shape[1]
    assert isinstance(tokenizer.decode(generated[0]), str)

    later = stdlib_docs(["urllib", "concurrent"], per_package=4, start=datetime(2026, 3, 1, tzinfo=UTC))
    index.bulk_upsert(later).raise_for_errors()
    index.refresh()
    second = run_training(_config(data_dir, max_steps=20), index, log=lambda _: None)
    assert second.version == "v0002"
    assert second.manifest["resumed_from"] == "v0001"
    assert second.manifest["data_watermark"] == max(d["indexed_at"] for d in later)
    # Resumed from the tuned adapter, so it starts where the first run ended, not from scratch.
    assert second.manifest["eval_loss_before"] < manifest["eval_loss_before"]


def test_no_eligible_samples_is_a_clear_error(data_dir: Path) -> None:
    from codelupe_dagster.training.data import NoEligibleSamples
    from codelupe_dagster.training.trainer import run_training

    index = _code_index(data_dir, stdlib_docs(["json"], per_package=2, quality=0.2))
    with pytest.raises(NoEligibleSamples, match=r"quality_score >= 0.7"):
        run_training(_config(data_dir), index, log=lambda _: None)


def test_time_budget_stops_at_a_step_boundary_then_evaluates_and_publishes(
    data_dir: Path, with_tiny_model
) -> None:
    import dagster as dg

    from codelupe_dagster.assets.train import _metadata
    from codelupe_dagster.training import checkpoints
    from codelupe_dagster.training.trainer import run_training

    with_tiny_model(data_dir)
    index = _code_index(data_dir, stdlib_docs(["json", "email", "http"], per_package=3, max_chars=2000))
    lines: list[str] = []
    # A budget every step overruns: the run stops after its first step, whatever the machine's speed.
    config = _config(data_dir, max_steps=40, max_seconds=1e-6, checkpoint_every=1)
    checkpoint = run_training(config, index, log=lines.append)
    manifest = checkpoint.manifest
    assert manifest["stopped_on"] == "time_budget"
    assert (manifest["steps"], manifest["steps_planned"]) == (1, 40)
    assert manifest["trained_tokens"] < manifest["tokens"]
    assert manifest["eval_loss_after"] is not None and manifest["config"]["max_seconds"] == 1e-6
    assert any("(1/40 steps" in line and "stopped on the time budget" in line for line in lines)
    assert checkpoints.latest_checkpoint(data_dir).version == "v0001"  # a normal, finished checkpoint
    assert not checkpoints.partial_root(
        data_dir
    ).exists()  # stopping inside the budget wrote no mid-run state

    # The UI plots a loss curve from numeric metadata: these are floats and ints whatever JSON gave.
    metadata = _metadata(checkpoint.path, {**manifest, "train_loss": 7, "eval_loss_after": 6})
    for key in ("train_loss", "eval_loss_before", "eval_loss_after", "tokens_per_second"):
        assert isinstance(metadata[key], dg.FloatMetadataValue), key
    assert metadata["train_loss"].value == 7.0
    assert isinstance(metadata["steps"], dg.IntMetadataValue) and metadata["steps"].value == 1
    assert metadata["steps_planned"].value == 40 and metadata["stopped_on"] == "time_budget"
