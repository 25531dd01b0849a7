from __future__ import annotations

import gc
import weakref

import pytest

from codelupe_dagster.stages.heap import frozen_heap


class _Cycle:
    """Garbage that only a collection frees (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


def test_collections_in_the_block_skip_the_heap_from_before_and_it_is_handed_back() -> None:
    before = _Cycle()
    from_before = weakref.ref(before)
    del before
    with frozen_heap():
        inside = _Cycle()
        from_inside = weakref.ref(inside)
        del inside
        gc.collect()
        assert from_inside() is None  # the batch's own garbage is collected as usual
        assert from_before() is not None  # the frozen heap is not even looked at
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert from_before() is None  # handed back: collected after all, nothing leaks


def test_the_heap_is_handed_back_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), frozen_heap():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("batch failed")
    assert gc.get_freeze_count() == 0
