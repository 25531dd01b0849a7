"""How packed rows become optimizer steps, and the learning-rate curve over those steps.

Pure (numpy only, no torch), so the plan of a run can be checked without the [train] extra.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

from codelupe_dagster.core.packing import IGNORE_INDEX, PackedRow

MicroBatch = list[PackedRow]
Step = list[MicroBatch]


def plan_micro_batches(rows: Sequence[PackedRow], rows_per_batch: int) -> list[MicroBatch]:
    """Full rows in groups of `rows_per_batch`; the one short tail row alone (shapes must match)."""
    full_len = max((len(row) for row in rows), default=0)
    full = [row for row in rows if len(row) == full_len]
    short = [row for row in rows if len(row) != full_len]
    batches = [full[i : i + rows_per_batch] for i in range(0, len(full), rows_per_batch)]
    return batches + [[row] for row in short]


def plan_steps(
    micro_batches: list[MicroBatch],
    *,
    accumulation: int,
    epochs: float,
    max_steps: int | None,
    seed: int,
) -> list[Step]:
    """Optimizer steps as lists of micro-batches; each epoch visits the micro-batches in a new order."""
    wanted = math.ceil(len(micro_batches) * epochs)
    sequence: list[MicroBatch] = []
    epoch = 0
    while len(sequence) < wanted and micro_batches:
        order = list(range(len(micro_batches)))
        random.Random(seed + epoch).shuffle(order)
        sequence.extend(micro_batches[i] for i in order)
        epoch += 1
    sequence = sequence[:wanted]
    steps = [sequence[i : i + accumulation] for i in range(0, len(sequence), accumulation)]
    return steps[:max_steps] if max_steps is not None else steps


def target_count(rows: Sequence[PackedRow]) -> int:
    """Tokens a micro-batch is scored on: every label after the first of a row that isn't ignored."""
    return sum(int((row.labels[1:] != IGNORE_INDEX).sum()) for row in rows)


def lr_multiplier(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up, then cosine decay to `floor` of the peak."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def bounded_rows(rows: Iterable[PackedRow], max_tokens: int) -> list[PackedRow]:
    """Rows in order until `max_tokens` would be passed (at least one), so evaluation cost is capped."""
    kept: list[PackedRow] = []
    total = 0
    for row in rows:
        if total + len(row) > max_tokens and kept:
            break
        kept.append(row)
        total += len(row)
    return kept


def row_tokens(rows: Iterable[PackedRow]) -> int:
    """Tokens in `rows`, padding-free since packed rows carry no padding."""
    return sum(len(row) for row in rows)
