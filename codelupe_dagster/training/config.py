"""Every knob of a training run in one frozen dataclass, so a run is reproducible from its manifest.

Pure: no torch import, so the Dagster layer can build and validate a config without the [train]
extra installed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TINY_MODEL = "local:tiny-qwen2"

# Knobs that change neither which tokens a step trains on nor the update it makes, so a run resumed from a
# mid-run checkpoint may change them (say gradient checkpointing on after running out of memory).
PLAN_INDEPENDENT = frozenset(
    {
        "data_dir",
        "attn_implementation",
        "compile",
        "sharding",  # both modes sum the same gradients, and their mid-run checkpoints are alike
        "gradient_checkpointing",
        "loss_chunk_tokens",
        "use_liger",
        "loss",
        "checkpoint_every",
        "max_seconds",
        "wandb_mode",
        "wandb_project",
        "log_every",
        "extra",
    }
)

# How a packed micro-batch reaches each attention implementation (training/model.py says why):
# "rows" keeps [rows, seq_len] and lets transformers build a block-diagonal mask from the position-id
# resets; "varlen" flattens the micro-batch into one row with explicit cu_seq_lens. Any other
# implementation is refused: nothing shows it keeps packed documents apart.
PACKED_ATTENTION = {
    "sdpa": "rows",
    "eager": "rows",
    "flex_attention": "rows",
    "flash_attention_2": "varlen",
    "flash_attention_3": "varlen",
}
DEFAULT_ATTENTION = "sdpa"
LOSS_IMPLEMENTATIONS = ("auto", "liger", "chunked")
# TRAIN_SHARDING (training/sharding.py): the base model replicated on every rank, sharded with FSDP2, or
# auto: sharded when its weights and activations would not fit one GPU.
SHARDING_MODES = ("auto", "replicate", "fsdp")


@dataclass(frozen=True)
class TrainingConfig:
    data_dir: Path
    base_model: str = TINY_MODEL
    # Data
    min_quality: float = 0.7
    max_documents: int = 100_000
    license_policy: str = "permissive"  # LICENSE_POLICY: permissive | any | list:<spdx,...>
    include_contaminated: bool = False  # True trains on documents that overlap an evaluation set
    eval_fraction: float = 0.05  # share of *repositories* held out, decided by a hash of the name
    max_eval_tokens: int = 262_144  # evaluation cost stays bounded whatever the corpus size
    seq_len: int = 2048
    # Optimisation
    micro_batch_rows: int = 4
    tokens_per_step: int = 65_536  # gradient accumulation fills this many tokens per optimizer step
    epochs: float = 1.0
    max_steps: int | None = None
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.1  # cosine decays to this fraction of the peak, not to zero
    max_grad_norm: float = 1.0
    seed: int = 0
    # LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: tuple[str, ...] | str = "all-linear"
    # Speed
    attn_implementation: str | None = None  # None: sdpa; one of PACKED_ATTENTION
    compile: bool = False
    gradient_checkpointing: bool = False
    # auto: Liger's fused linear cross-entropy on CUDA when installed, else the own chunked loss
    loss: str = "auto"
    # The chunked loss runs this many tokens at a time; None sizes it from vocabulary and hidden size.
    loss_chunk_tokens: int | None = None
    use_liger: bool = False
    sharding: str = "auto"  # TRAIN_SHARDING: auto | replicate | fsdp (launched runs only)
    # Continuity and logging
    resume: bool = True
    wandb_mode: str | None = None  # None: online if WANDB_API_KEY is set, else offline
    wandb_project: str = "codelupe"
    log_every: int = 10
    checkpoint_every: int = 200  # CHECKPOINT_EVERY: resumable mid-run state every N optimizer steps; 0: none
    max_seconds: float | None = None  # TRAIN_MAX_SECONDS: stop at the first step boundary past this budget
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.eval_fraction < 1.0:
            problems.append(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
        if self.seq_len < 16:
            problems.append(f"seq_len must be at least 16, got {self.seq_len}")
        if self.micro_batch_rows < 1:
            problems.append(f"micro_batch_rows must be at least 1, got {self.micro_batch_rows}")
        if self.tokens_per_step < self.seq_len * self.micro_batch_rows:
            problems.append(
                f"tokens_per_step ({self.tokens_per_step}) is smaller than one micro-batch "
                f"({self.micro_batch_rows} x {self.seq_len})"
            )
        if self.max_documents < 1:
            problems.append(f"max_documents must be positive, got {self.max_documents}")
        if self.lora_r < 1:
            problems.append(f"lora_r must be positive, got {self.lora_r}")
        if self.checkpoint_every < 0:
            problems.append(f"checkpoint_every must be 0 (off) or positive, got {self.checkpoint_every}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            problems.append(f"max_seconds must be positive (or unset), got {self.max_seconds}")
        problems.extend(self._speed_problems())
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))

    def _speed_problems(self) -> list[str]:
        problems = []
        attention = self.attn_implementation or DEFAULT_ATTENTION
        if attention not in PACKED_ATTENTION:
            problems.append(
                f"attn_implementation {attention!r} is not known to keep packed documents apart; "
                f"use one of {', '.join(sorted(PACKED_ATTENTION))}"
            )
        if self.loss not in LOSS_IMPLEMENTATIONS:
            problems.append(f"loss must be one of {', '.join(LOSS_IMPLEMENTATIONS)}, got {self.loss!r}")
        if self.sharding not in SHARDING_MODES:
            problems.append(f"sharding must be one of {', '.join(SHARDING_MODES)}, got {self.sharding!r}")
        if self.loss_chunk_tokens is not None and self.loss_chunk_tokens < 1:
            problems.append(f"loss_chunk_tokens must be positive, got {self.loss_chunk_tokens}")
        return problems

    @property
    def grad_accumulation(self) -> int:
        return max(1, self.tokens_per_step // (self.seq_len * self.micro_batch_rows))

    def plan_settings(self) -> dict[str, Any]:
        """The settings a mid-run checkpoint must share with the run that resumes it."""
        return {k: v for k, v in self.to_manifest().items() if k not in PLAN_INDEPENDENT}

    def to_manifest(self) -> dict[str, Any]:
        values = asdict(self)
        values["data_dir"] = str(self.data_dir)
        if isinstance(self.lora_target_modules, tuple):
            values["lora_target_modules"] = list(self.lora_target_modules)
        return values
