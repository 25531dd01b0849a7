"""The conftest guard that names a test leaving SIGTERM ignored reads the kernel's view of the process."""

from __future__ import annotations

import signal

from tests.conftest import _sigterm_ignored


def test_the_guard_sees_sigterm_ignored_and_restored() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    assert not _sigterm_ignored()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        assert _sigterm_ignored()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not _sigterm_ignored()
