"""core.license_detection: licence files to SPDX expressions, package metadata, SPDX header tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from codelupe_dagster.core.license_detection import (
    best_match,
    declared_license,
    detect_license,
    is_license_file,
    license_data,
    license_header,
    match_license_text,
    normalize_words,
    parse_expression,
)

DATA = Path(__file__).parent / "data" / "licenses"
MIT = (DATA / "MIT.txt").read_text()
COMMON = Path("/usr/share/common-licenses")
ISC = """ISC License

Copyright (c) 2026 Someone

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
"""


def common(name: str) -> str:
    path = COMMON / name
    if not path.is_file():
        pytest.skip(f"{path} is not on this machine")
    return path.read_text()


def test_reference_data_is_the_generated_spdx_list() -> None:
    data = license_data()
    assert "spdx-license-list 6.12.0" in data.source
    assert len(data.references) > 600
    assert {"MIT", "Apache-2.0", "GPL-3.0-or-later"} <= set(data.references)
    assert "GPL-3.0-only" not in data.references  # same text as -or-later: one target
    assert data.ids["gpl-2.0"] == "GPL-2.0"  # deprecated ids stay valid in expressions


def test_mit_and_isc_are_told_apart_from_their_near_copies() -> None:
    assert match_license_text(MIT) == "MIT"
    assert match_license_text(ISC) == "ISC"  # 0BSD is ISC less one sentence


def test_copyright_lines_are_dropped_but_licence_sentences_kept() -> None:
    words = normalize_words("Copyright (c) 2020 Jane Doe\ncopyright notice and this permission notice appear")
    assert "jane" not in words and words[:2] == ["copyright", "notice"]


def test_british_spelling_and_urls_do_not_change_the_words() -> None:
    assert normalize_words("Licence at https://example.org/x") == normalize_words("License at http://other")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Apache-2.0", "Apache-2.0"),
        ("GPL-3", "GPL-3.0-or-later"),
        ("BSD", "BSD-3-Clause"),
        ("MPL-2.0", "MPL-2.0"),
    ],
)
def test_full_licence_texts_of_this_machine(name: str, expected: str) -> None:
    assert match_license_text(common(name)) == expected


def test_apache_without_its_appendix_is_still_apache() -> None:
    text = common("Apache-2.0")
    assert match_license_text(text.split("END OF TERMS AND CONDITIONS")[0]) == "Apache-2.0"


def test_prose_that_is_no_licence_gets_no_answer() -> None:
    readme = "This project parses CSV files quickly. Run make to build it and make test to test it. " * 5
    assert match_license_text(readme) is None
    assert detect_license({"LICENSE": readme}) is None
    assert best_match("") is None


def test_one_licence_changed_by_a_third_of_its_words_is_not_that_licence() -> None:
    words = MIT.split()
    mangled = " ".join(w if i % 3 else "zebra" + str(i) for i, w in enumerate(words))
    assert match_license_text(mangled) is None


def test_distinct_licence_files_all_apply() -> None:
    files = {"LICENSE-MIT": MIT, "LICENSE-ISC": ISC, "README.md": "not read"}
    assert detect_license(files) == "ISC AND MIT"
    assert detect_license({"LICENSE": MIT, "COPYING": MIT}) == "MIT"


def test_package_metadata_states_a_dual_licence() -> None:
    cargo = '[package]\nname = "x"\nlicense = "MIT OR ISC"\n\n[dependencies]\nlicense = "no"\n'
    assert detect_license({"LICENSE-MIT": MIT, "LICENSE-ISC": ISC, "Cargo.toml": cargo}) == "MIT OR ISC"
    assert detect_license({"package.json": '{"license": "mit"}'}) == "MIT"


def test_files_win_over_metadata_that_does_not_name_them() -> None:
    assert detect_license({"LICENSE": ISC, "package.json": '{"license": "MIT"}'}) == "ISC"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("package.json", '{"license": "(MIT OR Apache-2.0)"}', "MIT OR Apache-2.0"),
        ("package.json", '{"license": {"type": "ISC"}}', "ISC"),
        ("package.json", '{"license": "SEE LICENSE IN LICENSE.txt"}', None),
        ("package.json", "not json", None),
        ("pyproject.toml", '[project]\nname = "x"\nlicense = "BSD-3-Clause"\n', "BSD-3-Clause"),
        ("pyproject.toml", '[project]\nlicense = {file = "LICENSE"}\n', None),
        ("pyproject.toml", '[tool.x]\nlicense = "MIT"\n', None),
    ],
)
def test_declared_license(name: str, text: str, expected: str | None) -> None:
    assert declared_license(name, text) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("LICENSE", True),
        ("LICENSE.md", True),
        ("LICENCE.txt", True),
        ("LICENSE-APACHE", True),
        ("COPYING.LESSER", True),
        ("UNLICENSE", True),
        ("MIT-LICENSE.txt", True),
        ("licenses.py", False),
        ("LICENSING_NOTES.md", False),
        ("README.md", False),
        ("copyright_check.sh", False),
    ],
)
def test_licence_file_names(name: str, expected: bool) -> None:
    assert is_license_file(name) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mit or apache-2.0", "MIT OR Apache-2.0"),
        ("(MIT AND bsd-3-clause) OR GPL-2.0+", "(MIT AND BSD-3-Clause) OR GPL-2.0+"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0"),
        ("LicenseRef-Proprietary", "LicenseRef-Proprietary"),
        ("MIT OR", None),
        ("(MIT", None),
        ("Foo-1.0", None),
        ("MIT WITH Nonsense-exception", None),
        ("", None),
    ],
)
def test_parse_expression(text: str, expected: str | None) -> None:
    assert parse_expression(text) == expected


def test_license_header_in_a_files_first_lines() -> None:
    assert license_header("// SPDX-License-Identifier: apache-2.0\nint x;\n") == "Apache-2.0"
    assert license_header("/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */\n") == (
        "GPL-2.0 WITH Linux-syscall-note"
    )
    assert license_header("<!-- SPDX-License-Identifier: MIT OR 0BSD -->") == "MIT OR 0BSD"


def test_license_header_ignores_tags_below_the_header_and_unknown_ids() -> None:
    body = "x = 1\n" * 40
    assert license_header(body + "# SPDX-License-Identifier: MIT\n") is None
    assert license_header("# SPDX-License-Identifier: My-Own-Licence\n") is None
    assert license_header("print('no tag')\n") is None


def test_a_short_licence_file_with_a_tag_is_that_expression() -> None:
    notice = "This project is dual licensed.\nSPDX-License-Identifier: MIT OR Apache-2.0\n"
    assert detect_license({"LICENSE": notice}) == "MIT OR Apache-2.0"


def test_a_licence_text_with_notes_of_its_own_is_that_licence() -> None:
    history = "A. HISTORY OF THE SOFTWARE\n" + "It was written at CWI in the Netherlands. " * 20
    assert match_license_text(history + "\n\n" + MIT) == "MIT"
    assert match_license_text(MIT + "\n\n" + history) == "MIT"
    assert match_license_text(history) is None
