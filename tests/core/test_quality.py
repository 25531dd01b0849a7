import pytest

from codelupe_dagster.core.quality import SCORERS, QualityResult, scan, score_seed_v1, score_v2

# 60 lines: a docstring line, 10 comment lines, 10 x (if + body), 29 assignments.
SEED_FULL = (
    '"""Module doc."""\n' + "# explain the next step\n" * 10 + "if x:\n    y = 1\n" * 10 + "z = 2\n" * 29
)
# 30 lines, 2 loop lines, no comments, no docstrings.
SEED_LOW = "for i in y:\n    pass\n" * 2 + "x = 1\n" * 26
# Go, 25 lines: 5 comments, 10 x (if line + closing brace).
SEED_GO = "// helper\n" * 5 + "if a {\n}\n" * 10


@pytest.mark.parametrize(
    ("text", "language", "expected_score", "expected_signals"),
    [
        # lines 60 in [50, 500] -> 0.3; comments 10/60 = 0.1667 in [0.1, 0.3] -> 0.3;
        # '"""' present -> 0.2; complexity 10 if-lines / 60 = 0.1667 in [0.1, 0.5] -> 0.2; total 1.0
        (
            SEED_FULL,
            "python",
            1.0,
            {"lines": 60, "non_blank_lines": 60, "comment_ratio": 0.1667, "complexity": 0.1667},
        ),
        # lines 30 in [20, 1000] but not [50, 500] -> 0.2; comments 0/30 -> 0; no docstring -> 0;
        # complexity 2/30 = 0.0667 < 0.1 -> 0; total 0.2
        (
            SEED_LOW,
            "python",
            0.2,
            {"lines": 30, "non_blank_lines": 30, "comment_ratio": 0.0, "complexity": 0.0667},
        ),
        # lines 25 -> 0.2; comments 5/25 = 0.2 -> 0.3; no /** /// or """ -> 0; complexity 10/25 = 0.4 -> 0.2;
        # total 0.7
        (SEED_GO, "go", 0.7, {"lines": 25, "non_blank_lines": 25, "comment_ratio": 0.2, "complexity": 0.4}),
        # 10 lines -> 0; 1 comment / 10 = 0.1 (inclusive bound) -> 0.3; no docstring; complexity 0 -> 0;
        # total 0.3
        ("# c\n" + "x = 1\n" * 9, "python", 0.3, {"lines": 10, "comment_ratio": 0.1, "complexity": 0.0}),
        # blank lines count for length (60 -> 0.3) but not in the ratios: 1 comment / 30 non-blank
        # = 0.0333 -> 0; 0 keywords -> 0; total 0.3
        ("# c\n" + "x = 1\n\n" * 29 + "y = 2\n", "python", 0.3, {"lines": 60, "non_blank_lines": 31}),
        # 1200 lines -> 0 for length; everything else 0 too
        ("x = 1\n" * 1200, "python", 0.0, {"lines": 1200, "has_docstrings": False}),
        ("", "python", 0.0, {"lines": 0, "non_blank_lines": 0, "comment_ratio": 0.0}),
    ],
)
def test_seed_v1_hand_computed(text, language, expected_score, expected_signals):
    result = score_seed_v1(text, language)
    assert result.score == expected_score
    for name, value in expected_signals.items():
        assert result.signals[name] == value, name


def test_seed_v1_comment_markers_are_per_language():
    c_code = "#include <stdio.h>\n" * 3 + "int x;\n" * 7
    assert score_seed_v1(c_code, "c").signals["comment_ratio"] == 0.0
    assert score_seed_v1("# note\n" + "x = 1\n" * 9, "python").signals["comment_ratio"] == 0.1


def test_signals_include_the_documented_names():
    for scorer in SCORERS.values():
        result = scorer(SEED_FULL, "python")
        assert isinstance(result, QualityResult)
        assert {
            "lines", "non_blank_lines", "comment_ratio", "has_docstrings", "complexity",
            "max_line_length", "mean_line_length", "alnum_fraction",
        } <= set(result.signals)  # fmt: skip
        assert 0.0 <= result.score <= 1.0
        assert result.score == round(result.score, 4)


def test_v2_rewards_what_seed_v1_rewards():
    assert score_v2(SEED_FULL, "python").score >= 0.9
    assert score_v2(SEED_LOW, "python").score < 0.4


LICENSE = """// Copyright 2024 The Example Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.
// Redistribution and use in source and binary forms are permitted.
"""
GO_BODY = "package calc\n\n" + "".join(
    f"// Add{i} adds {i} to x.\nfunc Add{i}(x int) int {{\n"
    f"\tif x < 0 {{\n\t\treturn 0\n\t}}\n\treturn x + {i}\n}}\n\n"
    for i in range(8)
)


