"""Packed micro-batches never attend across documents, on every attention path the trainer accepts.

Each path runs the trainer's own micro-batch → inputs → decoder code (`packed_inputs`,
`decoder_hidden_states`, `micro_batch_loss`) on rows of several documents, one of them split across a
row end, and must give the logits of every segment run alone, at micro-batch sizes 1 and 4.
FlashAttention cannot run on a CPU: its path goes through transformers' real flash dispatch
(`_flash_attention_forward`) with a reference kernel in place of flash-attn, which checks that our
inputs reach the varlen kernel with the right boundaries; the kernel itself is checked on a GPU.
"""

import itertools

import numpy as np
import pytest

from codelupe_dagster.core.packing import PackedRow, pack_documents, stack_rows

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")

SEQ_LEN = 24
# 8 rows of 24: documents straddle row ends and one (30) is longer than a row.
DOC_LENGTHS = (7, 12, 14, 3, 11, 30, 1, 6, 17, 8, 20, 25, 9, 13, 6, 14)


@pytest.fixture(scope="module")
def packed_rows() -> list[PackedRow]:
    rng = np.random.default_rng(0)
    docs = [rng.integers(1, 500, size=n).tolist() for n in DOC_LENGTHS]
    rows = list(pack_documents(docs, SEQ_LEN, drop_last_partial=True))
    assert len(rows) >= 8
    assert any(len(row.segment_lengths) == 1 for row in rows)  # a document filling a whole row
    return rows[:8]


def _segments_alone(model, row: PackedRow) -> list[torch.Tensor]:
    """The logits of each of `row`'s segments run alone (batch of one, no packing)."""
    starts = np.cumsum([0, *row.segment_lengths[:-1]])
    with torch.no_grad():
        return [
            model(input_ids=torch.from_numpy(row.input_ids[s : s + n])[None], use_cache=False).logits[0]
            for s, n in zip(starts, row.segment_lengths, strict=True)
        ]


def _causal_lm(source, attn: str):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(source), attn_implementation=attn).eval()
    assert model.config.attention_dropout == 0.0
    return model


@pytest.fixture(scope="module")
def alone_logits(tiny_model_source, packed_rows) -> list[list[torch.Tensor]]:
    """Per row, per segment: the logits of that segment run alone (eager, batch of one, no packing)."""
    model = _causal_lm(tiny_model_source, "eager")
    return [_segments_alone(model, row) for row in packed_rows]


def _packed_logits(model, rows: list[PackedRow], attn: str) -> torch.Tensor:
    """Logits [tokens of all rows, vocab] through the trainer's input layout for `attn`."""
    from codelupe_dagster.training.model import (
        VARLEN_KEYS,
        backbone_and_head,
        decoder_hidden_states,
        packed_inputs,
    )

    backbone, head = backbone_and_head(model)
    batch = packed_inputs(rows, torch.device("cpu"), attn)
    attention = {key: batch[key] for key in VARLEN_KEYS if key in batch}
    with torch.no_grad():
        hidden = decoder_hidden_states(backbone, batch["input_ids"], batch["position_ids"], **attention)
    return (hidden @ head.T).reshape(-1, head.shape[0])


def _assert_matches_alone(packed: torch.Tensor, rows, alone: list[list[torch.Tensor]]) -> None:
    expected = torch.cat([segment for per_row in alone for segment in per_row])
    assert packed.shape == expected.shape
    torch.testing.assert_close(packed, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rows_per_batch", [1, 4])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_logits_equal_documents_alone(
    tiny_model_source, packed_rows, alone_logits, attn: str, rows_per_batch: int
) -> None:
    model = _causal_lm(tiny_model_source, attn)
    for start in range(0, len(packed_rows), rows_per_batch):
        rows = packed_rows[start : start + rows_per_batch]
        packed = _packed_logits(model, rows, attn)
        _assert_matches_alone(packed, rows, alone_logits[start : start + rows_per_batch])


