"""The two pieces the trainer's speed rests on must not change the maths: packed attention equals
running each document alone, and the chunked cross-entropy equals the plain one (value and grads)."""

import numpy as np
import pytest

from codelupe_dagster.core.packing import pack_documents, stack_rows

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")


def test_packed_row_matches_documents_run_alone(tiny_model_source) -> None:
    from transformers import AutoModelForCausalLM

    from codelupe_dagster.training.model import backbone_and_head, decoder_hidden_states, to_device_batch

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_source), attn_implementation="sdpa").eval()
    backbone, _ = backbone_and_head(model)
    rng = np.random.default_rng(0)
    docs = [rng.integers(1, 500, size=n).tolist() for n in (7, 12, 5)]
    (row,) = pack_documents(docs, 24)
    with torch.no_grad():
        batch = to_device_batch(stack_rows([row]), torch.device("cpu"))
        packed = decoder_hidden_states(backbone, batch["input_ids"], batch["position_ids"])[0]
        offset = 0
        for doc in docs:
            alone = backbone(input_ids=torch.tensor(doc)[None]).last_hidden_state[0]
            torch.testing.assert_close(packed[offset : offset + len(doc)], alone, atol=1e-5, rtol=1e-4)
            offset += len(doc)
        # Control: without the position resets the later documents do see earlier ones.
        plain_positions = torch.arange(len(row))[None]
        unpacked = decoder_hidden_states(backbone, batch["input_ids"], plain_positions)[0]
        assert not torch.allclose(unpacked[7:19], packed[7:19], atol=1e-3)


@pytest.mark.parametrize("chunk", [3, 64])
def test_chunked_cross_entropy_matches_reference(chunk: int) -> None:
    from codelupe_dagster.training.loss import IGNORE_INDEX, chunked_cross_entropy_sum

    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 9, 16, generator=generator, requires_grad=True)
    weight = torch.randn(50, 16, generator=generator, requires_grad=True)
    labels = torch.randint(0, 50, (2, 9), generator=generator)
    labels[0, 4] = IGNORE_INDEX
    labels[1, 0] = IGNORE_INDEX

    loss, count = chunked_cross_entropy_sum(hidden, weight, labels, chunk_tokens=chunk)
    (loss * 0.5).backward()
    grad_hidden, grad_weight = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None

    logits = hidden[:, :-1] @ weight.T
    reference = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 50), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    (reference * 0.5).backward()
    assert count == 15  # 16 predicted positions, one ignored
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(grad_hidden, hidden.grad)
    torch.testing.assert_close(grad_weight, weight.grad)


@pytest.mark.parametrize("chunk", [1, 4, 7, 16, None])
def test_chunked_cross_entropy_matches_plain_cross_entropy_per_chunk_size(chunk: int | None) -> None:
    """Float64 so the comparison is exact to 1e-6 whatever the chunking; None sizes the chunk itself."""
    from codelupe_dagster.training.loss import IGNORE_INDEX, chunked_cross_entropy_sum

    generator = torch.Generator().manual_seed(1)
    hidden = torch.randn(3, 11, 8, generator=generator, dtype=torch.float64)
    weight = torch.randn(40, 8, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 40, (3, 11), generator=generator)
    labels[:, 0] = IGNORE_INDEX
    labels[2, 5] = IGNORE_INDEX
    loss, count = chunked_cross_entropy_sum(hidden, weight, labels, chunk_tokens=chunk)
    reference = torch.nn.functional.cross_entropy(
        (hidden[:, :-1] @ weight.T).reshape(-1, 40),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    assert count == 3 * 10 - 1
    torch.testing.assert_close(loss.double(), reference, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(
    ("vocab", "hidden", "tokens"),
    [
        (152_064, 3_584, 384),  # Qwen2.5-7B: 431 fit in 256 MiB, rounded down to a multiple of 64
        (151_936, 896, 384),  # Qwen2.5-0.5B
        (1_024, 64, 61_632),  # the tiny model: a whole micro-batch in one chunk
        (4_000_000, 8_192, 64),  # never below one tile, even past the budget
    ],
)
def test_loss_chunk_is_sized_from_vocabulary_and_hidden_size(vocab: int, hidden: int, tokens: int) -> None:
    from codelupe_dagster.training.loss import LOSS_CHUNK_BYTES, loss_chunk_tokens

    assert loss_chunk_tokens(vocab, hidden) == tokens
    if tokens > 64:
        assert tokens * (vocab + hidden) * 4 <= LOSS_CHUNK_BYTES
        assert (tokens + 64) * (vocab + hidden) * 4 > LOSS_CHUNK_BYTES


def test_loss_chunk_defaults_to_the_sized_chunk_and_honours_a_user_setting(monkeypatch) -> None:
    from codelupe_dagster.training import loss as loss_module

    seen: list[int] = []
    original = loss_module._ChunkedLinearCrossEntropy.apply
    monkeypatch.setattr(
        loss_module._ChunkedLinearCrossEntropy,
        "apply",
        lambda h, w, y, chunk: seen.append(chunk) or original(h, w, y, chunk),
    )
    hidden, weight = torch.randn(1, 5, 64), torch.randn(1_024, 64)
    labels = torch.randint(0, 1_024, (1, 5))
    loss_module.chunked_cross_entropy_sum(hidden, weight, labels)
    loss_module.chunked_cross_entropy_sum(hidden, weight, labels, chunk_tokens=3)
    assert seen == [61_632, 3]


@pytest.mark.parametrize(
    ("requested", "device", "installed", "chosen"),
    [
        ("auto", "cuda", True, "liger"),
        ("auto", "cuda", False, "chunked"),
        ("auto", "cpu", True, "chunked"),
        ("auto", "cpu", False, "chunked"),
        ("liger", "cuda", True, "liger"),
        ("chunked", "cuda", True, "chunked"),
        ("chunked", "cpu", False, "chunked"),
    ],
)
def test_loss_selection(requested: str, device: str, installed: bool, chosen: str) -> None:
    from codelupe_dagster.training.loss import choose_loss

    assert choose_loss(requested, device, liger_installed=installed) == chosen


@pytest.mark.parametrize(
    ("device", "installed", "why"), [("cuda", False, "not installed"), ("cpu", True, "needs CUDA")]
)
def test_asking_for_liger_where_it_cannot_run_fails(device: str, installed: bool, why: str) -> None:
    from codelupe_dagster.training.loss import choose_loss

    with pytest.raises(RuntimeError, match=why):
        choose_loss("liger", device, liger_installed=installed)
    with pytest.raises(ValueError, match="unknown loss"):
        choose_loss("fused", device, liger_installed=installed)
