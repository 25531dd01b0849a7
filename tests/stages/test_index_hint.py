"""The scoring workers compute the content's camelCase sub-words (`ProcessedFile.content_subwords`); the
spool carries them as the `content__subwords` hint column, and indexing a spool gives the same index with
the hint as an old spool without it. Real files: CPython's stdlib, found at run time."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pyarrow.parquet as pq

from codelupe_dagster.backends.search import CODE_SCHEMA, open_search_index
from codelupe_dagster.backends.search.code_tokens import camel_subwords, subwords_hint_key
from codelupe_dagster.backends.spool import ShardWriter, iter_documents, read_manifest
from codelupe_dagster.stages.file_processing import ProcessedFile, ProcessingConfig, process_file
from codelupe_dagster.stages.handoff import ClonedRepo
from codelupe_dagster.stages.index_spool import index_spool
from codelupe_dagster.stages.score_batch import code_document

HINT = subwords_hint_key("content")
QUERIES = ("request", "parseHttpRequest", "getLogger", "assert equal", "TestCase", "json decoder", "naïve")


def processed_stdlib(limit: int) -> list[ProcessedFile]:
    root = Path(sysconfig.get_paths()["stdlib"])
    found: list[ProcessedFile] = []
    for path in sorted(root.glob("*/*.py")):
        result = process_file(str(path.relative_to(root)), path.read_bytes(), ProcessingConfig())
        if isinstance(result, ProcessedFile):
            found.append(result)
        if len(found) >= limit:
            break
    return found


def test_the_worker_computes_the_sub_words_of_the_content_it_keeps() -> None:
    processed = processed_stdlib(60)
    assert len(processed) == 60
    for result in processed:
        assert result.content_subwords == camel_subwords(result.content), result.path
    assert any(result.content_subwords for result in processed)


def write_spool(directory: Path, processed: list[ProcessedFile]) -> None:
    repo = ClonedRepo("python/cpython", "/nowhere", None, {"stars": 1, "license": "PSF-2.0"})
    with ShardWriter(directory, rows_per_part=25) as writer:
        for result in processed:
            writer.write(code_document(result, repo, "c" * 40, "b1"))
        writer.commit({})


def test_a_spool_with_the_hint_indexes_like_one_without(tmp_path: Path) -> None:
    processed = processed_stdlib(80)
    write_spool(tmp_path / "hinted", processed)
    parts = read_manifest(tmp_path / "hinted").parts
    assert HINT in pq.read_schema(tmp_path / "hinted" / parts[0]).names
    hints = [d[HINT] for docs in iter_documents(tmp_path / "hinted") for d in docs]
    assert hints == [result.content_subwords for result in processed]

    # An old spool, and documents from elsewhere: no hint at all.
    write_spool(tmp_path / "old", [ProcessedFile(**{**vars(r), "content_subwords": None}) for r in processed])
    assert all(HINT not in d for docs in iter_documents(tmp_path / "old") for d in docs)

    indexes = {}
    for name in ("hinted", "old"):
        index = open_search_index(CODE_SCHEMA, data_dir=tmp_path / f"index-{name}")
        index.ensure()
        written = index_spool(index, tmp_path / name, "b1", threshold=0.0, bulk_size=30)
        assert len(written.ids) == len(processed)
        index.refresh()
        indexes[name] = index
    hinted, old = indexes["hinted"], indexes["old"]
    ids = [result.doc_id for result in processed]
    strip = {"indexed_at"}  # the clock's
    assert {i: {k: v for k, v in d.items() if k not in strip} for i, d in hinted.get(ids).items()} == {
        i: {k: v for k, v in d.items() if k not in strip} for i, d in old.get(ids).items()
    }
    assert all(HINT not in d for d in hinted.iter_documents())
    found_any = False
    for query in QUERIES:
        expected = [(h.id, h.score) for h in old.search(query, size=20)]
        assert [(h.id, h.score) for h in hinted.search(query, size=20)] == expected, query
        found_any = found_any or bool(expected)
    assert found_any
