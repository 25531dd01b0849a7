"""Connections and transactions on the shared SQLite index file, safe across threads and processes.

Dagster runs steps in several processes: the file is in WAL mode (readers never block the writer),
every write is a short ``BEGIN IMMEDIATE`` transaction (no lock upgrades, so no deadlock between two
writers), ``busy_timeout`` waits for the lock, and a busy error is retried with backoff.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from codelupe_dagster.backends.search.base import BackendUnavailable

BUSY_TIMEOUT_S = 30.0
BUSY_RETRIES = 6

T = TypeVar("T")
# Connections inherited through fork(): SQLite forbids using, and so closing, them in the child, so a
# reference is kept here and garbage collection never closes them.
_INHERITED_CONNECTIONS: list[sqlite3.Connection] = []


class IndexMissing(LookupError):
    """The logical index has no tables in the file yet: ``ensure()`` was never called for it."""


def is_busy(error: BaseException) -> bool:
    """Whether an SQLite error means "someone else holds the lock" (worth retrying)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def retry_busy(action: Callable[[], T]) -> T:
    """Run ``action``, retrying with backoff while the file is busy, up to ``BUSY_RETRIES`` times."""
    for attempt in range(BUSY_RETRIES):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or attempt == BUSY_RETRIES - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


class SqliteFile:
    """One connection per thread and per process to ``path``, for the logical index ``index_name``
    (named in errors); sqlite3 connections must not cross a thread or a fork."""

    def __init__(self, path: Path, index_name: str):
        self.path = path
        self.index_name = index_name
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        if cached is not None:
            _INHERITED_CONNECTIONS.append(cached[1])
        conn = self._open()
        self._local.conn = (os.getpid(), conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        except (OSError, sqlite3.Error) as exc:
            raise BackendUnavailable(f"cannot open SQLite index file {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # Switching to WAL needs a moment of exclusive access; it persists in the file afterwards.
            retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            # FULL: a committed batch survives power loss; the Redis dedup ledger already counts it
            # as claimed, so losing it here would lose those files for good. One fsync per chunk.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA cache_size = -32768")  # 32 MiB: FTS segment merges touch many pages
        except sqlite3.Error as exc:
            conn.close()
            raise BackendUnavailable(f"SQLite index file {self.path} is not usable: {exc}") from exc
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's object goes away)."""
        cached: tuple[int, sqlite3.Connection] | None = getattr(self._local, "conn", None)
        if cached is not None:
            if cached[0] == os.getpid():
                cached[1].close()
            self._local.conn = None

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction, retried as a whole when the file is busy."""

        def attempt() -> T:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            return retry_busy(attempt)
        except sqlite3.OperationalError as exc:
            if no_such_table(exc):
                raise self._missing() from exc
            raise

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query; raises ``IndexMissing`` when the index's tables do not exist."""
        try:
            return retry_busy(lambda: self.connection().execute(sql, params).fetchall())
        except sqlite3.OperationalError as exc:
            if no_such_table(exc):
                raise self._missing() from exc
            raise

    def read_or_empty(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]] | None:
        """``read`` for the public reads, where an index that does not exist yet reads as empty:
        ``None`` then, so each caller answers its own empty value."""
        try:
            return self.read(sql, params)
        except IndexMissing:
            return None

    def _missing(self) -> IndexMissing:
        """A clear error for the common mistake of using an index before ``ensure()``."""
        return IndexMissing(f"index {self.index_name!r} does not exist in {self.path}; call ensure() first")


def no_such_table(exc: BaseException) -> bool:
    return "no such table" in str(exc)
