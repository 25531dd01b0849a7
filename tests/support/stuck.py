"""A bound for tests that would hang in native code if what they test regressed."""

from __future__ import annotations

import faulthandler
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def exit_if_stuck(seconds: float) -> Iterator[None]:
    """End the whole test process, every thread's traceback dumped to stderr, if the block runs longer
    than `seconds`.

    For a hang that holds the GIL in native code (libgit2 spinning on a cut-short object): no Python
    timeout can end it, pytest-timeout's included, since its thread and its signal handler both need the
    GIL. faulthandler's watchdog is a C thread that does not."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
