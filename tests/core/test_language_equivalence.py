"""Language detection, thresholds and quality scores equal the values recorded before the language table.

`data/language_golden.json` was written by `bench/language_equivalence.py golden` with the code that
kept three separate per-language tables (detection, thresholds, scanner syntax). It holds its inputs
too: every extension, file name and shebang that code knew, and snippets scored as every language.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.language_equivalence import score_row
from codelupe_dagster.core.language import detect_language, may_be_code, thresholds_for

GOLDEN = json.loads((Path(__file__).parent / "data" / "language_golden.json").read_text())


def test_detection_is_unchanged():
    changed = [
        (path, head, expected, (detect_language(path, head), may_be_code(path)))
        for path, head, *expected in GOLDEN["detect"]
        if [detect_language(path, head), may_be_code(path)] != expected
    ]
    assert len(GOLDEN["detect"]) > 800
    assert changed == []


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
