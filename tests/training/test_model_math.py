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
