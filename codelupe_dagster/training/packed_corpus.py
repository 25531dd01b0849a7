"""A training run's corpus: selected under the training policy, tokenized, packed into `seq_len` rows
and planned into optimizer steps and eval batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.packing import PackedRow, pack_documents
from codelupe_dagster.training.config import TrainingConfig
from codelupe_dagster.training.data import (
    CorpusSelection,
    DocumentSource,
    select_corpus,
    tokenize_documents,
)
from codelupe_dagster.training.schedule import (
    MicroBatch,
    Step,
    bounded_rows,
    plan_micro_batches,
    plan_steps,
)
from codelupe_dagster.training.tracking import Log


@dataclass(frozen=True)
class PackedData:
    """The corpus as packed rows, and the rows grouped into optimizer steps and eval batches."""

    train_rows: list[PackedRow]
    eval_rows: list[PackedRow]
    steps: list[Step]
    eval_batches: list[MicroBatch]


def select_training_corpus(config: TrainingConfig, source: DocumentSource, log: Log) -> CorpusSelection:
    """Eligible, unique documents split by repository (raises NoEligibleSamples when there are none)."""
    selection = select_corpus(
        source,
        min_quality=config.min_quality,
        max_documents=config.max_documents,
        eval_fraction=config.eval_fraction,
        policy=ConsumerPolicy.from_settings("training", config.license_policy, config.include_contaminated),
    )
    if selection.excluded:
        left_out = ", ".join(f"{n} for {reason}" for reason, n in sorted(selection.excluded.items()))
        log(f"training policy ({selection.policy['license_policy']} licences) left out {left_out}")
    log(
        f"selected {len(selection.train)} training and {len(selection.eval)} held-out documents "
        f"({selection.train_repos}/{selection.eval_repos} repositories), watermark {selection.watermark}"
    )
    return selection


def pack_corpus(config: TrainingConfig, tokenizer: Any, selection: CorpusSelection) -> PackedData:
    """Tokenize, pack into `seq_len` rows and plan the optimizer steps; evaluation is token-bounded."""
    train_docs = tokenize_documents(tokenizer, selection.train, shuffle_seed=config.seed)
    train_rows = list(pack_documents(train_docs, config.seq_len))
    eval_docs = tokenize_documents(tokenizer, selection.eval)
    eval_rows = bounded_rows(pack_documents(eval_docs, config.seq_len), config.max_eval_tokens)
    steps = plan_steps(
        plan_micro_batches(train_rows, config.micro_batch_rows),
        accumulation=config.grad_accumulation,
        epochs=config.epochs,
        max_steps=config.max_steps,
        seed=config.seed,
    )
    if not steps:
        raise RuntimeError("the training split has no tokens to train on")
    return PackedData(
        train_rows=train_rows,
        eval_rows=eval_rows,
        steps=steps,
        eval_batches=plan_micro_batches(eval_rows, config.micro_batch_rows),
    )
