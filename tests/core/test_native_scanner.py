"""The compiled quality scanner (`codelupe_dagster._native`, built from `native/`) is the one in use, and it
reads text exactly as the Python scanner it replaced: Python's whitespace set for `str.strip`, lone
surrogates, and the non-ASCII characters on which the two regexes depend on Python's Unicode rules.

The oracle is the frozen Python scanner of commit 4d5b659 (`tests/support/quality_reference.py`).
"""

from __future__ import annotations

import importlib
import random
from dataclasses import asdict

from codelupe_dagster.core import quality
from codelupe_dagster.core.languages import REGISTRY
from codelupe_dagster.core.syntax import Syntax, keywords
from tests.support import quality_reference as reference


def test_native_module_is_built_and_used() -> None:
    # No fallback: without the extension (`pip install -e .` builds it from native/) quality does not import.
    native = importlib.import_module("codelupe_dagster._native")
    syntax = REGISTRY.syntax_for("python")
    assert isinstance(quality._scanner(syntax), native.Scanner)
    assert quality._scanner(syntax) is quality._scanner(syntax), "one scanner per syntax and process"


def test_strip_uses_pythons_whitespace_for_every_code_point() -> None:
    scanner = quality._scanner(REGISTRY.syntax_for("c"))
    wrong = [
        hex(code)
        for code in range(0x110000)
        if code != 0x0A and (scanner.scan(chr(code))[0] == 0) != chr(code).isspace()
    ]
    assert wrong == []


_FRAGMENTS = (
    "x", "é", "变量", "\u0130", "\u0131", "\u017f", "\u212a", "\u0663", "2020", "(c)", "(C)",
    "licence", "l\u0130cense", "\u017fpdx", "SPDX", "copyright", "warranty", "redistribut",
    "all rights reserved", " ", "\t", "\x1c", "\x1f", "\xa0", "\u2028", "\u3000", "\u0085", "\x0b", "\r",
    "=", "==", "+=", ":=", "<-", "-", ".", "[0]", "'", '"', "\ud800", "\udfff", ";", "{", ")", "if",
    "for", "while", "def ", "class ", '"""', "'''", "/*", "*/", "/**", "//", "///", "#", "# ", "--",
    "\u0345", "\u093e", "\u00b2", "_", "$",
)  # fmt: skip
_PREFIXES = ("", "# ", "// ", "/* ", "-- ", "#", "//", "  ")


def _line(rng: random.Random) -> str:
    return rng.choice(_PREFIXES) + "".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 6)))


def test_non_ascii_surrogates_and_regex_corners_equal_reference() -> None:
    rng = random.Random(7)
    for language in ("python", "c", "go", "lua", "sql", "ruby", None):
        syntax = REGISTRY.syntax_for(language)
        for _ in range(1500):
            # Header-heavy texts: the license regex runs only on the leading comment block.
            text = "\n".join(_line(rng) for _ in range(rng.randint(1, 8)))
            assert asdict(quality._scan(text, syntax)) == asdict(reference._scan(text, syntax)), (
                language,
                text,
            )


def test_license_and_commented_code_decisions_on_unicode() -> None:
    syntax = REGISTRY.syntax_for("python")
    cases = {
        # Python's IGNORECASE folds U+0130 and U+0131 onto i, U+017F onto s; `\d` takes any decimal digit.
        "# l\u0130cense\nx = 1\n": 1,
        "# \u017fpdx: MIT\nx = 1\n": 1,
        "# (c) \u0661\u0669\u0669\u0669 A\nx = 1\n": 1,
        "# (c)\x1c2020 A\nx = 1\n": 1,
        "# (c) 202 A\nx = 1\n": 0,
    }
    for text, license_lines in cases.items():
        assert quality._scan(text, syntax).license == license_lines, text
        assert reference._scan(text, syntax).license == license_lines, text
    commented = {
        "x = 1": 1,
        "é = 1": 1,
        "变量 = 1": 1,
        "x\u3000= y": 1,
        "x =\x1cy": 1,
        "x =\x1c\u3000": 0,
        "x == y": 0,
        "├ = x": 0,
    }
    for body, expected in commented.items():
        text = f"y = 0\n# {body}\n"
        assert quality._scan(text, syntax).commented_code == expected, body
        assert reference._scan(text, syntax).commented_code == expected, body


def _near_misses(word: str) -> list[str]:
    """Words a keyword test must tell from `word`: longer, shorter, one letter changed, glued to a
    character beyond ASCII or to `$`."""
    return [word + "x", "x" + word, word[:-1], word[:-1] + "Q", word + "\u00e9", "$" + word, word + "_"]


def test_keywords_of_every_language_in_any_case_equal_reference() -> None:
    """Keyword lines are counted as the Python scanner counted them: every language's keywords in random
    case, among near misses, in languages that ignore case and in those that do not, and keywords of more
    than eight bytes (compared another way) in syntaxes made for the test."""
    rng = random.Random(11)
    syntaxes = [REGISTRY.syntax_for(language) for language in sorted(REGISTRY.by_name)]
    for ignore_case in (False, True):
        long_words = keywords("if", "otherwise", "endforeach", "elseif_thenelse")
        syntaxes.append(Syntax(("#",), keywords=long_words, keywords_ignore_case=ignore_case))
    for syntax in syntaxes:
        names = [k.decode() for k in sorted(syntax.keywords)] or ["if"]
        words = [w for k in names for w in (k, *_near_misses(k))]
        for _ in range(60):
            lines = []
            for _ in range(rng.randint(1, 6)):
                picked = ["".join(c.upper() if rng.random() < 0.3 else c for c in rng.choice(words))]
                picked += [rng.choice(_FRAGMENTS) for _ in range(rng.randint(0, 3))]
                rng.shuffle(picked)
                glue = rng.choice((" ", "(", "\t", "."))
                lines.append(rng.choice(("", "  ", "x = ")) + glue.join(picked))
            text = "\n".join(lines)
            found = quality._scan(text, syntax).keyword
            assert found == reference._scan(text, syntax).keyword, (syntax, text)
    assert len(syntaxes) > 20
