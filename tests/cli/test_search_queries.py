"""`codelupe search` answers questions on both backends: any word finds a file (those holding more words
first), `--all` needs every word, the shown line is the one holding the most terms (whole words, never a
substring), terms are marked as plain text, `--language` alone lists files, and unsupported operators
are a one-line error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from codelupe_dagster.backends.search import SearchIndex
from codelupe_dagster.backends.search.matching import LineMatch
from codelupe_dagster.cli.search import PLAIN_MARKS, TERMINAL_MARKS, _print_hits
from tests.support.cli_index import index_for_cli, run_search
from tests.support.planted import indexed_python_record

READER = (
    "# Copyright (c) the authors; see food.txt\n"
    "import csv\n\n\n"
    "class TableReader:\n"
    '    """Reads rows of a csv file."""\n\n'
    "    def foo(self, path):\n"
    "        return list(csv.reader(open(path)))\n"
)
DATABASE = "import sqlite3\n\n\ndef open_connection(database):\n    return sqlite3.connect(database)\n"
SHELL = "#!/bin/sh\necho opening the database connection\n"


def _doc(n: int, content: str, path: str, language: str = "python") -> dict:
    record = indexed_python_record(n, content, path)
    record["language"] = language
    return record


DOCS = [
    _doc(1, READER, "lib/table_reader.py"),
    _doc(2, DATABASE, "lib/db.py"),
    _doc(3, SHELL, "bin/open_db.sh", "shell"),
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


def paths(*args: str) -> list[str]:
    return [hit["path"] for hit in json.loads(run_search(*args, "--json").stdout)]


def test_questions_find_files_holding_some_of_their_words(configured_index: SearchIndex) -> None:
    assert paths("class that reads csv")[0] == "lib/table_reader.py"
    # db.py holds all three words, the script two ("opening" is not "open"), the reader one.
    assert paths("open database connection") == ["lib/db.py", "bin/open_db.sh", "lib/table_reader.py"]
    assert paths("open database connection", "--all") == ["lib/db.py"]
    assert paths("class that reads csv", "--all") == []


def test_the_line_shown_holds_the_most_terms_as_words(configured_index: SearchIndex) -> None:
    [hit] = json.loads(run_search("def foo(", "--json", "--limit", "1").stdout)
    assert hit["lines"][0] == {"line": 8, "text": "def foo(self, path):", "marks": [[0, 3], [4, 7]]}
    output = run_search("def foo(", "--limit", "1").output
    assert "8: [[def]] [[foo]](self, path):" in output
    assert "<em>" not in output and "\x1b[" not in output  # not a terminal: brackets, no escapes
    assert "Copyright" not in output  # "foo" inside "food" is no match


def test_terms_are_bold_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    hit = {"repo": "r", "path": "p", "license": None, "score": 1.0, "quality_score": 0.5, "language": "go"}
    line = LineMatch(3, "func Open()", ((5, 9),))
    _print_hits([{**hit, "lines": [{"line": 3, "text": line.text, "marks": [[5, 9]]}]}], TERMINAL_MARKS)
    assert "func \x1b[1mOpen\x1b[22m()" in capsys.readouterr().out
    assert line.marked(*PLAIN_MARKS) == "func [[Open]]()"


def test_language_alone_lists_files_in_any_case(configured_index: SearchIndex) -> None:
    assert sorted(paths("--language", "Python")) == ["lib/db.py", "lib/table_reader.py"]
    assert paths("lang:SHELL") == ["bin/open_db.sh"]
    assert paths("open", "--language", "PYTHON") == ["lib/db.py", "lib/table_reader.py"] or set(
        paths("open", "--language", "PYTHON")
    ) == {"lib/db.py", "lib/table_reader.py"}
    assert paths("csv -reader lang:python") == []
    assert paths("connection path:BIN/") == ["bin/open_db.sh"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("csv AND NOT reader",), "error: AND is not an operator here"),
        (("title:csv",), "error: unknown operator title:"),
        (("",), "error: nothing to search for"),
    ],
)
def test_unsupported_queries_are_one_line_errors(
    configured_index: SearchIndex, args: tuple[str, ...], message: str
) -> None:
    result = run_search(*args, expect=2)
    # The first line names the state directory (every command does); then the one error line.
    state, error = result.output.splitlines()
    assert state.startswith("state: ") and error.startswith(message)