def test_flex_attention_packed_logits_equal_documents_alone(tiny_model_source) -> None:
    """Micro-batches of 4 and of 1 (flex compiles per shape on the CPU, which is slow). Rows of 128:
    torch 2.15's CPU flex kernel returns NaNs for sequences shorter than its 128-token block, packed
    or not, so the 24-token rows of the other tests cannot be used here."""
    rng = np.random.default_rng(0)
    docs = [rng.integers(1, 500, size=n * 128 // 24).tolist() for n in DOC_LENGTHS]
    rows = list(pack_documents(docs, 128, drop_last_partial=True))
    assert len(rows[4].segment_lengths) > 1 and any(len(r.segment_lengths) == 1 for r in rows[:4])
    eager = _causal_lm(tiny_model_source, "eager")
    flex = _causal_lm(tiny_model_source, "flex_attention")
    for batch_rows in (rows[:4], rows[4:5]):
        alone = [_segments_alone(eager, row) for row in batch_rows]
        _assert_matches_alone(_packed_logits(flex, batch_rows, "flex_attention"), batch_rows, alone)


# --- FlashAttention 2: transformers' dispatch with a reference kernel -------------------------------


def _reference_flash(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **_):
    """flash_attn_func on [batch, seq, heads, dim]: plain (causal) attention over each whole row."""
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2),
        k.transpose(1, 2),
        v.transpose(1, 2),
        is_causal=causal,
        scale=softmax_scale,
        enable_gqa=True,
    )
    return out.transpose(1, 2)


def _reference_flash_varlen(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    **_,
):
    """flash_attn_varlen_func on [tokens, heads, dim]: each cu_seqlens segment attends only to itself."""
    assert torch.equal(cu_seqlens_q, cu_seqlens_k) and cu_seqlens_q.dtype == torch.int32
    assert int(max_seqlen_q) == int(max_seqlen_k) == int(cu_seqlens_q.diff().max())
    bounds = cu_seqlens_q.tolist()
    assert bounds[0] == 0 and bounds[-1] == q.shape[0]
    pieces = [
        _reference_flash(
            q[None, a:b], k[None, a:b], v[None, a:b], softmax_scale=softmax_scale, causal=causal
        )[0]
        for a, b in itertools.pairwise(bounds)
    ]
    return torch.cat(pieces)


@pytest.fixture
def reference_flash_attention(monkeypatch):
    """Route transformers' flash_attention_2 path to the reference kernels above."""
    from transformers import modeling_flash_attention_utils as fa_utils

    kernels = (_reference_flash, _reference_flash_varlen, None, fa_utils._pad_input, fa_utils._unpad_input)
    processing = (fa_utils._lazy_define_process_function(_reference_flash_varlen), dict)
    monkeypatch.setattr(fa_utils, "lazy_import_flash_attention", lambda *a, **k: (kernels, processing))

    def as_flash(model):
        model.config._attn_implementation = "flash_attention_2"
        return model

    return as_flash


@pytest.mark.parametrize("rows_per_batch", [1, 4])
def test_flash_attention_2_gets_varlen_boundaries(
    tiny_model_source, packed_rows, alone_logits, reference_flash_attention, rows_per_batch: int
) -> None:
    model = reference_flash_attention(_causal_lm(tiny_model_source, "sdpa"))
    for start in range(0, len(packed_rows), rows_per_batch):
        rows = packed_rows[start : start + rows_per_batch]
        packed = _packed_logits(model, rows, "flash_attention_2")
        _assert_matches_alone(packed, rows, alone_logits[start : start + rows_per_batch])


def test_flash_attention_2_leaks_with_stacked_rows_and_position_ids_only(
    tiny_model_source, packed_rows, alone_logits, reference_flash_attention
) -> None:
    """Control, and the bug this layout fixes: four stacked rows with position ids alone (the trainer's
    old inputs) reach the dense causal kernel, so later documents see earlier ones."""
    from codelupe_dagster.training.model import backbone_and_head, decoder_hidden_states, to_device_batch

    model = reference_flash_attention(_causal_lm(tiny_model_source, "sdpa"))
    backbone, head = backbone_and_head(model)
    batch = to_device_batch(stack_rows(packed_rows[:4]), torch.device("cpu"))
    with torch.no_grad():
        hidden = decoder_hidden_states(backbone, batch["input_ids"], batch["position_ids"])
    stacked = (hidden @ head.T).reshape(-1, head.shape[0])
    expected = torch.cat([segment for per_row in alone_logits[:4] for segment in per_row])
    assert not torch.allclose(stacked, expected, atol=1e-3)


