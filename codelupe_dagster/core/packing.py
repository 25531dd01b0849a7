"""Pack tokenized documents into fixed-length rows without padding (DESIGN §7).

Documents are laid end to end; each one is a *segment* whose position ids restart at 0, so an
attention implementation that honours position-id resets (flash-attention varlen, transformers'
packed-sequence detection for sdpa/flex, or an explicit block-diagonal mask) never lets a token see
another document. A document that does not fit in what is left of a row is split: the remainder
opens the next row as a new segment. That keeps every row full (no padding computed, every token
trained on exactly once) at the price of a lost prediction at each split, which for 2k-token rows
and code files of a few hundred tokens is well under 1% of the tokens.

Labels follow the Hugging Face convention (unshifted; the loss shifts them): a segment's first
token carries `IGNORE_INDEX`, so nothing is learned from predicting a document's first token from
the previous document's last one.

Pure numpy, no torch: the packer is unit-tested and benchmarked alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100


@dataclass(frozen=True)
class PackedRow:
    """One training row: `seq_len` tokens (fewer only for the very last row of a stream)."""

    input_ids: np.ndarray  # int64 [n]
    position_ids: np.ndarray  # int64 [n], restart at 0 at each segment start
    labels: np.ndarray  # int64 [n], IGNORE_INDEX at each segment start
    segment_lengths: tuple[int, ...]  # lengths of the segments, in order; sum == n

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def cu_seqlens(self) -> np.ndarray:
        """Cumulative segment offsets [0, l0, l0+l1, ..., n], the flash-attention varlen format."""
        return np.concatenate([[0], np.cumsum(self.segment_lengths)]).astype(np.int32)

    @property
    def document_ids(self) -> np.ndarray:
        """Segment index of every token, for document masks (flex-attention, block-diagonal)."""
        return np.repeat(np.arange(len(self.segment_lengths)), self.segment_lengths)

    @property
    def trained_tokens(self) -> int:
        """Tokens that contribute to the loss (every token but the segment starts)."""
        return len(self.input_ids) - len(self.segment_lengths)


def with_eos(token_ids: Sequence[int], eos_id: int) -> list[int]:
    """The document followed by one EOS, so the model learns where a file ends."""
    return [*token_ids, eos_id]


def pack_documents(
    documents: Iterable[Sequence[int]],
    seq_len: int,
    *,
    max_segment_len: int | None = None,
    drop_last_partial: bool = False,
) -> Iterator[PackedRow]:
    """Yield rows of exactly `seq_len` tokens built from `documents` in order.

    `max_segment_len` (default `seq_len`) caps a segment's length, which bounds attention cost
    when rows are long. Empty documents are skipped (they carry nothing to learn). The last row
    is shorter than `seq_len` unless `drop_last_partial`.
    """
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2, got {seq_len}")
    cap = max_segment_len or seq_len
    if cap < 2:
        raise ValueError(f"max_segment_len must be at least 2, got {cap}")

    row_tokens: list[np.ndarray] = []
    row_segments: list[int] = []
    filled = 0
    for document in documents:
        tokens = np.asarray(document, dtype=np.int64)
        start = 0
        while start < len(tokens):
            take = min(len(tokens) - start, seq_len - filled, cap)
            row_tokens.append(tokens[start : start + take])
            row_segments.append(take)
            filled += take
            start += take
            if filled == seq_len:
                yield _build_row(row_tokens, row_segments)
                row_tokens, row_segments, filled = [], [], 0
    if filled and not drop_last_partial:
        yield _build_row(row_tokens, row_segments)


def _build_row(pieces: list[np.ndarray], segment_lengths: list[int]) -> PackedRow:
    input_ids = np.concatenate(pieces)
    # Position ids restart at every segment start: arange over the row minus each segment's offset.
    offsets = np.repeat(np.cumsum([0, *segment_lengths[:-1]]), segment_lengths)
    position_ids = np.arange(len(input_ids), dtype=np.int64) - offsets
    labels = input_ids.copy()
    labels[position_ids == 0] = IGNORE_INDEX
    return PackedRow(
        input_ids=input_ids,
        position_ids=position_ids,
        labels=labels,
        segment_lengths=tuple(segment_lengths),
    )


def stack_rows(rows: Sequence[PackedRow]) -> dict[str, np.ndarray]:
    """Stack equal-length rows into [batch, seq] arrays (a micro-batch)."""
    lengths = {len(row) for row in rows}
    if len(lengths) != 1:
        raise ValueError(f"rows in a micro-batch must have one length, got {sorted(lengths)}")
    return {
        "input_ids": np.stack([row.input_ids for row in rows]),
        "position_ids": np.stack([row.position_ids for row in rows]),
        "labels": np.stack([row.labels for row in rows]),
    }


def flatten_rows(rows: Sequence[PackedRow]) -> dict[str, np.ndarray]:
    """Lay a micro-batch's rows end to end as ONE row, for varlen attention (flash-attention).

    `input_ids`, `position_ids` and `labels` are [1, total]; `cu_seqlens` [segments + 1] (int32)
    holds every segment's offset in the flattened row, so a varlen kernel keeps each segment alone.
    Rows may differ in length. The loss is unchanged: a row's first token opens a segment and is
    labelled IGNORE_INDEX, so no prediction crosses from one row into the next.
    """
    if not rows:
        raise ValueError("cannot flatten an empty micro-batch")
    lengths = [length for row in rows for length in row.segment_lengths]
    return {
        "input_ids": np.concatenate([row.input_ids for row in rows])[None],
        "position_ids": np.concatenate([row.position_ids for row in rows])[None],
        "labels": np.concatenate([row.labels for row in rows])[None],
        "cu_seqlens": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32),
    }


def block_diagonal_causal_mask(position_ids: np.ndarray) -> np.ndarray:
    """Boolean [n, n] mask, True where query i may attend key j: same segment and j <= i.

    Derived from position ids alone (a reset to 0 opens a segment), which is what the trainer
    hands to attention; tests use it to prove no token crosses a document boundary.
    """
    document_ids = np.cumsum(position_ids == 0)
    same_document = document_ids[:, None] == document_ids[None, :]
    causal = np.tri(len(position_ids), dtype=bool)
    mask: np.ndarray = same_document & causal
    return mask
