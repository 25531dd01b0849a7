"""The run plan without torch: micro-batches, optimizer steps, learning-rate curve, eval bound."""

import itertools
import math

import pytest

from codelupe_dagster.core.packing import pack_documents
from codelupe_dagster.training.schedule import (
    bounded_rows,
    lr_multiplier,
    plan_micro_batches,
    plan_steps,
    row_tokens,
    target_count,
)


def _rows(total_tokens: int, seq_len: int):
    return list(pack_documents([list(range(1, total_tokens + 1))], seq_len))


def test_micro_batches_group_full_rows_and_keep_the_short_tail_alone() -> None:
    rows = _rows(8 * 5 + 3, 8)  # five full rows and a 3-token tail
    batches = plan_micro_batches(rows, 2)
    assert [len(batch) for batch in batches] == [2, 2, 1, 1]
    assert [len(row) for row in batches[-1]] == [3]
    assert all(len(row) == 8 for batch in batches[:-1] for row in batch)
    assert sum(len(batch) for batch in batches) == len(rows)


def test_steps_cover_each_epoch_in_a_new_order_and_stop_at_max_steps() -> None:
    batches = [[row] for row in _rows(8 * 6, 8)]
    steps = plan_steps(batches, accumulation=2, epochs=2.0, max_steps=None, seed=0)
    assert len(steps) == 6 and all(len(step) == 2 for step in steps)
    visits = [id(batch) for step in steps for batch in step]
    first, second = visits[:6], visits[6:]
    assert sorted(first) == sorted(second) == sorted(id(b) for b in batches)
    assert first != second  # reshuffled per epoch
    assert plan_steps(batches, accumulation=2, epochs=2.0, max_steps=4, seed=0) == steps[:4]
    assert len(plan_steps(batches, accumulation=4, epochs=0.5, max_steps=None, seed=0)) == 1
    assert plan_steps([], accumulation=2, epochs=3.0, max_steps=None, seed=0) == []


def test_target_count_leaves_out_each_rows_first_label_and_ignored_ones() -> None:
    rows = _rows(20, 8)  # one document: only its very first token is unlabelled
    assert target_count(rows) == sum(len(row) - 1 for row in rows)
    assert row_tokens(rows) == 20


@pytest.mark.parametrize(("total", "warmup", "floor"), [(100, 10, 0.1), (10, 0, 0.0), (7, 3, 0.5)])
def test_learning_rate_warms_up_then_decays_to_the_floor(total: int, warmup: int, floor: float) -> None:
    curve = [lr_multiplier(step, total, warmup, floor) for step in range(total + 5)]
    assert all(curve[i] < curve[i + 1] for i in range(warmup - 1))
    peak = curve[warmup] if warmup == 0 else curve[warmup - 1]
    assert math.isclose(peak, 1.0)
    after = curve[warmup:]
    assert all(a >= b for a, b in itertools.pairwise(after))
    assert math.isclose(curve[total], floor) and math.isclose(curve[-1], floor)


def test_bounded_rows_stop_before_the_budget_but_keep_at_least_one() -> None:
    rows = _rows(8 * 4, 8)
    assert len(bounded_rows(rows, 20)) == 2
    assert len(bounded_rows(rows, 1)) == 1
    assert len(bounded_rows(rows, 10_000)) == 4
