"""One CodeDocument, every schema derived from it: the spool's Parquet schema, the index on both
backends (Elasticsearch mapping, SQLite columns), and the export list exactly its fields."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from codelupe_dagster.backends.search import CODE_SCHEMA, IndexSchema, open_search_index
from codelupe_dagster.backends.search.code_tokens import subwords_hint_key
from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex
from codelupe_dagster.backends.search.elastic_mapping import WORDS_SUFFIX, index_mappings
from codelupe_dagster.backends.search.sqlite_index import SqliteSearchIndex
from codelupe_dagster.backends.search.sqlite_layout import SqliteLayout
from codelupe_dagster.backends.spool import (
    CODE_DOC_SCHEMA,
    HINT_COLUMNS,
    ShardWriter,
    arrow_schema,
    iter_documents,
)
from codelupe_dagster.cli.export import export_corpus
from codelupe_dagster.core.documents import (
    CODE_FIELD_NAMES,
    CODE_FIELDS,
    STORED_CODE_FIELDS,
    CodeDocument,
    FieldSpec,
)

ALL_FIELDS = ("id", *CODE_FIELD_NAMES)


def document(i: int, **overrides: Any) -> CodeDocument:
    content = f"def parseHttpRequest{i}(raw):\n    return raw\n"
    values: dict[str, Any] = {
        "id": f"{i:032x}",
        "content": content,
        "path": f"pkg/m{i}.py",
        "filename": f"m{i}.py",
        "extension": "py",
        "language": "python",
        "repo": "acme/alpha",
        "repo_stars": 7,
        "license": "mit",
        "commit": "c" * 40,
        "quality_score": 0.5 + i / 100,
        "quality_signals": {"lines": 2, "comment_ratio": 0.0, "has_docstrings": False},
        "size_bytes": len(content),
        "lines": 2,
        "near_dup_cluster": None,
        "secrets_redacted": i % 2,
        "batch": "b1",
        "indexed_at": f"2026-11-28T17:00:{i:02d}+00:00",
    }
    values.update(overrides)
    return CodeDocument(**values)


def test_the_field_table_is_the_documents_attributes_in_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(CodeDocument)) == ALL_FIELDS
    assert tuple(document(1).to_record()) == ALL_FIELDS
    assert {"content", "path", "repo", "quality_score", "quality_signals", "indexed_at"} <= set(ALL_FIELDS)
    kinds = {spec.name: spec.kind for spec in CODE_FIELDS}
    assert kinds["content"] == "code" and kinds["quality_score"] == "float"
    assert kinds["indexed_at"] == "date" and kinds["quality_signals"] == "object"
    assert [s.name for s in CODE_FIELDS if s.searched] == ["content"]
    assert "quality_signals" not in [s.name for s in CODE_FIELDS if s.filterable]


def test_record_round_trip_and_defaults() -> None:
    doc = document(3)
    assert CodeDocument.from_record({**doc.to_record(), "unknown": 1}) == doc
    fresh = CodeDocument.from_record({k: v for k, v in doc.to_record().items() if k != "indexed_at"})
    assert fresh.indexed_at is None


def test_field_flags_are_checked() -> None:
    assert FieldSpec("topic", "keyword").filterable is True
    assert FieldSpec("note", "text").searched is True
    assert FieldSpec("size", "int", filterable=False).filterable is False
    with pytest.raises(ValueError, match="cannot be filterable"):
        FieldSpec("signals", "object", filterable=True)
    with pytest.raises(ValueError, match="searched"):
        FieldSpec("path", "keyword", searched=True)
    with pytest.raises(ValueError, match="unknown kind"):
        FieldSpec("x", "blob")  # type: ignore[arg-type]


def test_the_spool_schema_lists_exactly_the_document_fields_then_the_indexing_hints(tmp_path: Path) -> None:
    assert (subwords_hint_key("content"),) == HINT_COLUMNS
    assert tuple(CODE_DOC_SCHEMA.names) == (*ALL_FIELDS, *HINT_COLUMNS)
    with ShardWriter(tmp_path / "s") as writer:
        writer.write_many(document(i).to_record() for i in range(3))
        manifest = writer.commit()
    written = pq.read_schema(tmp_path / "s" / manifest.parts[0])
    assert tuple(written.names) == (*ALL_FIELDS, *HINT_COLUMNS)
    read = [d for batch in iter_documents(tmp_path / "s") for d in batch]
    assert [tuple(d) for d in read] == [ALL_FIELDS] * 3  # no hint written: none read back
    assert [CodeDocument.from_record(d) for d in read] == [document(i) for i in range(3)]


def test_the_code_index_schema_is_the_document() -> None:
    assert CODE_SCHEMA.fields == CODE_FIELDS
    properties = index_mappings(CODE_SCHEMA)["properties"]
    assert {p for p in properties if not p.endswith(WORDS_SUFFIX)} == set(ALL_FIELDS)
    assert {p for p in properties if p.endswith(WORDS_SUFFIX)} == {"content" + WORDS_SUFFIX}
    layout = SqliteLayout.of(CODE_SCHEMA)
    assert (*layout.text_fields, *layout.typed_fields, layout.sort_field) == tuple(
        s.name for s in CODE_FIELDS if s.searched or s.filterable
    )


def test_a_new_field_reaches_every_derived_schema() -> None:
    """What one new attribute of CodeDocument gives each layer, without touching the layer."""
    grown = (*CODE_FIELDS, FieldSpec("reviewer", "keyword"), FieldSpec("notes", "text"))
    schema = IndexSchema("code", grown)
    assert arrow_schema(grown).names[-2:] == ["reviewer", "notes"]
    properties = index_mappings(schema)["properties"]
    assert properties["reviewer"] == {"type": "keyword"}
    assert properties["notes" + WORDS_SUFFIX]["type"] == "text"
    layout = SqliteLayout.of(schema)
    assert "reviewer" in layout.typed_fields and "notes" in layout.text_fields
    carried = IndexSchema("code", (*CODE_FIELDS, FieldSpec("size_hint", "int", filterable=False)))
    assert index_mappings(carried)["properties"]["size_hint"]["index"] is False
    assert "size_hint" not in SqliteLayout.of(carried).typed_fields


def _stored_columns(index: Any) -> set[str]:
    """What the live backend declares for the index, mapped back to document field names."""
    if isinstance(index, ElasticSearchIndex):
        mapping = index.client.indices.get_mapping(index=index.name).body
        properties = next(iter(mapping.values()))["mappings"]["properties"]
        return {p for p in properties if not p.endswith(WORDS_SUFFIX)}
    assert isinstance(index, SqliteSearchIndex)
    with sqlite3.connect(index.path) as conn:
        columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{index.name}")')]
    fields = {c[2:] for c in columns if c.startswith(("f_", "t_"))}
    return fields | {"id"} | ({"indexed_at"} if "sort_at" in columns else set())


def test_each_backend_indexes_the_document_fields_and_returns_the_document(search_backend) -> None:
    index = search_backend(CODE_SCHEMA)
    columns = _stored_columns(index)
    # Every filterable or searched field has its own column or mapped field; the object field rides
    # along in the stored document (a disabled object on Elasticsearch, the JSON column on SQLite).
    indexed = {"id", *(s.name for s in CODE_FIELDS if s.searched or s.filterable)}
    assert indexed <= columns <= set(ALL_FIELDS)
    docs = [document(i) for i in range(4)]
    assert index.bulk_upsert(d.to_record() for d in docs).errors == []
    index.refresh()
    assert [CodeDocument.from_record(d) for d in index.iter_documents()] == docs


def test_export_lists_exactly_the_stored_fields(tmp_path: Path) -> None:
    index = open_search_index(CODE_SCHEMA, data_dir=tmp_path, index_name="export-test")
    index.ensure()
    records = [document(i).to_record() for i in range(5)]
    records[0]["scratch"] = "an index-only extra that no dataset should carry"
    assert index.bulk_upsert(records).errors == []
    manifest = export_corpus(index, tmp_path / "out", min_quality=0.515, rows_per_shard=2)
    assert manifest.rows == 3
    names = [tuple(pq.read_schema(tmp_path / "out" / part).names) for part in manifest.parts]
    assert set(names) == {("id", *(s.name for s in STORED_CODE_FIELDS))}
    rows = [row for part in manifest.parts for row in pq.read_table(tmp_path / "out" / part).to_pylist()]
    assert [json.loads(r["quality_signals"]) for r in rows] == [
        records[i]["quality_signals"] for i in (2, 3, 4)
    ]
    assert [r["id"] for r in rows] == [records[i]["id"] for i in (2, 3, 4)]


def test_the_scorer_builds_its_documents_as_code_documents() -> None:
    from codelupe_dagster.stages import score_batch
    from codelupe_dagster.stages.file_processing import ProcessedFile

    processed = ProcessedFile(
        path="src/Main.JAVA",
        language="java",
        content="class Main {}\n",
        digest=bytes(range(16)),
        quality_score=0.4,
        quality_signals={"lines": 1},
        size_bytes=14,
        lines=1,
        band_keys=(),
        secrets={"email": 2, "aws_key": 1},
    )
    repo = score_batch.ClonedRepo("acme/alpha", "/nowhere", None, {"stars": 5, "license": "mit"})
    record = score_batch.code_document(processed, repo, "c" * 40, "b7", near_dup_cluster=None)
    assert tuple(record) == ALL_FIELDS  # no sub-words computed: no hint
    hinted = replace(processed, content_subwords="parse Http Request")
    record = score_batch.code_document(hinted, repo, "c" * 40, "b7", near_dup_cluster=None)
    assert tuple(record) == (*ALL_FIELDS, subwords_hint_key("content"))
    assert record[subwords_hint_key("content")] == "parse Http Request"
    doc = CodeDocument.from_record(record)
    assert (doc.id, doc.extension, doc.filename) == (bytes(range(16)).hex(), "java", "Main.JAVA")
    assert (doc.repo_stars, doc.license, doc.secrets_redacted, doc.batch) == (5, "mit", 3, "b7")
    assert doc.indexed_at is None
