"""A fresh code index on one search backend, with the environment pointing the CLI at it, and a runner for
`codelupe search`: what the CLI tests of search need on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.cli import _register, cli


def index_for_cli(
    docs: Iterable[dict[str, Any]],
    search_backend: Callable[..., SearchIndex],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    unset: Iterable[str] = (),
) -> SearchIndex:
    """`docs` in a fresh code index of the test's backend; DATA_DIR, ES_CODE_INDEX and ELASTICSEARCH_URL set
    for the CLI, and the variables in `unset` removed so their defaults apply."""
    index = search_backend(CODE_SCHEMA)
    index.bulk_upsert(list(docs)).raise_for_errors()
    index.refresh()
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ES_CODE_INDEX", index.name)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    if request.node.callspec.params["search_backend"] == "elasticsearch":
        monkeypatch.setenv("ELASTICSEARCH_URL", request.getfixturevalue("elasticsearch_url"))
    else:
        monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    return index


def run_search(*args: str, expect: int = 0) -> Result:
    """`codelupe search ARGS`, asserting its exit code."""
    _register()
    result = CliRunner().invoke(cli, ["search", *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result