def test_v2_does_not_credit_license_headers():
    with_license = score_v2(LICENSE + "\n" + GO_BODY, "go")
    assert with_license.signals["license_header_lines"] == 4
    assert with_license.signals["comment_ratio"] == score_v2(GO_BODY, "go").signals["comment_ratio"]
    # seed_v1 counts the license as comments
    assert (
        score_seed_v1(LICENSE + GO_BODY, "go").signals["comment_ratio"]
        > score_seed_v1(GO_BODY, "go").signals["comment_ratio"]
    )


def test_v2_does_not_credit_commented_out_code():
    live = "def f(x):\n    y = x + 1\n    return y\n" * 5
    dead = "# y = compute(x)\n# return y;\n# foo(bar)\n" * 3
    result = score_v2(live + dead, "python")
    assert result.signals["commented_code_lines"] == 9
    assert result.signals["comment_ratio"] == 0.0


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("python", 'def area(r):\n    """Area of a circle."""\n    return 3.14 * r * r\n'),
        ("python", 'class Shape:\n    """A shape."""\n\n    sides = 0\n'),
        ("python", '"""Module docstring."""\nimport os\n'),
        ("javascript", "/**\n * Adds two numbers.\n */\nfunction add(a, b) {\n  return a + b;\n}\n"),
        ("java", "/** A point. */\npublic class Point {\n  int x;\n}\n"),
        ("rust", "/// Adds one.\npub fn add_one(x: i32) -> i32 {\n    x + 1\n}\n"),
        ("rust", "//! Crate docs.\nmod a;\n"),
        ("go", GO_BODY),
        ("ruby", "# Greets a person.\ndef greet(name)\n  puts name\nend\n"),
        ("lua", "-- Doubles n.\nlocal function double(n)\n  return n * 2\nend\n"),
    ],
)
def test_v2_detects_docstrings_per_language(language, text):
    assert score_v2(text, language).signals["has_docstrings"] is True


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("python", "def area(r):\n    return 3.14 * r * r\n\nx = '''not a docstring'''\n"),
        ("javascript", "// adds\n\nconst add = (a, b) => a + b;\n"),
        ("go", "package calc\n\nfunc Add(x int) int {\n\treturn x\n}\n"),
        ("c", "/* plain block comment */\nint main(void) { return 0; }\n"),
    ],
)
def test_v2_no_docstrings(language, text):
    assert score_v2(text, language).signals["has_docstrings"] is False


def test_v2_block_comments_and_strings_are_not_code():
    c_code = "/*\n * if this were code\n * for loops would count\n */\nint x = 1;\nif (x) { x++; }\n"
    counts = scan(c_code, "c")
    assert (counts.comment, counts.code, counts.keyword) == (4, 2, 1)
    py_code = 'x = """\nif inside a string\n"""\nif x:\n    pass\n'
    counts = scan(py_code, "python")
    assert counts.keyword == 1


def test_v2_is_continuous_where_seed_v1_steps():
    def body(lines: int) -> str:
        return (
            '"""Doc."""\n' + "# why\n" * (lines // 5) + "if a:\n    b = 1\n" * ((lines - 1 - lines // 5) // 2)
        )

    for language in ("python",):
        a, b = body(49), body(51)
        assert abs(score_v2(a, language).score - score_v2(b, language).score) < 0.05
    # seed_v1 jumps by 0.1 at 50 lines
    assert score_seed_v1("x\n" * 50, None).score - score_seed_v1("x\n" * 49, None).score == pytest.approx(0.1)
    assert abs(score_v2("x = 1\n" * 50, "python").score - score_v2("x = 1\n" * 49, "python").score) < 0.01


def test_unknown_language_uses_generic_syntax():
    result = score_v2("# comment\n// another\nif x then y\n" * 10, None)
    assert result.signals["comment_ratio"] > 0
    assert result.signals["complexity"] > 0


def test_seed_v1_counts_whitespace_only_lines_as_blank_and_keywords_as_whole_words():
    # "\x0c" (form feed) lines are blank; "iffy" and "format" hold no keyword; "else:" does.
    text = "\x0c\n# note\niffy = format\nelse:\n    x = 1\n"
    result = score_seed_v1(text, "python")
    assert result.signals["non_blank_lines"] == 4
    assert result.signals["comment_ratio"] == 0.25
    assert result.signals["complexity"] == 0.25
