"""`stages.dataset_export`: the Hub layout, the card and stats.json from the export's own numbers, the export
policy with its exclusions counted, atomic replacement, and forget on registered exports; on both search
backends (SQLite and Elasticsearch)."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.core.corpus_policy import ConsumerPolicy
from codelupe_dagster.core.documents import STORED_CODE_FIELDS, CodeDocument
from codelupe_dagster.stages import dataset_export
from codelupe_dagster.stages.dataset_export import (
    ExportOptions,
    ExportTargetError,
    export_dataset,
    forget_in_exports,
    iter_export,
    read_stats,
    registered_exports,
)
from tests.support.planted import GITHUB_TOKEN

CORPUS = {
    "batches": 2,
    "seen": 40,
    "kept": 12,
    "kept_bytes": 999,
    "exact_duplicates": 5,
    "near_duplicates": 3,
    "unaccounted": 0,
    "dropped": {"binary": 7, "too_large": 13},
    "secrets_redacted": {"github_pat": 2},
    "pii_redacted": {"email": 4},
    "languages": {"python": 8, "go": 4},
}


def doc(
    n: int,
    language: str = "python",
    license: str | None = "MIT",
    contaminated: str | None = None,
    content: str | None = None,
    repo: str = "acme/alpha",
    secrets_redacted: int = 0,
) -> dict[str, Any]:
    text = content if content is not None else f"def f{n}():\n    return {n}  # é\n"
    return CodeDocument(
        id=f"{n:032x}",
        content=text,
        path=f"src/f{n}.{language[:2]}",
        filename=f"f{n}.{language[:2]}",
        extension=language[:2],
        language=language,
        repo=repo,
        repo_stars=n,
        license=license,
        license_source="api" if license else None,
        commit="c" * 40,
        quality_score=0.5 + n / 100,
        quality_signals={"lines": 2, "n": n},
        size_bytes=len(text.encode()),
        lines=2,
        contaminated=contaminated,
        secrets_redacted=secrets_redacted,
        batch="b1",
        indexed_at=f"2026-01-{1 + n:02d}T00:00:00+00:00",
    ).to_record()


DOCS = [
    doc(1),
    doc(2, secrets_redacted=2),
    doc(3, license="Apache-2.0 OR MIT"),
    doc(4, content=f'TOKEN = "{GITHUB_TOKEN}"\n'),  # an old document: redacted again on export
    doc(5, language="go", license="BSD-3-Clause"),
    doc(6, language="go", license="GPL-3.0-only"),  # not permissive
    doc(7, language="go", license=None),  # no licence: never permissive
    doc(8, language="rust", contaminated="humaneval"),
    doc(9, language="rust", license="EUPL-1.2 OR MIT", contaminated="humaneval,mbpp"),
    doc(10, language="rust", license="MIT", repo="acme/beta"),
]


@pytest.fixture
def index(search_backend: Callable[..., SearchIndex]) -> SearchIndex:
    made = search_backend(CODE_SCHEMA)
    made.ensure()
    made.bulk_upsert(DOCS).raise_for_errors()
    made.refresh()
    return made


def shard_names(out: Path) -> dict[str, list[str]]:
    return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted((out / "data").iterdir())}


def card_meta(out: Path) -> dict[str, Any]:
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_layout_stats_and_card_match_what_was_indexed(index: SearchIndex, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = export_dataset(index, out, ExportOptions(rows_per_shard=2), corpus=CORPUS)
    stats = result.stats
    assert stats == read_stats(out)

    # Permissive and clean by default: 6 GPL-3.0-only and 7 (no licence) for licence, 8 and 9 contaminated.
    exported_ids = {d["id"] for _, d in iter_export(out)}
    assert exported_ids == {DOCS[i]["id"] for i in (0, 1, 2, 3, 4, 9)}
    assert stats["excluded"] == {"contaminated": 2, "license": 2}
    assert stats["decontamination"]["sets"] == {
        "humaneval": {"left_out": 2, "exported": 0},
        "mbpp": {"left_out": 1, "exported": 0},
    }
    assert shard_names(out) == {
        "go": ["train-00000-of-00001.parquet"],
        "python": ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"],
        "rust": ["train-00000-of-00001.parquet"],
    }
    # Hidden helper files never reach the dataset directory.
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data", "stats.json"]

    # Numbers equal the exported rows.
    rows = [d for _, d in iter_export(out)]
    assert stats["documents"] == len(rows) == 6
    assert stats["bytes"] == sum(len(r["content"].encode()) for r in rows)
    per_language = Counter(r["language"] for r in rows)
    assert {k: v["documents"] for k, v in stats["languages"].items()} == per_language
    assert stats["languages"]["python"]["shards"] == 2
    assert stats["licenses"] == {"Apache-2.0 OR MIT": 1, "BSD-3-Clause": 1, "MIT": 4}
    assert stats["license_sources"] == {"api": 6}
    assert stats["redaction"]["on_export"]["secrets"] == {"github_pat": 1}
    assert stats["redaction"]["in_documents"] == 2
    assert stats["redaction"]["at_scoring"] == {"secrets": {"github_pat": 2}, "pii": {"email": 4}}
    assert stats["duplicates"] == {"exact": 5, "near": 3}
    assert stats["corpus"]["dropped"] == {"binary": 7, "too_large": 13}
    assert stats["policy"] == {"license_policy": "permissive", "exclude_contaminated": True}
    first, last = "2026-01-02T00:00:00+00:00", "2026-01-11T00:00:00+00:00"
    assert stats["indexed_range"] == {"first": first, "last": last}
    assert list(stats["features"]) == ["id", *(s.name for s in STORED_CODE_FIELDS)]
    assert GITHUB_TOKEN not in json.dumps(rows)

    # Columns: the spool's schema, unchanged.
    schema = pq.read_schema(out / "data" / "go" / "train-00000-of-00001.parquet")
    assert schema.equals(dataset_export.EXPORT_SCHEMA)

    meta = card_meta(out)
    assert meta["license"] == ["apache-2.0", "bsd-3-clause", "mit"]
    assert meta["language"] == ["code"] and meta["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in meta["configs"]] == ["all", "go", "python", "rust"]
    assert meta["configs"][0]["default"] is True
    assert meta["configs"][2]["data_files"] == [{"split": "train", "path": "data/python/*.parquet"}]
    info = {c["config_name"]: c for c in meta["dataset_info"]}
    assert info["all"]["splits"][0]["num_examples"] == 6
    assert info["python"]["splits"][0]["num_examples"] == 4
    assert info["python"]["download_size"] == sum(
        p.stat().st_size for p in (out / "data" / "python").iterdir()
    )
    assert {f["name"]: f["dtype"] for f in info["go"]["features"]} == stats["features"]
    assert stats["features"]["quality_score"] == "float64" and stats["features"]["content"] == "large_string"
    body = (out / "README.md").read_text()
    assert "20 files seen" not in body and "40 files seen, 12 kept" in body
    assert "binary 7, too_large 13" in body and "humaneval | 2 | 0" in body
    assert "`permissive`" in body and "codelupe forget" in body


def test_policy_overrides_are_applied_and_counted(index: SearchIndex, tmp_path: Path) -> None:
    policy = ConsumerPolicy.from_settings("export", "any", include_contaminated=True)
    stats = export_dataset(index, tmp_path / "any", ExportOptions(policy=policy)).stats
    assert stats["documents"] == len(DOCS) and stats["excluded"] == {}
    assert stats["decontamination"]["sets"] == {
        "humaneval": {"left_out": 0, "exported": 2},
        "mbpp": {"left_out": 0, "exported": 1},
    }
    assert stats["licenses"]["none"] == 1
    meta = card_meta(tmp_path / "any")
    # GPL has a Hub id, EUPL-1.2 does not (`other`, named); no licence at all is `unknown`.
    assert meta["license"] == ["apache-2.0", "bsd-3-clause", "gpl-3.0", "mit", "unknown", "other"]
    assert meta["license_name"] == "eupl-1.2"
    assert stats["corpus"] is None and stats["duplicates"] is None

    listed = ConsumerPolicy.from_settings("export", "list:BSD-3-Clause")
    stats = export_dataset(index, tmp_path / "bsd", ExportOptions(policy=listed, language="go")).stats
    assert stats["documents"] == 1 and stats["excluded"] == {"license": 2}
    assert list(stats["languages"]) == ["go"] and stats["filters"]["language"] == "go"


def test_min_quality_and_an_empty_export(index: SearchIndex, tmp_path: Path) -> None:
    stats = export_dataset(index, tmp_path / "q", ExportOptions(min_quality=0.545)).stats
    assert {d["id"] for _, d in iter_export(tmp_path / "q")} == {DOCS[4]["id"], DOCS[9]["id"]}
    assert stats["documents"] == 2
    empty = export_dataset(index, tmp_path / "none", ExportOptions(min_quality=2.0)).stats
    assert empty["documents"] == 0 and empty["languages"] == {}
    assert "configs" not in card_meta(tmp_path / "none")
    # Still a dataset: one shard with the columns and no row group (what `datasets` can read).
    assert [p.name for p in (tmp_path / "none" / "data").iterdir()] == ["train-00000-of-00001.parquet"]
    shard = pq.ParquetFile(tmp_path / "none" / "data" / "train-00000-of-00001.parquet")
    assert shard.schema_arrow == dataset_export.EXPORT_SCHEMA and shard.metadata.num_row_groups == 0
    assert list(iter_export(tmp_path / "none")) == []


def test_an_interrupted_export_leaves_the_previous_one_intact(
    index: SearchIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "exports" / "ds"
    first = export_dataset(index, out, ExportOptions(rows_per_shard=2)).stats
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    real = dataset_export._LanguageShards.write
    written = 0

    def failing(self: Any, document: dict) -> None:
        nonlocal written
        written += 1
        if written == 4:
            raise KeyboardInterrupt  # killed mid-export
        real(self, document)

    monkeypatch.setattr(dataset_export._LanguageShards, "write", failing)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(index, out, ExportOptions(rows_per_shard=1))
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["ds"]  # no staging left behind
    assert read_stats(out) == first


def test_a_directory_that_is_not_an_export_is_never_replaced(index: SearchIndex, tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ExportTargetError):
        export_dataset(index, precious, ExportOptions())
    assert (precious / "notes.txt").read_text() == "keep me"
    export_dataset(index, tmp_path / "empty-is-fine", ExportOptions())


def test_a_crash_between_the_renames_is_repaired(index: SearchIndex, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "ds"
    stats = export_dataset(index, out, ExportOptions()).stats
    os.rename(out, out.parent / ".ds.old-999999999")  # the first rename happened, the second did not
    export_dataset(index, out, replace(ExportOptions(), min_quality=0.545))
    assert read_stats(out)["documents"] == 2 and stats["documents"] == 6
    assert sorted(p.name for p in out.parent.iterdir()) == ["ds"]
    # Both renames happened, the old copy was not deleted yet: the next export removes it.
    shutil.copytree(out, out.parent / ".ds.old-999999999")
    export_dataset(index, out, ExportOptions())
    assert sorted(p.name for p in out.parent.iterdir()) == ["ds"] and read_stats(out)["documents"] == 6


def test_forget_rewrites_every_registered_export(
    index: SearchIndex, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    everything = ExportOptions(policy=ConsumerPolicy.from_settings("export", "any", True), rows_per_shard=2)
    export_dataset(index, tmp_path / "a", ExportOptions(), corpus=CORPUS, data_dir=data_dir)
    export_dataset(index, tmp_path / "b", everything, data_dir=data_dir)
    export_dataset(index, tmp_path / "gone", ExportOptions(), data_dir=data_dir)
    assert set(registered_exports(data_dir)) == {str(tmp_path / n) for n in ("a", "b", "gone")}
    shutil.rmtree(tmp_path / "gone")

    removed = forget_in_exports(data_dir, lambda d: d["repo"] == "acme/beta" or d["id"] == DOCS[7]["id"])
    assert removed == {str(tmp_path / "a"): 1, str(tmp_path / "b"): 2}
    assert "gone" in caplog.text
    assert set(registered_exports(data_dir)) == {str(tmp_path / "a"), str(tmp_path / "b")}

    a = read_stats(tmp_path / "a")
    assert a["documents"] == 5 and a["forgotten"] == 1 and "updated_at" in a
    assert "rust" not in a["languages"] and not (tmp_path / "a" / "data" / "rust").exists()
    assert a["corpus"] == CORPUS  # what describes the corpus at export time is kept
    assert registered_exports(data_dir)[str(tmp_path / "a")]["documents"] == 5
    assert "rust" not in [c["config_name"] for c in card_meta(tmp_path / "a")["configs"]]

    b = read_stats(tmp_path / "b")
    ids = {d["id"] for _, d in iter_export(tmp_path / "b")}
    assert DOCS[9]["id"] not in ids and DOCS[7]["id"] not in ids and len(ids) == 8 == b["documents"]
    assert b["decontamination"]["sets"]["humaneval"] == {"left_out": 0, "exported": 1}
    assert b["languages"]["rust"]["documents"] == 1 and b["languages"]["rust"]["shards"] == 1
    assert sorted(os.listdir(tmp_path / "b" / "data" / "rust")) == ["train-00000-of-00001.parquet"]

    # Nothing more to remove: exports untouched.
    assert forget_in_exports(data_dir, lambda d: d["repo"] == "acme/beta") == {
        str(tmp_path / "a"): 0,
        str(tmp_path / "b"): 0,
    }


def test_forgetting_every_document_of_an_export_leaves_a_dataset_of_zero_rows(
    index: SearchIndex, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    export_dataset(index, tmp_path / "go", ExportOptions(language="go"), data_dir=data_dir)
    assert read_stats(tmp_path / "go")["documents"] > 0
    forget_in_exports(data_dir, lambda d: True)
    assert read_stats(tmp_path / "go")["documents"] == 0
    assert sorted(p.name for p in (tmp_path / "go" / "data").iterdir()) == ["train-00000-of-00001.parquet"]
    shard = pq.ParquetFile(tmp_path / "go" / "data" / "train-00000-of-00001.parquet")
    assert shard.schema_arrow == dataset_export.EXPORT_SCHEMA and shard.metadata.num_rows == 0


def test_shards_stream_in_row_groups(
    index: SearchIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset_export, "ROW_GROUP_ROWS", 2)
    out = tmp_path / "rg"
    export_dataset(index, out, ExportOptions(rows_per_shard=3))
    shards = sorted((out / "data" / "python").iterdir())
    assert [p.name for p in shards] == ["train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    metas = [pq.read_metadata(p) for p in shards]
    assert [(m.num_rows, m.num_row_groups) for m in metas] == [(3, 2), (1, 1)]
    # Large files close a row group early: here every file is over the byte bound.
    monkeypatch.setattr(dataset_export, "ROW_GROUP_BYTES", 10)
    export_dataset(index, out, ExportOptions(rows_per_shard=3))
    metas = [pq.read_metadata(p) for p in sorted((out / "data" / "python").iterdir())]
    assert [(m.num_rows, m.num_row_groups) for m in metas] == [(3, 3), (1, 1)]
    # Oldest first within a language, across shards and row groups.
    ids = [r["id"] for p in shards for r in pq.read_table(p).to_pylist()]
    assert ids == [DOCS[i]["id"] for i in (0, 1, 2, 3)]
