"""Streaming kept documents into the index while a batch is scored (stages.stream_index), without Dagster:
the same index contents as indexing the spool afterwards, and an index that fails while scoring never
fails the scoring (the spool is then indexed as before)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from elasticsearch import Elasticsearch

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.backends.search.base import BackendUnavailable
from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex
from codelupe_dagster.backends.search.sqlite_index import SqliteSearchIndex
from codelupe_dagster.backends.spool import iter_documents, read_manifest
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.file_processing import ProcessingConfig
from codelupe_dagster.stages.handoff import ClonedBatch, cloned_manifest_path, spool_path
from codelupe_dagster.stages.index_spool import index_batch
from codelupe_dagster.stages.score_batch import BatchScorer, claim_chunk
from codelupe_dagster.stages.stream_index import STREAMED_INFO, StreamIndexer
from tests.faults.harness import wait_for
from tests.support.corpus import make_repo, stdlib_files, write_cloned_manifest
from tests.support.planted import PlantedCorpus

KEYS = RedisKeys("pipeline:")
THRESHOLD = 0.3


def score(planted: PlantedCorpus, client: redis.Redis, stream: StreamIndexer | None) -> Path:
    batch = ClonedBatch.load(cloned_manifest_path(planted.data_dir, planted.batch_id))
    spool = spool_path(planted.data_dir, planted.batch_id)
    ledger = RedisDedupLedger(client, KEYS)
    BatchScorer(ledger, ProcessingConfig(min_quality=THRESHOLD), workers=0, stream=stream).run(batch, spool)
    return spool


def index(spool: Path, target: SearchIndex, client: redis.Redis, batch_id: str, threshold: float = THRESHOLD):
    return index_batch(
        target,
        RedisDedupLedger(client, KEYS),
        spool,
        batch_id,
        threshold=threshold,
        bulk_size=100,
        mark_processed=lambda commits: None,
    )


def stored(target: SearchIndex) -> dict[str, tuple[str, float]]:
    target.refresh()
    return {
        d["id"]: (d["indexed_at"], d["quality_score"])
        for d in target.iter_documents(fields=["id", "indexed_at", "quality_score"])
    }


def spooled(spool: Path, threshold: float = THRESHOLD) -> set[str]:
    return {d["id"] for chunk in iter_documents(spool) for d in chunk if d["quality_score"] >= threshold}


def test_streamed_documents_are_indexed_while_scoring_and_not_written_again(
    planted: PlantedCorpus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    target = SqliteSearchIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    spool = score(planted, redis_client, StreamIndexer(target, THRESHOLD, chunk_size=3))
    info = read_manifest(spool).info[STREAMED_INFO]
    assert info["index"] == "code" and info["documents"] == len(spooled(spool)) > 3
    before = stored(target)
    assert set(before) == spooled(spool)  # in the index before es_code_index ran

    result = index(spool, target, redis_client, planted.batch_id)
    assert result.streamed and sorted(result.written.ids) == sorted(before)
    assert stored(target) == before  # nothing rewritten: same ids, same indexed_at


def test_index_down_while_scoring_leaves_the_spool_to_be_indexed(
    planted: PlantedCorpus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = ElasticSearchIndex(
        CODE_SCHEMA,
        Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=1),
        name="code",
        display_url=f"http://127.0.0.1:{port}",
        retry_for_s=0.2,
        attempts=1,
    )
    stream = StreamIndexer(down, THRESHOLD, chunk_size=3)
    spool = score(planted, redis_client, stream)  # scoring succeeds all the same
    assert stream.error is not None
    assert STREAMED_INFO not in read_manifest(spool).info

    target = SqliteSearchIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    result = index(spool, target, redis_client, planted.batch_id)
    assert not result.streamed and set(stored(target)) == spooled(spool)


def test_a_higher_threshold_at_indexing_removes_what_was_streamed_below_it(
    planted: PlantedCorpus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    target = SqliteSearchIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    spool = score(planted, redis_client, StreamIndexer(target, THRESHOLD))
    higher = 0.6
    assert spooled(spool, higher) < spooled(spool)  # some streamed documents sit between the two

    result = index(spool, target, redis_client, planted.batch_id, threshold=higher)
    assert result.streamed and set(stored(target)) == spooled(spool, higher) == set(result.written.ids)
    assert result.written.low_quality == len(spooled(spool) - spooled(spool, higher))


def test_streamed_into_another_index_is_indexed_here(
    planted: PlantedCorpus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    elsewhere = SqliteSearchIndex(CODE_SCHEMA, tmp_path / "other.db", name="other")
    spool = score(planted, redis_client, StreamIndexer(elsewhere, THRESHOLD))
    target = SqliteSearchIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    result = index(spool, target, redis_client, planted.batch_id)
    assert not result.streamed and set(stored(target)) == spooled(spool)


def test_abandoned_stream_writes_no_queued_chunk(tmp_path: Path) -> None:
    target = SqliteSearchIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    stream = StreamIndexer(target, THRESHOLD, chunk_size=1000).start()
    stream.add({"id": "a" * 32, "quality_score": 0.9, "content": "x = 1\n", "repo": "o/r", "path": "x.py"})
    stream.abandon()  # the chunk was still buffered: it never reaches the index
    assert stream.finish() is None
    target.ensure()
    assert target.count() == 0


def _doc(n: int) -> dict[str, Any]:
    return {"id": f"{n:032x}", "quality_score": 0.9, "content": f"x = {n}\n", "repo": "o/r", "path": "x.py"}


class _TwoWriterIndex(SqliteSearchIndex):
    """A real SQLite index that claims to take two writers at once and numbers its writes; a subclass
    acts on write number n in `before_write`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = 0
        self.count_lock = threading.Lock()

    @property
    def concurrent_writes(self) -> int:
        return 2

    def before_write(self, n: int) -> None:
        raise NotImplementedError

    def bulk_upsert(self, docs, **kwargs):
        with self.count_lock:
            self.writes += 1
            n = self.writes
        self.before_write(n)
        return super().bulk_upsert(docs, **kwargs)


