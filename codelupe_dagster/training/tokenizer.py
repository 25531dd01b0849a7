"""A byte-level BPE tokenizer trained on the indexed corpus, for the local tiny model.

No model hub is reachable in tests or air-gapped deployments, yet the trainer must exercise the
real `AutoTokenizer.from_pretrained` path; so the project trains a small tokenizer with `tokenizers`
(byte-level, so any text encodes) and saves it as a Hugging Face tokenizer directory.

The normaliser and pre-tokenizer are exactly Qwen2's. transformers >= 5 loads any tokenizer beside a
`model_type: qwen2` config as `Qwen2Tokenizer`, which keeps the saved vocabulary and merges but
replaces the saved pipeline with its own (NFC, Qwen's split regex, byte-level without regex); a
tokenizer trained with another pre-tokenizer would then be used differently from how it was
trained, and differently under transformers 4 and 5. Trained with Qwen2's pipeline, it tokenizes
the same under both.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"
# transformers' `models/qwen2/tokenization_qwen2.py` PRETOKENIZE_REGEX.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def train_byte_level_bpe(texts: Iterable[str], output_dir: Path, *, vocab_size: int = 2048) -> Path:
    """Train on `texts` and save to `output_dir`; returns the directory."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
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
