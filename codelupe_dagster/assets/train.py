"""`qwen_checkpoint`: a LoRA adapter trained on the best indexed code, continuing from the last one.

Thin on purpose: the trainer (codelupe_dagster.training) does the work and is imported inside the
asset body, so the code location loads without torch. With TRAIN_GPUS above 1 (by default: every
visible GPU) the asset launches one process per GPU under torchrun, forwards their log lines and reads
rank 0's checkpoint and manifest back (`training/distributed.py`); with one it trains in process.
"""

from typing import Any

import dagster as dg

from codelupe_dagster.backends.search import Filters
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.search import SearchIndexResource
from codelupe_dagster.resources.training import TrainingResource
from codelupe_dagster.stages.training_samples import RedactedSamples

DATA_CHECK = "training_data_nonempty_and_deduplicated"
# Typed explicitly so the UI plots them across materializations (loss curves), whatever the JSON gave.
FLOAT_METADATA = (
    "train_loss",
    "train_loss_first_step",
    "eval_loss_before",
    "eval_loss_after",
    "tokens_per_second",
    "train_seconds",
    "wall_seconds",
)
INT_METADATA = (
    "steps",
    "steps_planned",
    "tokens",
    "trained_tokens",
    "eval_tokens",
    "documents",
    "world_size",
)


class QwenCheckpointConfig(dg.Config):
    learning_rate: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = []  # empty: every linear projection ("all-linear")
    # None picks by model: a hub model trains at 2048 x 64k tokens per step; the local CPU model at
    # 512 x 8k, so a laptop run takes many small steps and its held-out loss visibly moves.
    seq_len: int | None = None
    micro_batch_rows: int = 4
    tokens_per_step: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    warmup_ratio: float = 0.05
    eval_fraction: float = 0.05
    compile: bool = False
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    use_liger: bool = False
    loss: str = "auto"  # auto: Liger's fused loss on CUDA when installed, else the chunked one
    loss_chunk_tokens: int | None = None  # None: sized from the model's vocabulary and hidden size
    resume: bool = True
    seed: int = 0


def _training_config(config: QwenCheckpointConfig, training: TrainingResource) -> Any:
    from codelupe_dagster.training.config import TrainingConfig

    local = training.base_model.startswith("local:")
    sizes = {
        "seq_len": config.seq_len or (512 if local else 2048),
        "tokens_per_step": config.tokens_per_step or (8_192 if local else 65_536),
    }
    return TrainingConfig(
        data_dir=training.data_path(),
        base_model=training.base_model,
        min_quality=training.min_quality,
        max_documents=training.max_documents,
        license_policy=training.license_policy,
        include_contaminated=training.include_contaminated,
        wandb_mode=training.wandb_mode,
        checkpoint_every=training.checkpoint_every,
        max_seconds=training.max_seconds,
        sharding=training.sharding,
        lora_target_modules=tuple(config.lora_target_modules) or "all-linear",
        **sizes,
        **config.model_dump(exclude={"lora_target_modules", "seq_len", "tokens_per_step"}),
    )


