"""The `DocumentSpool` contract, run on every implementation: `ParquetSpool` as the batch hand-off uses it
(parts of three rows, `_SUCCESS`) and as the export uses it (parts of two rows, the hidden `.SUCCESS`).

These tests speak only through the interface, on real files in a tmp dir, so another store joins by adding
a factory to `SPOOLS`. The Parquet specifics (part names, stray parts, `datasets` loading the export) are
tested in `tests/backends/test_spool.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codelupe_dagster.backends.document_spool import DocumentSpool, SpoolIncomplete, UnwritableDocument
from codelupe_dagster.backends.spool import EXPORT_MARKER, ParquetSpool

SPOOLS: dict[str, Callable[[], DocumentSpool]] = {
    "parquet": lambda: ParquetSpool(rows_per_part=3),
    "parquet-export": lambda: ParquetSpool(rows_per_part=2, marker=EXPORT_MARKER),
}


@pytest.fixture(params=sorted(SPOOLS))
def spool(request: pytest.FixtureRequest) -> DocumentSpool:
    return SPOOLS[request.param]()


def doc(i: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"{i:032x}",
        "content": f"def f{i}():\n    return {i}  # é\n",
        "path": f"pkg/m{i}.py",
        "filename": f"m{i}.py",
        "extension": "py",
        "language": "python",
        "repo": "acme/alpha",
        "repo_stars": 3,
        "license": "mit",
        "license_source": "license-file",
        "commit": "c" * 40,
        "quality_score": i / 10,
        "quality_signals": {"lines": 2, "has_docstrings": i % 2 == 0, "per_language": {"py": 0.5}},
        "size_bytes": 24,
        "lines": 2,
        "near_dup_cluster": None,
        "contaminated": "humaneval" if i == 1 else None,
        "secrets_redacted": 0,
        "batch": "b1",
        "indexed_at": None,
    }
    return {**base, **changes}


def read_all(spool: DocumentSpool, directory: Path, batch_size: int = 1000) -> list[dict[str, Any]]:
    return [d for batch in spool.documents(directory, batch_size=batch_size) for d in batch]


def test_round_trip_with_manifest(spool: DocumentSpool, tmp_path: Path) -> None:
    directory = tmp_path / "batch-1"
    docs = [doc(i) for i in range(7)]
    with spool.writer(directory) as writer:
        writer.write(docs[0])
        writer.write_many(docs[1:])
        assert writer.rows == 7
        assert not spool.is_complete(directory)  # nothing counts before the commit
        committed = writer.commit({"seen": 9, "dropped": {"binary": 2}})

    assert (committed.rows, committed.info) == (7, {"seen": 9, "dropped": {"binary": 2}})
    assert committed.parts
    assert spool.is_complete(directory)
    assert spool.manifest(directory) == committed
    # Equal documents come back in write order, object fields as objects, batches of at most batch_size.
    batches = list(spool.documents(directory, batch_size=2))
    assert all(1 <= len(batch) <= 2 for batch in batches)
    assert [d for batch in batches for d in batch] == docs


def test_flush_stores_without_completing_and_keeps_order_and_count(
    spool: DocumentSpool, tmp_path: Path
) -> None:
    directory = tmp_path / "flushed"
    docs = [doc(i) for i in range(5)]
    with spool.writer(directory) as writer:
        writer.write(docs[0])
        writer.flush()  # a short part, then more documents after it
        writer.flush()  # nothing buffered: nothing happens
        writer.write_many(docs[1:])
        writer.flush()
        assert writer.rows == 5
        assert not spool.is_complete(directory)
        committed = writer.commit()
    assert committed.rows == 5
    assert read_all(spool, directory) == docs


def test_flushed_documents_go_when_the_writer_aborts(spool: DocumentSpool, tmp_path: Path) -> None:
    directory = tmp_path / "flushed-then-failed"
    with pytest.raises(KeyboardInterrupt), spool.writer(directory) as writer:
        writer.write_many(doc(i) for i in range(2))
        writer.flush()
        raise KeyboardInterrupt
    assert not spool.is_complete(directory)
    assert not any(directory.iterdir())


def test_an_empty_batch_is_complete_and_reads_nothing(spool: DocumentSpool, tmp_path: Path) -> None:
    with spool.writer(tmp_path / "empty") as writer:
        manifest = writer.commit()
    assert (manifest.rows, manifest.info) == (0, {})
    assert spool.is_complete(tmp_path / "empty")
    assert read_all(spool, tmp_path / "empty") == []


def test_a_writer_that_never_commits_leaves_an_incomplete_spool(spool: DocumentSpool, tmp_path: Path) -> None:
    directory = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt), spool.writer(directory) as writer:
        writer.write_many(doc(i) for i in range(5))  # more than a part: some parts were stored
        raise KeyboardInterrupt
    assert not spool.is_complete(directory)
    with pytest.raises(SpoolIncomplete):
        spool.manifest(directory)
    with pytest.raises(SpoolIncomplete):
        read_all(spool, directory)


def test_abort_drops_what_was_written(spool: DocumentSpool, tmp_path: Path) -> None:
    writer = spool.writer(tmp_path / "s")
    writer.write_many(doc(i) for i in range(4))
    writer.abort()
    assert not spool.is_complete(tmp_path / "s")
    with pytest.raises(SpoolIncomplete):
        read_all(spool, tmp_path / "s")


def test_a_directory_never_written_is_incomplete(spool: DocumentSpool, tmp_path: Path) -> None:
    assert not spool.is_complete(tmp_path / "nothing")
    with pytest.raises(SpoolIncomplete):
        spool.manifest(tmp_path / "nothing")
    with pytest.raises(SpoolIncomplete):
        read_all(spool, tmp_path / "nothing")


def test_a_rerun_invalidates_the_old_spool_until_it_commits(spool: DocumentSpool, tmp_path: Path) -> None:
    directory = tmp_path / "batch"
    with spool.writer(directory) as writer:
        writer.write_many(doc(i) for i in range(5))
        writer.commit({"run": 1})

    rerun = spool.writer(directory)  # a re-run starts: the old spool is no longer complete
    assert not spool.is_complete(directory)
    with pytest.raises(SpoolIncomplete):
        read_all(spool, directory)
    rerun.write(doc(42))
    rerun.commit({"run": 2})
    assert spool.manifest(directory).info == {"run": 2}
    assert read_all(spool, directory) == [doc(42)]


def test_a_document_that_cannot_be_stored_is_refused_alone(spool: DocumentSpool, tmp_path: Path) -> None:
    with spool.writer(tmp_path / "s") as writer:
        writer.write(doc(1))
        with pytest.raises(UnwritableDocument):
            writer.write(doc(2, path="caf\udce9.py"))  # a lone surrogate: not valid UTF-8
        assert writer.rows == 1
        writer.write(doc(3, path="é.py"))
        assert writer.commit().rows == 2
    assert [d["id"] for d in read_all(spool, tmp_path / "s")] == [doc(1)["id"], doc(3)["id"]]


def test_spools_in_different_directories_are_independent(spool: DocumentSpool, tmp_path: Path) -> None:
    with spool.writer(tmp_path / "a") as first:
        first.write(doc(1))
        first.commit({"batch": "a"})
    with pytest.raises(RuntimeError), spool.writer(tmp_path / "b") as second:
        second.write(doc(2))
        raise RuntimeError("scoring failed")
    assert spool.is_complete(tmp_path / "a") and not spool.is_complete(tmp_path / "b")
    assert read_all(spool, tmp_path / "a") == [doc(1)]
