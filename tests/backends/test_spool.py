from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from codelupe_dagster.backends.spool import (
    EXPORT_MARKER,
    SUCCESS_MARKER,
    ShardWriter,
    SpoolIncomplete,
    is_complete,
    iter_documents,
    read_manifest,
)


def doc(i: int) -> dict:
    return {
        "id": f"{i:032x}",
        "content": f"def f{i}():\n    return {i}\n",
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
        "quality_signals": {"lines": 2, "has_docstrings": False},
        "size_bytes": 24,
        "lines": 2,
        "near_dup_cluster": None,
        "contaminated": "humaneval" if i == 1 else None,
        "secrets_redacted": 0,
        "batch": "b1",
        "indexed_at": None,
    }


def test_round_trip_in_parts(tmp_path: Path) -> None:
    with ShardWriter(tmp_path / "s", rows_per_part=3) as writer:
        writer.write_many(doc(i) for i in range(7))
        manifest = writer.commit({"seen": 9})
    assert manifest.parts == ("part-00000.parquet", "part-00001.parquet", "part-00002.parquet")
    assert read_manifest(tmp_path / "s").info == {"seen": 9}
    rows = [d for batch in iter_documents(tmp_path / "s", batch_size=2) for d in batch]
    assert rows == [doc(i) for i in range(7)]


def test_texts_are_stored_without_a_dictionary(tmp_path: Path) -> None:
    """Code and other large texts are written plain (a dictionary of whole files only costs CPU), the
    small keyword columns dictionary-encoded, and both read back as written."""
    with ShardWriter(tmp_path / "s") as writer:
        writer.write_many(doc(i) for i in range(20))
        manifest = writer.commit()
    meta = pq.ParquetFile(tmp_path / "s" / manifest.parts[0]).metadata.row_group(0)
    encodings = {meta.column(k).path_in_schema: meta.column(k).encodings for k in range(meta.num_columns)}
    assert not any("DICTIONARY" in e for e in encodings["content"])
    assert any("DICTIONARY" in e for e in encodings["repo"])
    assert any("DICTIONARY" in e for e in encodings["language"])
    rows = [d for batch in iter_documents(tmp_path / "s") for d in batch]
    assert rows == [doc(i) for i in range(20)]


def test_a_part_also_ends_at_its_character_bound(tmp_path: Path) -> None:
    """Parts end at a size in text too, so that a batch's parts are written while it is scored and only
    a small last one after it: one big file (or many small ones) must not make one big part."""
    docs = [doc(i) for i in range(7)]
    docs[2]["content"] = "x = 1\n" * 200  # 1,200 characters: this row ends a part on its own count
    with ShardWriter(tmp_path / "s", rows_per_part=100, chars_per_part=1000) as writer:
        for d in docs:
            writer.write(d)
        parts_before_commit = len(list((tmp_path / "s").glob("part-*.parquet")))
        manifest = writer.commit()
    assert parts_before_commit == 1  # written as soon as it filled, not at the commit
    assert [pq.ParquetFile(tmp_path / "s" / part).metadata.num_rows for part in manifest.parts] == [3, 4]
    assert [d for batch in iter_documents(tmp_path / "s") for d in batch] == docs


def test_unfinished_writer_leaves_no_marker_and_no_parts(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), ShardWriter(tmp_path / "s", rows_per_part=2) as writer:
        writer.write_many(doc(i) for i in range(5))
        raise KeyboardInterrupt
    assert not is_complete(tmp_path / "s")
    assert list((tmp_path / "s").iterdir()) == []
    with pytest.raises(SpoolIncomplete, match=SUCCESS_MARKER):
        list(iter_documents(tmp_path / "s"))


def test_rewrite_invalidates_old_marker_first(tmp_path: Path) -> None:
    with ShardWriter(tmp_path / "s", rows_per_part=2) as writer:
        writer.write_many(doc(i) for i in range(5))
        writer.commit()
    writer = ShardWriter(tmp_path / "s", rows_per_part=2)  # a re-run starts
    assert not is_complete(tmp_path / "s")
    writer.write(doc(42))
    writer.commit()
    assert [d["id"] for b in iter_documents(tmp_path / "s") for d in b] == [doc(42)["id"]]


def test_stray_parts_are_not_read(tmp_path: Path) -> None:
    with ShardWriter(tmp_path / "s") as writer:
        writer.write(doc(1))
        writer.commit()
    (tmp_path / "s" / "part-00099.parquet").write_bytes(b"junk from a crashed writer")
    assert [d["id"] for b in iter_documents(tmp_path / "s") for d in b] == [doc(1)["id"]]


def test_export_layout_loads_with_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    with ShardWriter(tmp_path / "export", rows_per_part=2, marker=EXPORT_MARKER) as writer:
        writer.write_many(doc(i) for i in range(5))
        writer.commit()
    loaded = datasets.load_dataset(
        "parquet", data_dir=str(tmp_path / "export"), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert loaded.num_rows == 5
    assert sorted(loaded["id"]) == sorted(doc(i)["id"] for i in range(5))


def test_a_document_that_cannot_be_stored_is_refused_alone(tmp_path) -> None:
    from codelupe_dagster.backends.spool import ShardWriter, UnwritableDocument, iter_documents

    with ShardWriter(tmp_path / "s", rows_per_part=2) as writer:
        writer.write({"id": "a", "path": "ok.py", "content": "x = 1\n"})
        with pytest.raises(UnwritableDocument, match="path"):
            writer.write({"id": "b", "path": "caf\udce9.py", "content": "x = 2\n"})
        writer.write({"id": "c", "path": "é.py", "content": "y = 'é'\n"})
        writer.commit()
    assert [d["id"] for chunk in iter_documents(tmp_path / "s") for d in chunk] == ["a", "c"]
