"""Generate `codelupe_dagster/core/linguist_table.py` from a pinned `linguist-languages` npm package.

GitHub Linguist's `languages.yml` (MIT) is the maintained list of which extensions, file names and
shebang interpreters belong to which language; the npm package `linguist-languages` republishes it
as one ES module per language. This script fetches the pinned version with `npm pack`, checks the
tarball's sha1 against the registry's, loads the modules with `node`, and writes the table:

- every language of type programming or markup, plus the data/prose languages the pipeline named
  before the table (SQL, edn, Gradle, Markdown, reStructuredText): name, type, our canonical name,
  lower-case extensions, file names and interpreters;
- for every extension and file name more than one Linguist language claims (of any type, so that
  `.ts` knows it may be a Qt translation file, XML), the claimants' canonical names (`None` for a
  language that is not in the table: data or prose, never code).

    python scripts/linguist_languages.py            # fetch, transform, write the table
    python scripts/linguist_languages.py --check    # exit 1 when the committed table differs
    python scripts/linguist_languages.py --json F   # transform an already dumped {name: entry} JSON
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "linguist-languages"
VERSION = "9.5.0"
# `npm view linguist-languages@9.5.0 dist.shasum`
SHA1 = "bca939452995e2b1b819c1ba7e78f8d49220a480"
OUTPUT = Path(__file__).resolve().parents[1] / "codelupe_dagster" / "core" / "linguist_table.py"

CODE_TYPES = frozenset({"programming", "markup"})
# Data and prose languages the pipeline named before this table; they keep being detected.
KEPT_OTHER_TYPES = frozenset({"SQL", "edn", "Gradle", "Gradle Kotlin DSL", "Markdown", "reStructuredText"})

# Linguist names whose canonical name the index already holds (its `language` field), including
# Linguist languages that the earlier table folded into one of ours (`.less` was css, `.sv` verilog,
# `.fish` shell, `.mm` objective-c, `.edn` clojure, `.gradle` groovy, every `.sql` dialect sql).
CANONICAL = {
    "Python": "python", "C": "c", "C++": "cpp", "Objective-C": "objective-c",
    "Objective-C++": "objective-c", "Java": "java", "C#": "csharp", "JavaScript": "javascript",
    "TypeScript": "typescript", "TSX": "typescript", "Go": "go", "Rust": "rust", "Kotlin": "kotlin",
    "Gradle Kotlin DSL": "kotlin", "Swift": "swift", "Scala": "scala", "Dart": "dart", "Groovy": "groovy",
    "Gradle": "groovy", "PHP": "php", "HTML+PHP": "php", "Solidity": "solidity", "Zig": "zig",
    "Verilog": "verilog", "SystemVerilog": "verilog", "CSS": "css", "Less": "css", "SCSS": "scss",
    "Sass": "scss", "Ruby": "ruby", "Shell": "shell", "fish": "shell", "Perl": "perl", "R": "r",
    "Elixir": "elixir", "Julia": "julia", "Nim": "nim", "PowerShell": "powershell", "Tcl": "tcl",
    "Makefile": "makefile", "CMake": "cmake", "Dockerfile": "dockerfile", "Lua": "lua", "SQL": "sql",
    "PLSQL": "sql", "PLpgSQL": "sql", "SQLPL": "sql", "TSQL": "sql", "Haskell": "haskell",
    "Literate Haskell": "haskell", "VHDL": "vhdl", "HTML": "html", "Vue": "vue", "Svelte": "svelte",
    "MATLAB": "matlab", "Erlang": "erlang", "Fortran": "fortran", "Fortran Free Form": "fortran",
    "Clojure": "clojure", "edn": "clojure", "Assembly": "assembly", "Unix Assembly": "assembly",
    "Motorola 68K Assembly": "assembly", "OCaml": "ocaml", "F#": "fsharp", "Markdown": "markdown",
    "reStructuredText": "restructuredtext",
    # Linguist groups manual pages under Roff; the two share every man-section extension.
    "Roff Manpage": "roff",
}  # fmt: skip

# Loads every language module of the package and prints {name: entry} as JSON.
DUMP = "import * as L from './index.js'; console.log(JSON.stringify(L))"


def slug(name: str) -> str:
    """A stable lower-case name for a Linguist language: `C#` -> `csharp`, `Ren'Py` -> `ren-py`."""
    if name in CANONICAL:
        return CANONICAL[name]
    text = name.lower().replace("c++", "cpp").replace("#", "sharp").replace("+", "p")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def interpreter_key(program: str) -> str:
    """Lower-case, version kept: `perl6` is Raku, not Perl (detection strips versions only on a miss)."""
    return program.lower()


def kept(name: str, entry: Mapping[str, Any]) -> bool:
    return entry["type"] in CODE_TYPES or name in KEPT_OTHER_TYPES


def _claims(data: Mapping[str, Mapping[str, Any]], field: str) -> dict[str, list[str]]:
    """key -> Linguist names claiming it (extensions and file names lower-cased)."""
    claims: dict[str, list[str]] = {}
    for name in sorted(data):
        for value in data[name].get(field) or ():
            names = claims.setdefault(value.lower(), [])
            if name not in names:
                names.append(name)
    return claims


def _claimant(name: str, data: Mapping[str, Mapping[str, Any]]) -> str | None:
    return slug(name) if kept(name, data[name]) else None


def _ambiguous(data: Mapping[str, Mapping[str, Any]], field: str) -> dict[str, tuple[str | None, ...]]:
    """Keys claimed by languages of more than one canonical name, with those names (None: not code)."""
    found: dict[str, tuple[str | None, ...]] = {}
    for key, names in sorted(_claims(data, field).items()):
        claimants = sorted({_claimant(n, data) for n in names}, key=lambda v: (v is None, v or ""))
        if len(claimants) > 1:
            found[key] = tuple(claimants)
    return found


def transform(data: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The table's content from Linguist's {name: entry} data."""
    languages = []
    for name in sorted(data, key=str.lower):
        entry = data[name]
        if not kept(name, entry):
            continue
        languages.append(
            (
                name,
                entry["type"],
                slug(name),
                tuple(sorted({e.lower() for e in entry.get("extensions") or ()})),
                tuple(sorted({f.lower() for f in entry.get("filenames") or ()})),
                tuple(sorted({interpreter_key(i) for i in entry.get("interpreters") or ()})),
            )
        )
    interpreters: dict[str, list[str]] = {}
    for name in sorted(data):
        for program in data[name].get("interpreters") or ():
            claimant = _claimant(name, data)
            names = interpreters.setdefault(interpreter_key(program), [])
            if claimant is not None and claimant not in names:
                names.append(claimant)
    return {
        "languages": languages,
        "ambiguous_extensions": _ambiguous(data, "extensions"),
        "ambiguous_filenames": _ambiguous(data, "filenames"),
        "ambiguous_interpreters": {
            key: tuple(sorted(names)) for key, names in sorted(interpreters.items()) if len(names) > 1
        },
    }


