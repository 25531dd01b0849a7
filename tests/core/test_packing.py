"""Packing invariants, table-driven: every token once, segments isolated, only segment starts unlabelled."""

import numpy as np
import pytest

from codelupe_dagster.core.packing import (
    IGNORE_INDEX,
    block_diagonal_causal_mask,
    flatten_rows,
    pack_documents,
    stack_rows,
    with_eos,
)

pytestmark = pytest.mark.train

EOS = 0


def _documents(lengths: list[int]) -> list[list[int]]:
    """Distinct token values per document so tokens can be traced back to their document."""
    docs, next_token = [], 1
    for length in lengths:
        docs.append(list(range(next_token, next_token + length)))
        next_token += length
    return docs


@pytest.mark.parametrize(
    ("lengths", "seq_len"),
    [
        ([3, 4, 5], 8),  # docs straddle row boundaries
        ([8, 8], 8),  # exact fits
        ([20], 8),  # one doc longer than several rows
        ([1, 1, 1, 1, 1], 4),  # single-token documents
        ([0, 5, 0, 3], 4),  # empty documents are skipped
        ([100, 7, 33, 2, 64], 32),
    ],
)
def test_every_token_once_in_order_and_rows_full(lengths: list[int], seq_len: int) -> None:
    docs = _documents(lengths)
    rows = list(pack_documents(docs, seq_len))
    flat = np.concatenate([row.input_ids for row in rows])
    assert flat.tolist() == [token for doc in docs for token in doc]
    assert all(len(row) == seq_len for row in rows[:-1])
    assert 0 < len(rows[-1]) <= seq_len
    assert all(sum(row.segment_lengths) == len(row) for row in rows)


@pytest.mark.parametrize(("lengths", "seq_len"), [([3, 4, 5], 8), ([20, 1, 6], 8), ([2, 2, 2, 2], 16)])
def test_positions_reset_and_labels_mask_only_segment_starts(lengths: list[int], seq_len: int) -> None:
    docs = _documents(lengths)
    owner = {token: i for i, doc in enumerate(docs) for token in doc}
    for row in pack_documents(docs, seq_len):
        starts = row.position_ids == 0
        assert starts[0]
        # Positions count up by one inside a segment.
        assert np.all((row.position_ids[1:] == row.position_ids[:-1] + 1) | starts[1:])
        # A new document always opens a new segment (positions reset at every boundary).
        doc_of = np.array([owner[t] for t in row.input_ids])
        assert np.all(starts[1:][doc_of[1:] != doc_of[:-1]])
        assert np.all(row.labels[starts] == IGNORE_INDEX)
        assert np.array_equal(row.labels[~starts], row.input_ids[~starts])
        assert row.trained_tokens == int((~starts).sum())


def test_attention_mask_never_crosses_documents() -> None:
    docs = _documents([3, 4, 5, 2])
    owner = {token: i for i, doc in enumerate(docs) for token in doc}
    for row in pack_documents(docs, 6):
        mask = block_diagonal_causal_mask(row.position_ids)
        doc_of = np.array([owner[t] for t in row.input_ids])
        query, key = np.nonzero(mask)
        assert np.all(doc_of[query] == doc_of[key])
        assert np.all(key <= query)
        # and within a segment, every earlier token is visible
        assert mask.sum() == sum(n * (n + 1) // 2 for n in row.segment_lengths)


def test_eos_follows_each_document_and_document_ids_match_segments() -> None:
    docs = [with_eos(doc, EOS) for doc in _documents([3, 2])]
    (row,) = pack_documents(docs, 16)
    assert row.input_ids.tolist() == [1, 2, 3, EOS, 4, 5, EOS]
    assert row.document_ids.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert row.cu_seqlens.tolist() == [0, 4, 7]


def test_max_segment_len_caps_segments() -> None:
    rows = list(pack_documents(_documents([10]), 16, max_segment_len=4))
    assert rows[0].segment_lengths == (4, 4, 2)


def test_stack_rows_rejects_ragged_batches() -> None:
    rows = list(pack_documents(_documents([5]), 4))
    with pytest.raises(ValueError, match="one length"):
        stack_rows(rows)
    assert stack_rows(rows[:1])["input_ids"].shape == (1, 4)


@pytest.mark.parametrize("seq_len", [0, 1])
def test_rejects_degenerate_lengths(seq_len: int) -> None:
    with pytest.raises(ValueError, match="seq_len"):
        list(pack_documents([[1, 2]], seq_len))


def test_flatten_rows_keeps_every_segment_and_its_offsets() -> None:
    rows = list(pack_documents(_documents([3, 4, 5, 2, 9]), 6))
    flat = flatten_rows(rows)
    assert flat["input_ids"].shape == flat["position_ids"].shape == flat["labels"].shape == (1, 23)
    assert flat["input_ids"][0].tolist() == list(range(1, 24))
    segments = [n for row in rows for n in row.segment_lengths]
    assert flat["cu_seqlens"].dtype == np.int32
    assert flat["cu_seqlens"].tolist() == np.concatenate([[0], np.cumsum(segments)]).tolist()
    # Every cu_seqlens offset is a position reset and an unlabelled token, and there are no others.
    starts = np.flatnonzero(flat["position_ids"][0] == 0)
    assert starts.tolist() == flat["cu_seqlens"][:-1].tolist()
    assert np.flatnonzero(flat["labels"][0] == IGNORE_INDEX).tolist() == starts.tolist()


def test_flatten_rows_rejects_an_empty_micro_batch() -> None:
    with pytest.raises(ValueError, match="empty"):
        flatten_rows([])
