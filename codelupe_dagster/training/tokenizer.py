"""A byte-level BPE tokenizer trained on the indexed corpus, for the local tiny model.

No model hub is reachable in tests or air-gapped deployments, yet the trainer must exercise the
real `AutoTokenizer.from_pretrained` path; so the project trains a small tokenizer with `tokenizers`
(byte-level, like Qwen's, so any text round-trips) and saves it as a Hugging Face tokenizer
directory.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"


def train_byte_level_bpe(texts: Iterable[str], output_dir: Path, *, vocab_size: int = 2048) -> Path:
    """Train on `texts` and save to `output_dir`; returns the directory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],
        # Every byte is in the alphabet, so unseen characters still encode (no unknown token).
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS_TOKEN, pad_token=EOS_TOKEN)
    output_dir.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(output_dir))
    return output_dir
