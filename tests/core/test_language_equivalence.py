"""Language detection, thresholds and quality scores equal the values recorded before the language table.

`data/language_golden.json` was written by `bench/language_equivalence.py golden` with the code that
kept three separate per-language tables (detection, thresholds, scanner syntax). It holds its inputs
too: every extension, file name and shebang that code knew, and snippets scored as every language.

Detection moved to Linguist's table in issue 11, on purpose: an extension several languages share
(`.h`, `.m`, `.pl`, `.ts`, ...) is now settled by content or left unlabelled, and names the earlier
table did not know (`Makefile.am`) get Linguist's language. Every other recorded case is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.language_equivalence import score_row
from codelupe_dagster.core.language import detect_language, may_be_code, thresholds_for
from codelupe_dagster.core.languages import REGISTRY

GOLDEN = json.loads((Path(__file__).parent / "data" / "language_golden.json").read_text())


# Linguist names these; the earlier table read them by their shebang or not at all.
NEWLY_NAMED = {"dir/Makefile.am": ["makefile", True]}


def _shared(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return any(name[i:] in REGISTRY.ambiguous for i, char in enumerate(name) if char == "." and i > 0)


def test_detection_is_unchanged_outside_shared_extensions():
    kept = [
        (path, head, NEWLY_NAMED.get(path, expected))
        for path, head, *expected in GOLDEN["detect"]
        if expected[0] is not None and not _shared(path)
    ]
    changed = [
        (path, head, expected, [detect_language(path, head), may_be_code(path)])
        for path, head, expected in kept
        if [detect_language(path, head), may_be_code(path)] != expected
    ]
    assert len(kept) > 550
    assert changed == []


def test_shared_extensions_without_content_have_no_language():
    shared = [
        (path, expected)
        for path, head, *expected in GOLDEN["detect"]
        # `Dockerfile.h` is named by its file name before its extension is read.
        if head is None and _shared(path) and "dockerfile" not in path.lower()
    ]
    assert len(shared) > 30
    assert [path for path, _ in shared if detect_language(path) is not None] == []
    # Those the earlier table knew are still read (the content may settle them), or skipped
    # (`README.md`), exactly as before; unknown ones (`.d`) may now be read.
    assert [path for path, (language, maybe) in shared if language and may_be_code(path) != maybe] == []


def test_thresholds_are_unchanged():
    changed = {
        language: asdict(thresholds_for(None if language == "null" else language))
        for language, expected in GOLDEN["thresholds"].items()
        if asdict(thresholds_for(None if language == "null" else language)) != expected
    }
    assert len(GOLDEN["thresholds"]) > 45
    assert changed == {}


@pytest.mark.parametrize("snippet", sorted(GOLDEN["snippets"]))
def test_scores_and_signals_are_unchanged(snippet):
    text = GOLDEN["snippets"][snippet]
    expected = [row for row in GOLDEN["scores"] if row[0] == snippet]
    assert len(expected) > 45
    assert [score_row(snippet, text, language) for _, language, *_ in expected] == expected
