"""`codelupe search` and the licence policy: every hit shows its licence; SEARCH_LICENSE_POLICY (default
any) or --license-policy decides which licences are shown, and hits left out are counted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from codelupe_dagster.backends.search import SearchIndex
from tests.support.cli_index import index_for_cli, run_search
from tests.support.planted import indexed_python_record

CONTENT = "def zanzibar_total(values):\n    return sum(values)\n"


def _doc(n: int, repo: str, license_expression: str | None, source: str | None) -> dict:
    record = indexed_python_record(n, CONTENT, f"{repo.replace('/', '_')}/calc.py")
    record.update(repo=repo, license=license_expression, license_source=source)
    return record


DOCS = [
    _doc(1, "acme/mit", "MIT", "license-file"),
    _doc(2, "acme/unlicensed", None, None),
    _doc(3, "acme/gpl", "GPL-3.0-or-later", "api"),
]


@pytest.fixture
def configured_index(
    search_backend: Callable[..., SearchIndex],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> SearchIndex:
    return index_for_cli(
        DOCS, search_backend, request, tmp_path, monkeypatch, unset=("SEARCH_LICENSE_POLICY",)
    )


search = run_search


def hits(*args: str) -> dict[str, tuple[str | None, str | None]]:
    result = search("zanzibar_total", "--json", *args)
    return {h["repo"]: (h["license"], h["license_source"]) for h in json.loads(result.stdout)}


def test_search_shows_every_licence_by_default(configured_index: SearchIndex) -> None:
    assert hits() == {
        "acme/mit": ("MIT", "license-file"),
        "acme/unlicensed": (None, None),
        "acme/gpl": ("GPL-3.0-or-later", "api"),
    }
    text = search("zanzibar_total").output
    assert "[MIT]" in text and "[no licence found]" in text and "[GPL-3.0-or-later]" in text


def test_license_policy_option_filters_and_counts(configured_index: SearchIndex) -> None:
    assert hits("--license-policy", "permissive") == {"acme/mit": ("MIT", "license-file")}
    result = search("zanzibar_total", "--license-policy", "permissive")
    assert "hits left out by the licence policy permissive: 2 by license" in result.output


def test_search_license_policy_setting(
    configured_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEARCH_LICENSE_POLICY", "list:GPL-3.0-or-later")
    assert set(hits()) == {"acme/gpl"}
    assert set(hits("--license-policy", "any")) == {"acme/mit", "acme/unlicensed", "acme/gpl"}


def test_a_bad_policy_is_refused(configured_index: SearchIndex) -> None:
    result = search("zanzibar_total", "--license-policy", "mostly", expect=2)
    assert "permissive, any or list" in result.output
