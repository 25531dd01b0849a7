"""A checkpoint people can load: the adapter directory holds the tokenizer and a model card built from the
manifest, so `AutoTokenizer` and `AutoPeftModelForCausalLM` take it as it is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from codelupe_dagster.training import checkpoints
from codelupe_dagster.training.model_card import covering_license, front_matter, license_fields, model_card
from tests.support.training_docs import stdlib_docs

# A few seconds of CPU: enough steps that the adapter is not the identity, small enough to train twice.
SETTINGS: dict[str, Any] = dict(
    seq_len=128,
    micro_batch_rows=2,
    tokens_per_step=256,
    epochs=20.0,
    max_steps=12,
    learning_rate=5e-3,
    lora_r=4,
    lora_alpha=8,
    eval_fraction=0.25,
    max_eval_tokens=1024,
    wandb_mode="disabled",
    checkpoint_every=0,
)


def train_tiny_checkpoint(data_dir: Path, tiny_model_source: Path) -> checkpoints.Checkpoint:
    """One short real training run on the session's tiny model (shared with tests/cli/test_model.py)."""
    import torch

    from codelupe_dagster.resources.search import SearchIndexResource
    from codelupe_dagster.training.config import TrainingConfig
    from codelupe_dagster.training.trainer import run_training

    torch.set_num_threads(1)
    shutil.copytree(tiny_model_source, data_dir / "models" / "tiny-qwen2")
    index = SearchIndexResource(data_dir=str(data_dir)).code_index()
    index.ensure()
    docs = stdlib_docs(["json", "email", "http", "logging"], per_package=3, max_chars=2500)
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    return run_training(TrainingConfig(data_dir=data_dir, **SETTINGS), index, log=lambda _: None)


# ---- the model card, from a manifest dict -------------------------------------------------------


def _manifest(**overrides: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "version": "v0007",
        "created_at": "2026-02-03T04:05:06+00:00",
        "base_model": "Qwen/Qwen2.5-Coder-0.5B",
        "base_model_path": "Qwen/Qwen2.5-Coder-0.5B",
        "resumed_from": "v0006",
        "data_watermark": "2026-02-01T00:00:00+00:00",
        "documents": 2953,
        "train_documents": 2800,
        "eval_documents": 153,
        "train_repos": 40,
        "eval_repos": 3,
        "languages": {"python": 2000, "rust": 953},
        "licenses": {"MIT": 2000, "Apache-2.0 OR MIT": 953},
        "policy": {"license_policy": "permissive", "exclude_contaminated": True},
        "tokens": 10_700_000,
        "eval_tokens": 262_144,
        "trained_tokens": 10_600_000,
        "steps": 1313,
        "steps_planned": 1400,
        "stopped_on": "time_budget",
        "train_loss": 7.25,
        "train_loss_first_step": 7.9,
        "eval_loss_before": 7.62,
        "eval_loss_after": 7.41,
        "tokens_per_second": 14_000.5,
        "train_seconds": 760.0,
        "device": "NVIDIA H200",
        "dtype": "bfloat16",
        "trainable_parameters": 8_798_208,
        "git_commit": "abc1234",
        "codelupe_version": "0.1.0",
        "config": {
            "learning_rate": 0.0002,
            "lora_r": 16,
            "lora_alpha": 32,
            "seq_len": 2048,
            "max_steps": None,
        },
    }
    manifest.update(overrides)
    return manifest


def _split(card: str) -> tuple[dict[str, Any], str]:
    assert card.startswith("---\n")
    head, _, body = card[4:].partition("\n---\n")
    return yaml.safe_load(head), body


def test_card_front_matter_is_what_the_hub_reads() -> None:
    meta, body = _split(model_card(_manifest()))
    assert meta["library_name"] == "peft"
    assert meta["base_model"] == "Qwen/Qwen2.5-Coder-0.5B" and meta["base_model_relation"] == "adapter"
    assert meta["license"] == "mit"  # MIT satisfies both `MIT` and `Apache-2.0 OR MIT`
    assert meta["pipeline_tag"] == "text-generation"
    assert {"codelupe", "lora", "peft", "python", "rust"} <= set(meta["tags"])
    merged, merged_body = _split(model_card(_manifest(), merged=True))
    assert merged["library_name"] == "transformers" and merged["base_model_relation"] == "finetune"
    assert "AutoModelForCausalLM.from_pretrained" in merged_body and "AutoPeft" not in merged_body
    assert "AutoPeftModelForCausalLM.from_pretrained" in body and "codelupe model merge v0007" in body


def test_card_body_reports_the_manifest() -> None:
    _, body = _split(model_card(_manifest()))
    for fact in (
        "CodeLupe v0007: LoRA adapter for Qwen/Qwen2.5-Coder-0.5B",
        "2026-02-01T00:00:00+00:00",  # data watermark
        "2,953 (2,800 training, 153 held out)",
        "10,700,000 training",
        "| `python` | 2,000 |",
        "| `Apache-2.0 OR MIT` | 953 |",
        "| held-out loss before training | 7.62 |",
        "| held-out loss after training | 7.41 |",
        "1,313 of 1,400 planned (stopped on the time budget)",
        "| learning_rate | 0.0002 |",
        "| lora_r | 16 |",
        "| max_steps | none |",
        "CodeLupe 0.1.0 (commit abc1234)",
        "Continued from: v0006",
        "NVIDIA H200, bfloat16",
    ):
        assert fact in body, fact
    old = _split(model_card(_manifest(codelupe_version=None, eval_loss_before=None)))[1]
    assert "(version not recorded)" in old and "| held-out loss before training | n/a |" in old


