"""`local:tiny-qwen2`: a small Qwen2-architecture model with random weights, built on first use.

It lets the embedded default and the tests run the whole training path — tokenizer and model
loaded through `from_pretrained`, LoRA, packing, checkpoints — on a CPU in seconds. The directory
is written to a staging path and renamed, so two processes building it at once cannot leave a
half-written model behind.

Its tied embedding, which is also the output head, is drawn at a larger scale than transformers'
`initializer_range` (0.02). LoRA freezes that matrix and the final RMSNorm, and the norm fixes the
last hidden state's length at sqrt(hidden_size) = 8, so every logit is bounded by 8 x |row| of the
head. At 0.02 a row's length is 0.16: no logit can leave +-1.3, and the best loss any adapter can
reach is barely 0.1 nat below uniform (6.84 against ln 1024 = 6.93 on the test corpus), so training
could not show that it learns. At HEAD_STD the initial logits have a standard deviation of 0.5 and
an adapter can move a logit by up to +-4.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from codelupe_dagster.training.config import TINY_MODEL
from codelupe_dagster.training.tokenizer import EOS_TOKEN, train_byte_level_bpe

TINY_SHAPE = {
    "hidden_size": 64,
    "intermediate_size": 176,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}
HEAD_STD = 0.5 / TINY_SHAPE["hidden_size"] ** 0.5


def tiny_model_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models" / "tiny-qwen2"


def ensure_tiny_model(
    data_dir: Path, corpus: Iterable[str], *, vocab_size: int = 2048, seed: int = 0
) -> Path:
    """The tiny model's directory, building it (tokenizer trained on `corpus`) if it is missing."""
    final = tiny_model_dir(data_dir)
    if (final / "config.json").is_file():
        return final
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    staging = final.parent / f".tiny-qwen2.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        texts = [text for text in corpus if text]
        if not texts:
            raise ValueError("cannot build the tiny model's tokenizer without any text")
        train_byte_level_bpe(texts, staging, vocab_size=vocab_size)
        tokenizer = AutoTokenizer.from_pretrained(str(staging))
        eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
        config = Qwen2Config(
            vocab_size=len(tokenizer),
            bos_token_id=eos_id,
            eos_token_id=eos_id,
            pad_token_id=eos_id,
            tie_word_embeddings=True,
            rope_theta=10_000.0,
            **TINY_SHAPE,
        )
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
        with torch.no_grad():
            # Every row, the EOS/pad row too: a zero row would pin the EOS logit at 0 for good.
            model.get_input_embeddings().weight.normal_(0.0, HEAD_STD)
        if model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
            raise RuntimeError("the tiny model's lm_head is not tied to its embedding")
        model.save_pretrained(str(staging))
        try:
            staging.rename(final)
        except OSError:
            if not (final / "config.json").is_file():
                raise  # not a lost race: a real failure
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def resolve_base_model(spec: str, data_dir: Path, corpus: Iterable[str]) -> str:
    """A path or hub id for `from_pretrained`: the tiny model is built locally, anything else passes."""
    if spec == TINY_MODEL:
        return str(ensure_tiny_model(data_dir, corpus))
    if spec.startswith("local:"):
        raise ValueError(f"unknown local model {spec!r}; the only local model is {TINY_MODEL!r}")
    return spec