def _tuple(values: Iterable[Any]) -> str:
    items = [repr(v) for v in values]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


HEADER = '''# ruff: noqa: E501
# fmt: off
"""GitHub Linguist's language table, as CodeLupe reads it. GENERATED: do not edit.

Generated by `scripts/linguist_languages.py` from the npm package {package}@{version}
(tarball sha1 {sha1}), which republishes Linguist's `lib/linguist/languages.yml`.

Linguist (https://github.com/github/linguist): Copyright (c) 2017 GitHub, Inc. MIT License.
linguist-languages (https://github.com/ikatyang-collab/linguist-languages): Copyright (c) Ika. MIT License.
Both licences: permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files, to deal in the Software without restriction, subject to
including the copyright notice and permission notice; THE SOFTWARE IS PROVIDED "AS IS", WITHOUT
WARRANTY OF ANY KIND. Full texts: https://github.com/github/linguist/blob/main/LICENSE.

`LANGUAGES` rows: (Linguist name, type, canonical name, extensions, file names, interpreters), all
lower-case; programming and markup languages plus the data/prose languages CodeLupe named before.
`AMBIGUOUS_*`: keys claimed by more than one canonical name, across every Linguist language;
`None` among the claimants stands for languages outside `LANGUAGES` (data, prose: not code).
"""

from __future__ import annotations

SOURCE = "npm:{package}@{version}"
SOURCE_SHA1 = "{sha1}"

'''


def render(table: Mapping[str, Any], version: str = VERSION, sha1: str = SHA1) -> str:
    lines = [HEADER.format(package=PACKAGE, version=version, sha1=sha1)]
    row_type = "tuple[str, str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]"
    lines.append(f"LANGUAGES: tuple[{row_type}, ...] = (")
    for name, kind, canonical, *keys in table["languages"]:
        lines.append(f"    ({name!r}, {kind!r}, {canonical!r}, {', '.join(_tuple(k) for k in keys)}),")
    lines.append(")\n")
    for field, label in (
        ("ambiguous_extensions", "AMBIGUOUS_EXTENSIONS"),
        ("ambiguous_filenames", "AMBIGUOUS_FILENAMES"),
        ("ambiguous_interpreters", "AMBIGUOUS_INTERPRETERS"),
    ):
        value_type = "str" if field == "ambiguous_interpreters" else "str | None"
        lines.append(f"{label}: dict[str, tuple[{value_type}, ...]] = {{")
        lines.extend(f"    {key!r}: {_tuple(names)}," for key, names in table[field].items())
        lines.append("}\n")
    return "\n".join(lines)


def fetch(version: str = VERSION, sha1: str = SHA1) -> dict[str, Any]:
    """`npm pack` the pinned version, check its sha1, and dump its languages with node."""
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{version}", "--silent"],
            cwd=directory,
            check=True,
            capture_output=True,
        )
        tarball = Path(directory) / f"{PACKAGE}-{version}.tgz"
        digest = hashlib.sha1(tarball.read_bytes()).hexdigest()
        if digest != sha1:
            raise SystemExit(f"{tarball.name}: sha1 {digest}, expected {sha1}")
        with tarfile.open(tarball) as archive:
            archive.extractall(directory, filter="data")
        dumped = subprocess.run(
            ["node", "--input-type=module", "-e", DUMP],
            cwd=Path(directory) / "package",
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    data: dict[str, Any] = json.loads(dumped)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare with the committed table only")
    parser.add_argument("--json", type=Path, help="read Linguist's {name: entry} JSON instead of fetching")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text()) if args.json else fetch()
    text = render(transform(data))
    if args.check:
        same = args.output.read_text() == text
        print(f"{args.output}: {'up to date' if same else 'differs'}")
        return 0 if same else 1
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
