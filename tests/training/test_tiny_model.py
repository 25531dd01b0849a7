"""The local tiny model must be trainable under LoRA, and its tokenizer must load as it was trained."""

import math

import pytest

from tests.support.training_docs import stdlib_docs

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")


def test_frozen_output_head_leaves_room_to_learn(tiny_model_source) -> None:
    """LoRA freezes the tied embedding/lm_head and the final RMSNorm, which fixes the last hidden
    state's length at sqrt(hidden); so the head's row lengths bound every logit an adapter can
    produce. At transformers' default init (0.02) that bound is +-1.3 and the loss cannot fall much
    below uniform whatever the adapter learns."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_source))
    head = model.get_output_embeddings().weight.detach()
    assert head.data_ptr() == model.get_input_embeddings().weight.data_ptr()  # tied, as saved
    hidden_length = math.sqrt(model.config.hidden_size)  # RMSNorm output with its weight at 1
    assert torch.all(model.model.norm.weight == 1.0)
    logit_bound = hidden_length * head.norm(dim=1)
    assert float(logit_bound.median()) > 3.0
    assert float(logit_bound.min()) > 2.0  # the EOS/pad row too: EOS must stay predictable


def test_tokenizer_loads_as_it_was_trained(tiny_model_source) -> None:
    """transformers >= 5 loads a tokenizer beside a qwen2 config as `Qwen2Tokenizer`, whose own
    pipeline replaces the saved one; the trained tokenizer must encode the same either way."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(str(tiny_model_source))
    trained = Tokenizer.from_file(str(tiny_model_source / "tokenizer.json"))
    assert len(loaded) == trained.get_vocab_size()
    for doc in stdlib_docs(["json", "importlib"], per_package=3, max_chars=3000):
        text = doc["content"]
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert ids == trained.encode(text, add_special_tokens=False).ids
        assert loaded.decode(ids) == text
