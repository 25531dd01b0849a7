"""Adding a language is one `LanguageSpec`: detection, thresholds and both scorers pick it up."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from codelupe_dagster.core import filters
from codelupe_dagster.core.filter_thresholds import DEFAULT_THRESHOLDS
from codelupe_dagster.core.language import EXTENSIONS, LANGUAGES, detect_language, may_be_code, thresholds_for
from codelupe_dagster.core.language_registry import LanguageSpec
from codelupe_dagster.core.languages import LANGUAGE_SPECS, REGISTRY
from codelupe_dagster.core.quality import scan, score_seed_v1, score_v2
from codelupe_dagster.core.syntax import SeedSyntax, Syntax, keywords

# A Pascal dialect no table knows (Linguist's Pascal is in the default registry).
PASCAL = LanguageSpec(
    "toypascal",
    extensions=(".tpas", ".tpascal"),
    interpreters=("toyfpc",),
    syntax=Syntax(
        ("//",),
        (("{", "}"), ("(*", "*)")),
        keywords=keywords("if", "for", "while", "case", "repeat"),
        keywords_ignore_case=True,
        definition=("function ", "procedure "),
    ),
    seed=SeedSyntax(("//", "{", "(*")),
    thresholds=replace(DEFAULT_THRESHOLDS, max_line_length=200),
)
WITH_PASCAL = REGISTRY.with_specs(PASCAL)

PROGRAM = """\
{ Copyright (c) 2024 Example Authors. Licensed under the MIT License. }
program Demo;

{ Adds two numbers. }
function Add(a, b: Integer): Integer;
begin
  IF a > b then
    Add := a + b
  else
    Add := b;
end;

(* plain block
   comment *)
procedure Loop;
var i: Integer;
begin
  for i := 1 to 3 do
    WriteLn(i);
  // x := 1;
end;
"""


def test_a_new_language_is_detected():
    assert detect_language("src/Unit.TPAS", languages=WITH_PASCAL) == "toypascal"
    assert (
        detect_language("bin/tool", "#!/usr/bin/env toyfpc\nbegin end.\n", languages=WITH_PASCAL)
        == "toypascal"
    )
    assert may_be_code("src/unit.tpascal", languages=WITH_PASCAL)
    assert "toypascal" in WITH_PASCAL.indexed
    # The default table does not know it, and is not changed by the new registry.
    assert detect_language("src/Unit.TPAS") is None
    assert not may_be_code("src/unit.tpascal")
    assert "toypascal" not in LANGUAGES
    assert ".tpas" not in EXTENSIONS


def test_a_new_language_gets_its_thresholds():
    text = "x := 1;\n" * 20 + "s := '" + "ab cd " * 50 + "';\n"  # one 308-character line
    limits = thresholds_for("toypascal", languages=WITH_PASCAL)
    assert limits.max_line_length == 200
    assert filters.check_content("unit.tpas", "toypascal", text, limits) == filters.MAX_LINE_LENGTH
    assert thresholds_for("toypascal") is DEFAULT_THRESHOLDS
    assert filters.check_content("unit.tpas", "toypascal", text) is None


def test_a_new_language_is_scanned_with_its_syntax():
    counts = scan(PROGRAM, "toypascal", languages=WITH_PASCAL)
    # 19 non-blank lines: `{ Copyright }` is a license header (1 line); `{ Adds }` documents Add and the
    # two-line `(* *)` block documents Loop (3 doc lines, 2 units); `// x := 1;` is disabled code;
    # IF (case-insensitive) and `for` are the branch lines among 14 code lines.
    assert asdict(counts) == {
        "non_blank": 19,
        "comment": 5,
        "doc": 3,
        "code": 14,
        "keyword": 2,
        "license": 1,
        "commented_code": 1,
        "docstrings": 2,
        "definitions": 2,
    }
    # Unknown to the default table, the braces are code to the generic syntax.
    assert scan(PROGRAM, "toypascal").comment == 1


def test_a_new_language_is_scored_with_its_syntax():
    v2 = score_v2(PROGRAM, "toypascal", languages=WITH_PASCAL)
    assert (v2.signals["docstring_count"], v2.signals["definitions"]) == (2, 2)
    assert v2.signals["license_header_lines"] == 1
    assert v2.score > score_v2(PROGRAM, "toypascal").score
    seed = score_seed_v1(PROGRAM, "toypascal", languages=WITH_PASCAL)
    # 4 lines start with a Pascal comment marker: {, {, (*, //.
    assert seed.signals["comment_ratio"] == round(4 / 19, 4)
    assert score_seed_v1(PROGRAM, "toypascal").signals["comment_ratio"] == round(1 / 19, 4)


def test_derived_tables_follow_the_specs():
    for spec in LANGUAGE_SPECS:
        assert all(EXTENSIONS[extension] == spec.name for extension in spec.extensions)
        assert thresholds_for(spec.name) is spec.thresholds
        assert (spec.name in LANGUAGES) is spec.indexed
    assert {"markdown", "restructuredtext"} & LANGUAGES == set()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LanguageSpec("snake", extensions=(".py",)), "'.py' is claimed by both python and snake"),
        (LanguageSpec("python", extensions=(".snake",)), "language 'python' is listed twice"),
        (LanguageSpec("make2", filenames=("makefile",)), "'makefile' is claimed by both makefile and make2"),
        (LanguageSpec("py2", interpreters=("python",)), "'python' is claimed by both python and py2"),
    ],
)
def test_a_conflicting_entry_is_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        REGISTRY.with_specs(spec)


@pytest.mark.parametrize(
    "fields",
    [
        {"extensions": (".PAS",)},
        {"extensions": ("pas",)},
        {"filenames": ("Makefile2",)},
        {"marked_extensions": (".h",)},
    ],
)
def test_a_malformed_entry_is_refused(fields):
    with pytest.raises(ValueError):
        LanguageSpec("toypascal", **fields)
