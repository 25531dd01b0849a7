"""`codelupe search` redacts what it prints: an index written before a detector existed (a document with
a raw token and raw addresses in its content and path, written straight to the backend as an old
corpus holds it) prints redacted lines and paths, with a line per kind, on both
backends and with the configured PII_REDACT kinds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from codelupe_dagster.backends.search import SearchIndex
from codelupe_dagster.backends.search.query_syntax import parse_query
from codelupe_dagster.cli.search import matching_lines
from tests.support.cli_index import index_for_cli, run_search
from tests.support.planted import GITHUB_TOKEN, indexed_python_record

ADDRESS = "alice.smith@corp-mail.com"
PUBLIC_IP = "93.184.216.34"
CONTENT = f'TOKEN = "{GITHUB_TOKEN}"\nOWNER = "{ADDRESS}"\nHOST = "{PUBLIC_IP}"\n'
PATH = f"people/{ADDRESS}/{GITHUB_TOKEN}.py"
REDACTED_PATH = "people/<EMAIL>/<SECRET:github_pat>.py"

OLD = indexed_python_record(int("1" * 32, 16), CONTENT, PATH)


@pytest.fixture
def configured_index(
    search_backend: Callable[..., SearchIndex],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> SearchIndex:
    return index_for_cli([OLD], search_backend, request, tmp_path, monkeypatch, unset=("PII_REDACT",))


search = run_search


def assert_clean(text: str) -> None:
    assert GITHUB_TOKEN not in text and ADDRESS not in text and PUBLIC_IP not in text
    assert GITHUB_TOKEN.split("_", 1)[1] not in text  # not even the token's body, cut from its prefix


def test_search_prints_matching_lines_and_paths_redacted(configured_index: SearchIndex) -> None:
    output = search("OWNER").output
    assert f"acme/old:{REDACTED_PATH}" in output
    assert '2: [[OWNER]] = "<EMAIL>"' in output
    assert_clean(output)
    # What the hit had replaced, per kind: content, path and file name.
    assert "secrets redacted (github_pat): 3" in output
    assert "personal data redacted (email): 2" in output
    assert "personal data redacted (ip): 1" in output


def test_a_match_inside_redacted_text_shows_no_fragment(configured_index: SearchIndex) -> None:
    # "corp" is only inside the address: no redacted line holds it, and the backend's fragment, cut from
    # the raw text, is not what is printed.
    result = search("corp", "--json")
    [hit] = json.loads(result.stdout)
    assert (hit["path"], hit["lines"]) == (REDACTED_PATH, [])
    assert_clean(result.output)
    assert "redacted" in result.stderr and "redacted" not in result.stdout  # stdout stays one JSON document

    # A query for the raw token finds the old document, and prints none of it.
    result = search(GITHUB_TOKEN)
    assert f"acme/old:{REDACTED_PATH}" in result.output
    assert_clean(result.output)


def test_lines_are_chosen_in_the_redacted_text() -> None:
    content = 'x = 1\nparseHttp(x)  # <EMAIL>\nTOKEN = "<SECRET:github_pat>"\n'
    terms = parse_query("parse token alice").terms
    assert matching_lines(content, terms) == [
        {"line": 2, "text": "parseHttp(x)  # <EMAIL>", "marks": [[0, 5]]},
        {"line": 3, "text": 'TOKEN = "<SECRET:github_pat>"', "marks": [[0, 5]]},
    ]
    assert matching_lines(content, terms, limit=1) == [matching_lines(content, terms)[0]]


def test_search_redacts_the_configured_kinds_and_refuses_unknown_ones(
    configured_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PII_REDACT", "ip")
    output = search("OWNER", "--json").stdout
    [hit] = json.loads(output)
    assert hit["path"] == f"people/{ADDRESS}/<SECRET:github_pat>.py"  # email not configured; secrets always
    assert hit["lines"] == [{"line": 2, "text": f'OWNER = "{ADDRESS}"', "marks": [[0, 5]]}]
    [hit] = json.loads(search("HOST", "--json").stdout)
    assert hit["lines"] == [{"line": 3, "text": 'HOST = "<IP_ADDRESS>"', "marks": [[0, 4]]}]

    monkeypatch.setenv("PII_REDACT", "phone")
    assert "PII_REDACT: unknown PII kind(s) ['phone']" in search("OWNER", expect=2).output
