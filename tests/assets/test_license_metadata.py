"""Dagster metadata counts documents per licence and per licence source (scored_files, es_code_index)."""

from __future__ import annotations

from collections.abc import Callable

from codelupe_dagster.assets.index import es_code_index, license_metadata
from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from tests.assets.test_score_and_index import materialize
from tests.support.planted import PlantedCorpus, indexed_python_record


def _doc(n: int, license_expression: str | None, source: str | None) -> dict:
    record = indexed_python_record(n, f"x = {n}\n", f"m{n}.py")
    record.update(license=license_expression, license_source=source)
    return record


def test_index_counts_per_licence_and_source(search_backend: Callable[..., SearchIndex]) -> None:
    index = search_backend(CODE_SCHEMA)
    docs = [_doc(1, "MIT", "api"), _doc(2, "MIT", "license-file"), _doc(3, None, None)]
    docs.append(_doc(4, "GPL-3.0-or-later", "file-header"))
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    metadata = license_metadata(index)
    assert metadata["index_licenses"].data == {"MIT": 2, "GPL-3.0-or-later": 1, "none": 1}
    assert metadata["index_license_sources"].data == {
        "api": 1,
        "license-file": 1,
        "file-header": 1,
        "none": 1,
    }


def test_batch_metadata_accounts_for_every_kept_and_indexed_document(
    planted: PlantedCorpus, redis_url: str, resources_for: Callable[..., dict]
) -> None:
    resources = resources_for(planted.data_dir, redis_url)
    result = materialize(planted, resources, [scored_files, es_code_index], workers=0)
    assert result.success
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    assert sum(scored["licenses"].data.values()) == scored["kept"].value
    assert sum(scored["license_sources"].data.values()) == scored["kept"].value
    indexed = result.asset_materializations_for_node("es_code_index")[0].metadata
    count = resources["search"].code_index().count()
    assert sum(indexed["index_licenses"].data.values()) == count
    assert sum(indexed["index_license_sources"].data.values()) == count
