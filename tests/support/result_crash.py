"""A scoring worker that dies half-way through writing a result: the one death a process pool executor
does not notice by itself (its manager thread blocks reading the rest of the message)."""

from __future__ import annotations

import os
import signal
import struct
from collections.abc import Callable
from multiprocessing.connection import Connection


def die_while_writing_first_result(
    claim: str, initializer: Callable[..., None], initargs: tuple[object, ...]
) -> None:
    """A worker initializer: run the pool's own, then make this worker's sends die half-way through the
    first message any worker of the pool sends (`claim` is created by the one that does, so that the
    pool's recovery, which runs the same work again, succeeds)."""
    initializer(*initargs)
    send_whole = Connection._send_bytes  # type: ignore[attr-defined]

    def send_half_then_die(self: Connection[object, object], buf: memoryview) -> None:
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            send_whole(self, buf)
            return
        data = bytes(buf)
        self._send(struct.pack("!i", len(data)) + data[: len(data) // 2])  # type: ignore[attr-defined]
        os.kill(os.getpid(), signal.SIGKILL)

    Connection._send_bytes = send_half_then_die  # type: ignore[attr-defined]