def test_flattened_micro_batch_boundaries(packed_rows) -> None:
    from codelupe_dagster.training.model import packed_inputs

    batch = packed_inputs(packed_rows[:4], torch.device("cpu"), "flash_attention_2")
    lengths = [n for row in packed_rows[:4] for n in row.segment_lengths]
    assert batch["input_ids"].shape == (1, 4 * SEQ_LEN)
    assert batch["cu_seq_lens_q"].tolist() == np.concatenate([[0], np.cumsum(lengths)]).tolist()
    assert batch["max_length_q"] == batch["max_length_k"] == max(lengths)
    assert isinstance(batch["max_length_q"], int)  # flash-attn's kernels take a Python int
    rows_batch = packed_inputs(packed_rows[:4], torch.device("cpu"), "sdpa")
    assert rows_batch["input_ids"].shape == (4, SEQ_LEN) and "cu_seq_lens_q" not in rows_batch
    with pytest.raises(ValueError, match="packed documents"):
        packed_inputs(packed_rows[:4], torch.device("cpu"), "paged|sdpa")


# --- the loss of a packed micro-batch ----------------------------------------------------------------


@pytest.mark.parametrize(("attn", "rows_per_batch"), [("sdpa", 4), ("eager", 1), ("flash_attention_2", 4)])
def test_packed_loss_equals_token_weighted_loss_of_documents_alone(
    tiny_model_source, packed_rows, reference_flash_attention, attn: str, rows_per_batch: int
) -> None:
    """Summed over the micro-batch and divided by its scored tokens, as the trainer does."""
    from codelupe_dagster.training.model import backbone_and_head, micro_batch_loss, packed_inputs

    model = _causal_lm(tiny_model_source, "sdpa" if attn == "flash_attention_2" else attn)
    if attn == "flash_attention_2":
        model = reference_flash_attention(model)
    reference = _causal_lm(tiny_model_source, "eager")
    backbone, head = backbone_and_head(model)
    rows = packed_rows[:rows_per_batch]
    with torch.no_grad():
        batch = packed_inputs(rows, torch.device("cpu"), attn)
        loss_sum, count = micro_batch_loss(backbone, head, batch, chunk_tokens=5, loss="chunked")
        alone_sum, alone_count = torch.zeros((), dtype=torch.float64), 0
        for row in rows:
            start = 0
            for n in row.segment_lengths:
                ids = torch.from_numpy(row.input_ids[start : start + n])[None]
                start += n
                if n < 2:
                    continue  # a one-token segment predicts nothing
                logits = reference(input_ids=ids, use_cache=False).logits[0, :-1]
                alone_sum += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").double()
                alone_count += n - 1
    assert count == alone_count == sum(row.trained_tokens for row in rows)
    torch.testing.assert_close(loss_sum.double() / count, alone_sum / alone_count, atol=1e-5, rtol=1e-6)


def test_config_refuses_attention_that_may_leak(tmp_path) -> None:
    from codelupe_dagster.training.config import TrainingConfig

    for attn in (None, "sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3"):
        TrainingConfig(data_dir=tmp_path, attn_implementation=attn)
    with pytest.raises(ValueError, match="not known to keep packed documents apart"):
        TrainingConfig(data_dir=tmp_path, attn_implementation="paged|flash_attention_2")
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainingConfig(data_dir=tmp_path, loss="fused")
    with pytest.raises(ValueError, match="loss_chunk_tokens"):
        TrainingConfig(data_dir=tmp_path, loss_chunk_tokens=0)
