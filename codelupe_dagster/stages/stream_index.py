"""Index a batch's kept documents while the batch is still being scored (`scored_files`), so that
writing the index overlaps with reading and scoring files instead of waiting for them.

Why: on few cores the scorer's parent process mostly waits for its workers, while `es_code_index` then
spends seconds on one core tokenizing the same documents into the index. Streaming them as they are
spooled moves that work into the wait. `es_code_index` stays the step that makes a batch *done*: it
swaps claim generations, marks repositories processed and runs the checks; when the spool says its
documents were streamed into the same index at the same threshold, it does not upsert them again.

Safety, the same as a re-run of `es_code_index`:
- upserts are by content id and keep an existing `indexed_at`, so streaming twice, or streaming and then
  indexing the spool again, changes nothing;
- a failure of the index while scoring (Elasticsearch down, a full disk) never fails the scoring: the
  stream stops, the error is logged and counted, the spool does not claim to be streamed, and
  `es_code_index` indexes the spool as it always did (and fails there if the index is still down);
- the threads are bounded: at most `MAX_PENDING` chunks wait, so a slow index slows the scorer down
  instead of holding a batch of documents in memory.

As many threads write as the index takes writes at once (`SearchIndex.concurrent_writes`): one for an
SQLite file, `bulk_threads` for Elasticsearch. The scorer's workers outpace one bulk request at a time, so
a batch's last chunks used to queue up and be written one after another on one of the node's cores after
scoring had ended; two requests in flight use both (issue 12: 1.10x files/s end to end on
Elasticsearch, `bench/end_to_end_files.py --base`). Concurrent chunks never share a document: a batch's
documents are unique by content id, as the ledger dropped exact duplicates before they were spooled.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from codelupe_dagster.backends.search import SearchIndex

log = logging.getLogger(__name__)

MAX_PENDING = 4  # chunks queued for the index thread before the scorer waits
STREAMED_INFO = "streamed"  # the spool's `_SUCCESS` info key for what was streamed


@dataclass(frozen=True)
class StreamedSpool:
    """What a finished stream wrote, as recorded in the spool's `_SUCCESS` info."""

    index: str  # the index's name: another index (or a renamed one) must index the spool itself
    threshold: float  # documents below it were not streamed
    documents: int
    low_quality: int
    elapsed_s: float  # seconds during which the index threads were writing

    def to_info(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "threshold": self.threshold,
            "documents": self.documents,
            "low_quality": self.low_quality,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> StreamedSpool | None:
        value = info.get(STREAMED_INFO)
        if not isinstance(value, Mapping):
            return None
        try:
            return cls(
                str(value["index"]),
                float(value["threshold"]),
                int(value["documents"]),
                int(value["low_quality"]),
                float(value.get("elapsed_s") or 0.0),
            )
        except (KeyError, TypeError, ValueError):
            return None  # a marker written by something else: index the spool as usual


def upsert_keeping_indexed_at(index: SearchIndex, docs: list[dict[str, Any]]) -> None:
    """Upsert `docs` (mutated: `indexed_at` set), keeping the `indexed_at` of documents already indexed,
    so the training watermark never sees an old file as new. Raises on any rejected document."""
    existing = index.get([doc["id"] for doc in docs], fields=("indexed_at",))
    now = datetime.now(UTC).isoformat()
    for doc in docs:
        doc["indexed_at"] = (existing.get(doc["id"]) or {}).get("indexed_at") or now
    index.bulk_upsert(docs).raise_for_errors()


class StreamIndexer:
    """Threads that upsert chunks of spooled documents into `index` as the scorer hands them over.

    `add`, `hand_over`, `finish` and `abandon` are called from the scorer's thread only. After an index
    error the stream is *broken*: later chunks are dropped (the spool has them) and `finish` returns None.
    """

    def __init__(self, index: SearchIndex, threshold: float, chunk_size: int = 500):
        self.index = index
        self.threshold = threshold
        self.chunk_size = chunk_size
        self._buffer: list[dict[str, Any]] = []
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=MAX_PENDING)
        self._low_quality = 0
        self.error: str | None = None
        # Written by the writer threads, under the lock.
        self._lock = threading.Lock()
        self._documents = 0
        self._busy_s = 0.0  # seconds during which at least one write ran
        self._writing = 0
        self._busy_since = 0.0
        self._ensured = threading.Event()  # the first thread ensures the index before any thread writes
        self._finishing = threading.Event()  # the scorer is done: no more refreshes per chunk
        self._threads = [
            threading.Thread(target=self._run, args=(n == 0,), name=f"codelupe-stream-index-{n}", daemon=True)
            for n in range(max(1, index.concurrent_writes))
        ]
        self._started = False

    @property
    def writers(self) -> int:
        return len(self._threads)

    def start(self) -> StreamIndexer:
        for thread in self._threads:
            thread.start()
        self._started = True
        return self

    def add(self, doc: dict[str, Any]) -> None:
        """One spooled document, handed over as it is: the thread sets its `indexed_at`, so the caller
        must not use it afterwards (the scorer builds a fresh record per file and the spool copies it)."""
        if doc["quality_score"] < self.threshold:
            self._low_quality += 1
            return
        self._buffer.append(doc)
        if len(self._buffer) >= self.chunk_size:
            self.hand_over()

    def hand_over(self) -> None:
        """Queue what is buffered now, even short of a chunk. The scorer hands over each chunk it has
        claimed and spooled, so the thread's writes follow its claims: small at a batch's start (the
        thread starts early) and at its end (its last write after scoring is small)."""
        chunk, self._buffer = self._buffer, []
        if chunk and self.error is None:
            self._queue.put(chunk)

    def finish(self) -> StreamedSpool | None:
        """Wait for the thread; what it wrote, or None when the stream broke (the spool is then indexed
        by `es_code_index` as usual)."""
        if not self._started:
            return None
        self._finishing.set()
        self.hand_over()
        self._stop_threads()
        if self.error is not None:
            return None
        return StreamedSpool(
            self.index.name, self.threshold, self._documents, self._low_quality, self._busy_s
        )

    def abandon(self) -> None:
        """Stop the thread without waiting for queued chunks (the scoring failed; its spool is aborted)."""
        if not self._started:
            return
        self.error = self.error or "abandoned"
        self._buffer = []
        while True:  # make room for the sentinels: queued chunks are dropped, not written
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._stop_threads()

    def _stop_threads(self) -> None:
        """One sentinel per thread after the queued chunks, then wait for all of them."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _run(self, lead: bool) -> None:
        # In a thread: an index that is down costs its retry window here, not in the scorer's thread.
        if lead:
            try:
                self._guarded(self.index.ensure)
            finally:
                self._ensured.set()
        else:
            self._ensured.wait()
        while True:
            chunk = self._queue.get()
            if chunk is None:
                return
            if self.error is not None:
                continue  # broken or abandoned: drain until the sentinel
            self._write(chunk)

    def _write(self, chunk: list[dict[str, Any]]) -> None:
        with self._lock:
            if self._writing == 0:
                self._busy_since = time.perf_counter()
            self._writing += 1
        written = False
        try:
            written = self._guarded(functools.partial(self._write_visible, chunk))
        finally:
            with self._lock:
                self._writing -= 1
                if self._writing == 0:
                    self._busy_s += time.perf_counter() - self._busy_since
                if written:
                    self._documents += len(chunk)

    def _write_visible(self, chunk: list[dict[str, Any]]) -> None:
        """Upsert a chunk, then refresh the index, here, while the scorer goes on.

        Why: whatever no refresh has made visible yet is written into a segment by `es_code_index`'s
        closing refresh, on the batch's critical path. With the index's periodic refresh (every second)
        that was up to a second of the stream, 0.10-0.12 s of a 2.2 s batch of the issue's corpus; on an
        index nobody had searched for 30 s, whose periodic refreshes Elasticsearch skips (search-idle
        shards), it was the whole batch's documents, 0.19 s. A refresh per chunk while the scorer runs
        leaves only the chunks written after it finished, which it keeps small, to the closing one:
        refreshing those too would only put one refresh per chunk on the tail (issue 12). On SQLite a
        refresh is a no-op: a committed write is visible at once."""
        upsert_keeping_indexed_at(self.index, chunk)
        if not self._finishing.is_set():
            self.index.refresh()

    def _guarded(self, write: Callable[[], None]) -> bool:
        """Run one index write; False (and the stream broken) when it raised."""
        if self.error is not None:
            return False
        try:
            write()
        except Exception as exc:  # the index failing must not fail scoring: es_code_index retries
            error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                first = self.error is None
                if first:
                    self.error = error
            if first:  # another thread's failure at the same time is the same outage: logged once
                log.warning(
                    "streaming documents into %s stopped (%s); es_code_index will index the spool",
                    self.index.name,
                    error[:500],
                )
            return False
        return True


def streamed_ids(rows: Sequence[Mapping[str, Any]], threshold: float) -> tuple[list[str], list[str], int]:
    """(ids, repos, below threshold) of spool rows, as `index_spool` would have written them."""
    ids: list[str] = []
    repos: list[str] = []
    low = 0
    for row in rows:
        if row["quality_score"] >= threshold:
            ids.append(row["id"])
            repos.append(row["repo"])
        else:
            low += 1
    return ids, repos, low