class _MeetingIndex(_TwoWriterIndex):
    """The first two writes wait for each other (bounded): they only both go on when two threads write
    at the same time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meeting = threading.Barrier(2, timeout=20)

    def before_write(self, n: int) -> None:
        if n <= 2:
            self.meeting.wait()  # BrokenBarrierError after the timeout when writes run one at a time


def test_an_index_that_takes_two_writers_gets_two_chunks_at_once(tmp_path: Path) -> None:
    target = _MeetingIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    stream = StreamIndexer(target, THRESHOLD, chunk_size=2)
    assert stream.writers == 2
    stream.start()
    for n in range(7):
        stream.add(_doc(n))
    streamed = stream.finish()
    assert stream.error is None and streamed is not None
    assert target.writes == 4 and streamed.documents == 7 and streamed.elapsed_s > 0
    assert set(stored(target)) == {_doc(n)["id"] for n in range(7)}


class _FailingIndex(_TwoWriterIndex):
    """The second write fails, as a server that goes away mid-batch."""

    def before_write(self, n: int) -> None:
        if n == 2:
            raise BackendUnavailable("gone")


def test_a_failed_write_among_several_writers_breaks_the_stream(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = _FailingIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    stream = StreamIndexer(target, THRESHOLD, chunk_size=1).start()
    for n in range(20):
        stream.add(_doc(n))
    assert stream.finish() is None  # es_code_index indexes the spool instead
    assert stream.error == "BackendUnavailable: gone"
    assert sum("streaming documents into code stopped" in r.getMessage() for r in caplog.records) == 1
    # Chunks queued after the failure are dropped (only a write already starting may still go through).
    target.refresh()
    assert target.writes < 10 and target.count() == target.writes - 1


def test_the_backends_say_how_many_writers_they_take(search_backend: Callable[..., SearchIndex]) -> None:
    target = search_backend(CODE_SCHEMA)
    expected = target.bulk_threads if isinstance(target, ElasticSearchIndex) else 1
    assert target.concurrent_writes == expected and StreamIndexer(target, THRESHOLD).writers == expected


@pytest.mark.parametrize(
    ("claimed", "remaining", "expected"),
    [
        (0, 5000, 128),  # the batch's first claim: a quarter chunk
        (200, 5000, 200),  # growing: no more than claimed so far
        (10_000, 5000, 512),  # the middle: full chunks
        (10_000, 300, 300),  # near the end: no more than what is still to come
        (10_000, 0, 128),  # never below a quarter chunk
    ],
)
def test_claim_chunks_grow_at_a_batch_start_and_shrink_at_its_end(
    claimed: int, remaining: int, expected: int
) -> None:
    assert claim_chunk(512, 32, claimed, remaining) == expected
    assert claim_chunk(64, 32, 0, 5000) == 32  # or a task's files, when that is more
    # While the trees are still walked, what is still to come is not known: chunks only grow.
    assert claim_chunk(512, 32, claimed, None) == min(512, max(128, claimed))


class _RecordingScorer(BatchScorer):
    """The real scorer, recording the size of each chunk it claims (the ledger itself is real)."""

    claims: list[int]

    def _claim_and_write(self, pending, writer, counts) -> None:
        self.claims.append(len(pending))
        super()._claim_and_write(pending, writer, counts)


class _RecordingIndex(SqliteSearchIndex):
    """A real SQLite index, recording the size of each chunk the stream thread writes."""

    chunks: list[int]

    def bulk_upsert(self, docs, **kwargs):
        docs = list(docs)
        self.chunks.append(len(docs))
        return super().bulk_upsert(docs, **kwargs)


def test_claims_and_stream_chunks_are_small_at_both_ends_of_a_batch(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path
) -> None:
    """The stream thread starts after a quarter chunk, not a whole one, and what is claimed and indexed
    after the last result is at most a quarter chunk: the batch's serial tail stays short."""
    files = {
        **stdlib_files("email", "email/"),
        **stdlib_files("asyncio", "asyncio/"),
        **stdlib_files("xml", "xml/"),
        **stdlib_files("multiprocessing", "multiprocessing/"),
    }
    write_cloned_manifest(data_dir, "b20261203T000000-tail00", [("acme/mail", *_repo(tmp_path, files))])
    batch = ClonedBatch.load(cloned_manifest_path(data_dir, "b20261203T000000-tail00"))
    target = _RecordingIndex(CODE_SCHEMA, tmp_path / "code.db", name="code")
    target.chunks = []
    scorer = _RecordingScorer(
        RedisDedupLedger(valkey_client, KEYS),
        ProcessingConfig(min_quality=THRESHOLD),
        workers=0,
        task_files=2,
        claim_files=16,
        stream=StreamIndexer(target, THRESHOLD, chunk_size=1000),
    )
    scorer.claims = []
    spool = spool_path(data_dir, "b20261203T000000-tail00")
    scorer.run(batch, spool)

    claims = [n for n in scorer.claims if n]
    assert sum(claims) >= 60 and max(claims) >= 16  # full chunks in the middle
    # A quarter chunk at both ends (the first passes it by less than a task's files).
    assert claims[0] < 4 + 2 and claims[-1] <= 4
    # Each claimed chunk went to the index as it was written, though the stream's chunk size is larger.
    assert len(target.chunks) >= 6 and target.chunks[-1] <= 4
    assert sum(target.chunks) == read_manifest(spool).info[STREAMED_INFO]["documents"]
    assert set(stored(target)) == spooled(spool)


def _repo(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    path = tmp_path / "acme__mail"
    return path, make_repo(path, files)


def test_each_chunk_written_while_scoring_is_visible_without_a_closing_refresh(
    search_backend: Callable[..., SearchIndex],
) -> None:
    """The stream refreshes after each chunk while the scorer runs, so `es_code_index`'s closing refresh
    has only the chunks written after the scoring ended to make visible, whether or not Elasticsearch
    refreshes the index on its own (it skips a search-idle shard). Here the index never refreshes on its
    own: only the stream's refresh can make a chunk countable."""
    target = search_backend(CODE_SCHEMA)
    target.ensure()
    if isinstance(target, ElasticSearchIndex):
        target.client.indices.put_settings(index=target.name, settings={"index.refresh_interval": "-1"})
    stream = StreamIndexer(target, THRESHOLD, chunk_size=2).start()
    try:
        for n in range(5):
            stream.add(_doc(n))  # two chunks of two are handed over; the fifth document stays buffered
        assert wait_for(lambda: target.count() == 4, timeout=20)
    finally:
        streamed = stream.finish()
    assert streamed is not None and streamed.documents == 5
    target.refresh()  # the closing refresh: the last chunk, written after the scorer finished
    assert target.count() == 5
