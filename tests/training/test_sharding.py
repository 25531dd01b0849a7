"""TRAIN_SHARDING=auto shards exactly when the base model's weights and activations would not fit a GPU's
budget; explicit modes are taken as set; pads keep every rank at the same number of forwards."""

from __future__ import annotations

import pytest

from codelupe_dagster.training import sharding
from codelupe_dagster.training.sharding import ModelShape

GIB = 2**30
# Qwen2.5-Coder-7B (7.6e9 parameters, hidden 3584, 28 layers) and -0.5B (0.49e9, 896, 24).
SEVEN_B = ModelShape(parameters=7_615_616_512, hidden_size=3584, layers=28)
HALF_B = ModelShape(parameters=494_032_768, hidden_size=896, layers=24)
H200 = 141 * GIB
A10 = 24 * GIB
V100 = 16 * GIB


@pytest.mark.parametrize(
    ("mode", "device", "world", "shape", "memory", "checkpointing", "expected"),
    [
        ("replicate", "cuda", 8, SEVEN_B, A10, False, "replicate"),  # as set, even where it will not fit
        ("fsdp", "cpu", 2, None, None, False, "fsdp"),  # as set: the CPU tests shard on gloo
        ("auto", "cpu", 2, SEVEN_B, None, False, "replicate"),  # a CPU is never the limit
        ("auto", "cuda", 1, SEVEN_B, A10, False, "replicate"),  # one process: nothing to shard over
        ("auto", "cuda", 2, HALF_B, A10, False, "replicate"),  # 1 GiB of weights fits a 24 GiB card
        ("auto", "cuda", 2, SEVEN_B, A10, False, "fsdp"),  # 14 GiB of weights + 26 GiB of activations
        ("auto", "cuda", 2, SEVEN_B, A10, True, "replicate"),  # checkpointed: 14 + 1.5 < 0.8 x 24 GiB
        ("auto", "cuda", 2, SEVEN_B, V100, True, "fsdp"),  # but not < 0.8 x 16 GiB
        ("auto", "cuda", 2, SEVEN_B, H200, False, "replicate"),  # 14 + 26 GiB fit 0.8 x 141 GiB
        ("auto", "cuda", 2, None, H200, False, "replicate"),  # nothing to compare: the old behaviour
    ],
)
def test_choose(mode, device, world, shape, memory, checkpointing, expected) -> None:
    choice = sharding.choose(
        mode,
        device_type=device,
        world_size=world,
        shape=shape,
        tokens=4 * 2048,
        gradient_checkpointing=checkpointing,
        device_memory_bytes=memory,
    )
    assert choice.mode == expected and choice.reason


def test_the_boundary_is_the_memory_fraction() -> None:
    """Just under the budget replicates, just over shards."""
    shape = ModelShape(parameters=1_000_000_000, hidden_size=1024, layers=10)
    need = 2 * shape.parameters + sharding.activation_bytes(shape, 1024, gradient_checkpointing=False)
    memory = int(need / sharding.MEMORY_FRACTION)
    common = dict(device_type="cuda", world_size=2, shape=shape, tokens=1024, gradient_checkpointing=False)
    assert sharding.choose("auto", device_memory_bytes=memory + 10, **common).mode == "replicate"
    assert sharding.choose("auto", device_memory_bytes=memory - 10, **common).mode == "fsdp"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="TRAIN_SHARDING must be one of auto, replicate, fsdp"):
        sharding.choose(
            "zero3",
            device_type="cuda",
            world_size=2,
            shape=None,
            tokens=1,
            gradient_checkpointing=False,
            device_memory_bytes=None,
        )


@pytest.mark.parametrize(
    ("items", "world", "expected"),
    [
        # Even: no pads, round-robin as the replicated path shards.
        ("abcd", 2, [[("a", True), ("c", True)], [("b", True), ("d", True)]]),
        # A short last step: rank 1 runs a pad (the first item, not counted) so both run two forwards.
        ("abc", 2, [[("a", True), ("c", True)], [("b", True), ("a", False)]]),
        # Fewer items than ranks.
        ("a", 3, [[("a", True)], [("a", False)], [("a", False)]]),
    ],
)
def test_padded_share(items, world, expected) -> None:
    shares = [sharding.padded_share(list(items), rank, world) for rank in range(world)]
    assert shares == expected
    assert sorted(item for share in shares for item, counts in share if counts) == sorted(items)


def test_model_shape_counts_parameters_without_loading_weights(tmp_path) -> None:
    pytest.importorskip("torch")
    from transformers import Qwen2Config

    config = Qwen2Config(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    config.save_pretrained(tmp_path)  # a config and no weights: only the meta device can count them
    shape = sharding.model_shape(str(tmp_path))
    # tied embedding + per layer: q, k, v (with biases), o, three MLP projections, two norms; final norm
    per_layer = 64 * 64 + 64 + 2 * (64 * 32 + 32) + 64 * 64 + 3 * 64 * 176 + 2 * 64
    assert shape == ModelShape(parameters=512 * 64 + 3 * per_layer + 64, hidden_size=64, layers=3)