@dg.asset(
    deps=["es_code_index"],
    pool="gpu",
    group_name="training",
    kinds={"pytorch"},
    check_specs=[
        dg.AssetCheckSpec(
            DATA_CHECK,
            asset="qwen_checkpoint",
            blocking=True,
            description="Blocking, after each training run: the run trained on at least one document, "
            "each once by id and by content, and no repository is in both the train and eval splits.",
        )
    ],
)
def qwen_checkpoint(
    context: dg.AssetExecutionContext,
    config: QwenCheckpointConfig,
    search: SearchIndexResource,
    training: TrainingResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """LoRA adapter on documents with quality_score >= TRAIN_MIN_QUALITY, newest first, redacted again on
    their way to the trainer (secrets, and the personal data of PII_REDACT)."""
    index = search.code_index()
    min_quality = training.min_quality
    eligible = index.count(Filters(min_quality=min_quality))
    if eligible == 0:
        # Fail before loading torch and a model: the cause is upstream, say so plainly.
        raise dg.Failure(
            description=(
                f"No eligible training samples: the code index has no documents with "
                f"quality_score >= {min_quality}. Index some code first or lower TRAIN_MIN_QUALITY."
            )
        )
    from codelupe_dagster.training import distributed
    from codelupe_dagster.training.data import NoEligibleSamples
    from codelupe_dagster.training.progress import every, listening
    from codelupe_dagster.training.trainer import run_training

    samples = RedactedSamples(index, pipeline.pii_kinds())
    training_config = _training_config(config, training)
    world_size = distributed.resolve_world_size(training.train_gpus)
    try:
        distributed.check_shardable(training_config, world_size)
    except ValueError as exc:
        raise dg.Failure(description=f"TRAIN_GPUS={world_size}: {exc}") from exc
    # Step lines for the run's log, whether the trainer runs here or rank 0 of a launched run reports them.
    log_steps = every(training_config.log_every, lambda step: context.log.info(step.line()))
    try:
        with listening(log_steps):  # a launched run's steps are reported here by the launcher
            if world_size > 1:
                checkpoint = distributed.launch(
                    training_config, samples, world_size, log=context.log.info, warn=context.log.warning
                )
            else:
                checkpoint = run_training(
                    training_config, samples, log=context.log.info, warn=context.log.warning
                )
    except NoEligibleSamples as exc:
        raise dg.Failure(description=f"No eligible training samples: {exc}") from exc
    except distributed.DistributedTrainingFailed as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info(samples.summary())
    metadata = _metadata(checkpoint.path, checkpoint.manifest)
    metadata["secrets_redacted"] = dg.MetadataValue.json(dict(sorted(samples.tally.secrets.items())))
    metadata["pii_redacted"] = dg.MetadataValue.json(dict(sorted(samples.tally.pii.items())))
    return dg.MaterializeResult(metadata=metadata, check_results=[_data_check(checkpoint.manifest)])


def _data_check(manifest: dict[str, Any]) -> dg.AssetCheckResult:
    """Blocking: the run saw documents, each once by id and by content, and no repo in both splits."""
    checks = manifest["data_checks"]
    passed = (
        manifest["documents"] > 0
        and checks["unique_ids"] == manifest["documents"]
        and checks["unique_contents"] == manifest["documents"]
        and checks["repos_in_both_splits"] == 0
    )
    return dg.AssetCheckResult(
        check_name=DATA_CHECK,
        passed=passed,
        metadata={
            "documents": manifest["documents"],
            "duplicates_dropped": manifest["duplicates_dropped"],
            **checks,
        },
    )


def _metadata(path: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    # Every other number typed by its Python type, so no numeric key reaches the UI as text.
    scalars = {
        key: _scalar(value)
        for key, value in manifest.items()
        if isinstance(value, int | float | str) and not isinstance(value, bool)
    }
    numbers = {
        **{
            key: dg.MetadataValue.float(float(manifest[key]))
            for key in FLOAT_METADATA
            if manifest.get(key) is not None
        },
        **{
            key: dg.MetadataValue.int(int(manifest[key]))
            for key in INT_METADATA
            if manifest.get(key) is not None
        },
    }
    return {
        **scalars,
        **numbers,
        "resumed_at_steps": dg.MetadataValue.json(list(manifest.get("resumed_at_steps") or [])),
        "loss_curve": _loss_curve_table(manifest.get("loss_curve") or []),
        "path": dg.MetadataValue.path(str(path)),
        "languages": manifest["languages"],
        # What the training policy admitted (per licence) and left out (per reason), and the policy itself.
        "licenses": dg.MetadataValue.json(manifest.get("licenses", {})),
        "excluded_by_policy": dg.MetadataValue.json(manifest.get("excluded", {})),
        "policy": dg.MetadataValue.json(manifest.get("policy", {})),
    }


def _scalar(value: float | str) -> Any:
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    return value


LOSS_CURVE_SCHEMA = dg.TableSchema(columns=[dg.TableColumn("step", "int"), dg.TableColumn("loss", "float")])


def _loss_curve_table(points: list[dict[str, Any]]) -> dg.TableMetadataValue:
    """The manifest's loss curve (at most 200 points) as a typed table: step ints, loss floats."""
    records = [dg.TableRecord({"step": int(p["step"]), "loss": float(p["loss"])}) for p in points]
    return dg.MetadataValue.table(records, schema=LOSS_CURVE_SCHEMA)


training_job = dg.define_asset_job("qwen_training_job", selection=[qwen_checkpoint])

# The "training" resource comes from `resources.default_resources()`, filled from the environment.
defs = dg.Definitions(assets=[qwen_checkpoint], jobs=[training_job])