def test_a_local_base_model_is_named_in_the_prose_not_the_front_matter() -> None:
    manifest = _manifest(base_model="local:tiny-qwen2", base_model_path="/data/models/tiny-qwen2")
    meta, body = _split(model_card(manifest))
    assert "base_model" not in meta and "base_model_relation" not in meta
    assert "Base model: `local:tiny-qwen2`" in body
    assert front_matter(_manifest(base_model="/abs/path/model"))["library_name"] == "peft"
    assert "base_model" not in front_matter(_manifest(base_model="/abs/path/model"))


@pytest.mark.parametrize(
    ("licenses", "covering", "fields"),
    [
        ({"MIT": 3}, "MIT", {"license": "mit"}),
        ({"MIT": 3, "MIT OR Apache-2.0": 2}, "MIT", {"license": "mit"}),
        ({"Apache-2.0": 3, "MIT OR Apache-2.0": 2}, "Apache-2.0", {"license": "apache-2.0"}),
        ({"GPL-2.0-only": 1}, "GPL-2.0-only", {"license": "gpl-2.0"}),
        ({"MIT": 3, "Apache-2.0": 2}, None, {"license": "other", "license_name": "training-data-licences"}),
        ({"MIT": 3, "none": 1}, None, {"license": "other", "license_name": "training-data-licences"}),
        ({"MIT AND BSD-3-Clause": 2}, None, {"license": "other", "license_name": "training-data-licences"}),
        ({"MIT": 3, "Apache-2.0": 0}, "MIT", {"license": "mit"}),  # a zero count is no document
        (
            {"PSF-2.0": 5},
            "PSF-2.0",
            {
                "license": "other",
                "license_name": "psf-2.0",
                "license_link": "https://spdx.org/licenses/PSF-2.0.html",
            },
        ),
        ({}, None, {"license": "other", "license_name": "training-data-licences"}),
        ({"MIT OR (": 1}, None, {"license": "other", "license_name": "training-data-licences"}),
    ],
)
def test_license_is_one_covering_spdx_id_else_other(
    licenses: dict[str, int], covering: str | None, fields: dict[str, str]
) -> None:
    assert covering_license(licenses) == covering
    assert license_fields(licenses) == fields


# ---- checkpoints read both layouts --------------------------------------------------------------


def test_tokenizer_dir_is_the_adapter_dir_else_a_legacy_sibling(tmp_path: Path) -> None:
    def checkpoint(version: str, tokenizer_in: str | None) -> checkpoints.Checkpoint:
        root = tmp_path / "checkpoints" / version
        (root / "adapter").mkdir(parents=True)
        if tokenizer_in:
            (root / tokenizer_in).mkdir(exist_ok=True)
            (root / tokenizer_in / "tokenizer_config.json").write_text("{}")
        (root / "manifest.json").write_text(json.dumps({"version": version}))
        return checkpoints.Checkpoint(version, root, {})

    assert checkpoint("v0001", "tokenizer").tokenizer_dir == tmp_path / "checkpoints/v0001/tokenizer"
    assert checkpoint("v0002", "adapter").tokenizer_dir == tmp_path / "checkpoints/v0002/adapter"
    assert checkpoint("v0003", None).tokenizer_dir == tmp_path / "checkpoints/v0003/adapter"


def test_publish_writes_the_card_over_peft_template(tmp_path: Path) -> None:
    staging = checkpoints.staging_dir(tmp_path, "v0001")
    (staging / "adapter").mkdir()
    (staging / "adapter" / "README.md").write_text(
        "---\nlibrary_name: peft\n---\n# Model Card for Model ID\n"
    )
    published = checkpoints.publish(staging, "v0001", _manifest(version="v0001"))
    card = (published.adapter_dir / "README.md").read_text()
    assert "Model Card for Model ID" not in card and "CodeLupe v0001: LoRA adapter" in card


# ---- a real training run --------------------------------------------------------------------------


@pytest.mark.train
def test_trained_adapter_directory_loads_on_its_own(tmp_path: Path, tiny_model_source: Path) -> None:
    torch = pytest.importorskip("torch")
    from peft import AutoPeftModelForCausalLM, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    checkpoint = train_tiny_checkpoint(tmp_path / "data", tiny_model_source)
    adapter_dir = checkpoint.adapter_dir
    assert not (checkpoint.path / "tokenizer").exists()  # no second copy of the tokenizer
    assert checkpoint.tokenizer_dir == adapter_dir

    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))
    reference = AutoTokenizer.from_pretrained(str(tiny_model_source))
    text = "import json\n\ndef load(path):\n    return json.loads(path.read_text())\n"
    assert tokenizer(text)["input_ids"] == reference(text)["input_ids"]

    loaded = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir)).eval()
    base = AutoModelForCausalLM.from_pretrained(checkpoint.manifest["base_model_path"])
    by_hand = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_model_source)).eval()
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        tuned_logits = loaded(input_ids=ids).logits
        assert torch.allclose(tuned_logits, by_hand(input_ids=ids).logits, atol=1e-5)
        # The adapter was trained: it moves the logits away from the base model's.
        assert (tuned_logits - plain(input_ids=ids).logits).abs().max() > 1e-3

    meta, body = _split((adapter_dir / "README.md").read_text())
    assert meta["library_name"] == "peft" and "base_model" not in meta  # local:tiny-qwen2
    assert meta["license"] == "other" and meta["license_name"] == "psf-2.0"  # the stdlib docs' licence
    manifest = checkpoint.manifest
    assert f"{manifest['documents']:,} ({manifest['train_documents']:,} training" in body
    assert f"{manifest['steps']:,} of {manifest['steps_planned']:,} planned" in body
    assert manifest["codelupe_version"] and f"CodeLupe {manifest['codelupe_version']}" in body
