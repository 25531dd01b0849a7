"""Proof that the language table, the filter thresholds and the quality scanners keep their outputs.

Two checks, both comparing against values recorded with an earlier version of the code:

- `corpus`: every file under CPython's `Lib` (from `sysconfig`) and Go's `src` (when present) goes
  through language detection, `may_be_code`, the content filters' thresholds and reason, and both
  quality scorers (score, signals and the scanner's line counts). One line per file is hashed;
  `--write FILE` records the lines, `--check FILE` compares and names the first files that differ.
- `golden`: a fixed, machine-independent sample (the file `tests/core/data/language_golden.json`):
  detection of every extension, file name and shebang the table knew, thresholds of every
  language, and a set of snippets scored as every language. `--write` records it; the unit test
  `tests/core/test_language_equivalence.py` replays it on every run.

Both were recorded at commit 3fb85b7, before the language table (`core/languages.py`), when detection,
thresholds and scanner syntax were three tables (that code imported `thresholds_for` from
`core.filter_thresholds`). On Python 3.11.7's Lib + Go's src that gave 13,928 files, digest
e5bb6438efbd15aebf55d8e1f42fb4fed51dd1c81c07c5f276d06b7bf6a8c49f; the table gives the same.

Issue 11 moved detection to GitHub Linguist's table (`core/linguist_table.py`): shared extensions
(`.h`, `.m`, `.pl`, ...) are settled by content or left unlabelled, and Linguist names files the
earlier table did not know, so `corpus --check` against that digest now names those files on
purpose; thresholds and scores are unchanged. Label accuracy is measured by
`bench/language_labels.py`, and the golden test checks detection only outside shared extensions.

Usage:
  .venv/bin/python bench/language_equivalence.py corpus [--write FILE | --check FILE]
  .venv/bin/python bench/language_equivalence.py golden --write tests/core/data/language_golden.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import sysconfig
from dataclasses import asdict
from typing import Any

from codelupe_dagster.core import filters
from codelupe_dagster.core.language import detect_language, may_be_code, thresholds_for
from codelupe_dagster.core.quality import scan, score_seed_v1, score_v2

HEAD_CHARS = 4096
SKIPPED_DIRECTORIES = frozenset({"__pycache__", "site-packages"})


def corpus_roots() -> list[str]:
    roots = [sysconfig.get_paths()["stdlib"]]
    if os.path.isdir("/usr/local/go/src"):
        roots.append("/usr/local/go/src")
    return roots


def corpus_files(roots: list[str]) -> list[tuple[str, str]]:
    """(absolute path, path relative to its root) of every regular file, sorted."""
    found = []
    for root in roots:
        for directory, subdirectories, names in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
            for name in names:
                absolute = os.path.join(directory, name)
                if os.path.isfile(absolute) and not os.path.islink(absolute):
                    found.append((absolute, os.path.relpath(absolute, os.path.dirname(root))))
    return sorted(found)


def scored(text: str, language: str | None) -> dict[str, Any]:
    """Everything the scanners and scorers say about `text` read as `language`."""
    seed, v2 = score_seed_v1(text, language), score_v2(text, language)
    return {
        "scan": asdict(scan(text, language)),
        "seed_v1": [seed.score, seed.signals],
        "v2": [v2.score, v2.signals],
    }


def file_record(relative: str, data: bytes) -> dict[str, Any]:
    text = filters.decode_text(data)
    language = detect_language(relative, None if text is None else text[:HEAD_CHARS])
    record: dict[str, Any] = {
        "path": relative,
        "language": language,
        "may_be_code": may_be_code(relative),
        "thresholds": asdict(thresholds_for(language)),
    }
    if text is not None:
        record["reason"] = filters.check_content(relative, language or "", text)
        record.update(scored(text, language))
    return record


def corpus(args: argparse.Namespace) -> int:
    roots = corpus_roots()
    lines = []
    for absolute, relative in corpus_files(roots):
        with open(absolute, "rb") as handle:
            lines.append(json.dumps(file_record(relative, handle.read()), sort_keys=True))
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    languages = sum('"language": null' not in line for line in lines)
    print(f"{len(lines):,} files ({languages:,} with a language) under {', '.join(roots)}")
    print(f"digest {digest}")
    if args.write:
        with open(args.write, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        print(f"recorded in {args.write}")
    if args.check:
        with open(args.check) as handle:
            recorded = handle.read().splitlines()
        differing = [(old, new) for old, new in zip(recorded, lines, strict=False) if old != new]
        if len(recorded) != len(lines) or differing:
            print(f"DIFFERENT: {len(recorded)} recorded vs {len(lines)} now, {len(differing)} lines differ")
            for old, new in differing[:5]:
                print(f"  before: {old[:300]}\n  after:  {new[:300]}")
            return 1
        print(f"identical to {args.check}")
    return 0


# --------------------------------------------------------------------------- golden sample


def _words(text: str) -> list[str]:
    return text.split()


# Extensions, file names and interpreters the language table knew when the sample was recorded,
# written out here (not read from the table) so an entry that goes missing shows up.
EXTENSIONS = _words(
    ".py .pyw .pyi .js .mjs .cjs .jsx .ts .tsx .mts .cts .go .rs .java .c .h .cc .cpp .cxx .c++ .hpp "
    ".hh .hxx .h++ .ipp .tpp .inl .cs .rb .rake .gemspec .php .phtml .sh .bash .zsh .ksh .fish .kt "
    ".kts .swift .scala .sc .lua .pl .pm .t .r .hs .lhs .sql .html .htm .xhtml .css .scss .sass .less "
    ".m .mm .dart .ex .exs .erl .hrl .clj .cljs .cljc .edn .jl .fs .fsx .fsi .ml .mli .groovy .gradle "
    ".ps1 .psm1 .zig .nim .vue .svelte .sol .mk .cmake .f .f90 .f95 .f03 .s .asm .vhd .vhdl .v .sv "
    ".tcl .md .markdown .rst .json .yaml .yml .xml .txt .png .lock .toml .ini .cfg .in .d .bat"
)
FILENAMES = _words(
    "makefile gnumakefile dockerfile containerfile cmakelists.txt rakefile gemfile guardfile podfile "
    "vagrantfile jenkinsfile .bashrc .bash_profile .zshrc .profile license readme .gitignore"
)
NAME_PATTERNS = (
    "Dockerfile.prod", "dockerfile.", "api.dockerfile", ".dockerfile", "Dockerfile.h", "x.Dockerfile",
    "Makefile.am", "bin/tool", ".hidden", "a.b/c", "archive.tar.gz", "CMakeLists.TXT",
)  # fmt: skip
INTERPRETERS = _words(
    "python pypy node nodejs deno bun ts-node sh bash zsh ksh dash ash fish ruby perl php lua luajit "
    "rscript runhaskell runghc escript elixir julia tclsh wish pwsh groovy scala kotlin swift make "
    "awk sed java"
)
SHEBANG_FORMS = (
    "#!/usr/bin/{0}\n", "#!/usr/bin/env {0}\n", "#!/usr/bin/env -S {0} --flag\n",
    "#! /usr/local/bin/{0}3.11 -u\n", "#!/usr/bin/env -i {0}\n", "#!{0}\n", "#!/opt/{0}/bin/{0}-1.2\n",
)  # fmt: skip
AMBIGUOUS_HEADS = (
    "#ifndef LIST_H\nstruct list { int n; };\n",
    "#pragma once\nnamespace util {\ntemplate <typename T> class Vec {};\n}\n",
    "#include <string>\nclass Name {\npublic:\n  std::string v;\n};\n",
    "// uses a::b in a comment\nint f(void);\n",
    "using namespace std;\n",
    "#import <UIKit/UIKit.h>\n@implementation View\n@end\n",
    "@interface Foo : NSObject\n@end\n",
    "function x = solve(A, b)\n% SOLVE solves\nx = A \\ b;\nend\n",
    "% a matlab comment\nx = 1;\n",
    "x = 1;\ny = 2;\n",
    "",
    "#!/usr/bin/env python3\nprint(1)\n",
)

LICENSE = "Copyright (c) 2020 Example Authors. Licensed under the MIT License."
SNIPPETS: dict[str, str] = {
    "empty": "",
    "blank": "\n\n   \n",
    "python": (
        f"# {LICENSE}\n# second header line\n\n"
        '"""Module docstring.\n\nMore text.\n"""\n\nimport os\n\n\n'
        "def f(x):\n"
        '    """Doc of f."""\n'
        "    # explain the branch\n"
        "    if x:\n        return 1\n    elif x is None:\n        return 2\n"
        "    # y = compute(x)\n"
        "    for i in range(3):\n        while i:\n            i -= 1\n"
        "    try:\n        pass\n    except ValueError:\n        pass\n"
        "    s = '''not a\n    docstring'''\n"
        "    return 0\n\n\n"
        "class C:\n    def g(\n        self,\n    ) -> None:\n        r'''raw doc'''\n        match x:\n"
        "            case 1:\n                pass\n"
        "# -*- coding: utf-8 -*-\n# noqa\n"
    ),
    "c_family": (
        f"/*\n * {LICENSE}\n */\n\n#include <stdio.h>\n\n"
        "/** Adds two numbers.\n * @return the sum\n */\n"
        "int add(int a, int b) {\n    // explain\n    if (a > b) {\n        return a + b;\n    }\n"
        "    /* plain block */\n    for (int i = 0; i < 3; i++) { a++; }\n"
        "    while (a) { a--; }\n    switch (a) {\n    case 1: break;\n    }\n"
        "    // return a;\n    /// doc line\n    //! inner doc\n    return a;\n}\n"
        "// +build linux\n//go:generate foo\n"
        "try { x(); } catch (e) { }\n"
    ),
    "go": (
        f"// {LICENSE}\n\npackage main\n\n"
        "// Add adds.\n// It is documented.\nfunc Add(a, b int) int {\n"
        "\tif a > b {\n\t\treturn a\n\t}\n"
        "\tfor i := 0; i < b; i++ {\n\t\tselect {\n\t\tcase <-ch:\n\t\t}\n\t}\n"
        "\t// x := a + b\n\tswitch a {\n\t}\n\treturn a + b\n}\n\n"
        "func undocumented() {}\n\n// T is a type.\ntype T struct{}\n"
        "/* block\n   comment */\n"
    ),
    "hash_scripts": (
        f"#!/bin/sh\n# {LICENSE}\n\n"
        '# Documented function.\nfunction deploy() {\n  if [ -n "$1" ]; then\n    echo hi\n  fi\n}\n'
        "def method\n  # inline\n  unless x\n    y\n  end\n  rescue Foo\nend\n"
        "sub perlsub {\n  foreach my $x (@a) { }\n}\n"
        "=begin\nruby block\n=end\n=pod\nperl doc\n=cut\n"
        "#' roxygen line\nf <- function(x) { repeat { } }\n"
        "#= julia block =#\n#[ nim block ]#\n## nim doc\n<# ps block #>\n"
        "defmodule M do\n  def f, do: cond do end\nend\n"
        "ifeq ($(X),1)\nendif\nIF(WIN32)\nENDIF()\nforeach x\n"
        "# count = 3\n"
    ),
    "dash_and_percent": (
        "-- " + LICENSE + "\n\n--- LuaDoc line\nlocal function f(x)\n  if x then return 1 end\n"
        "  for i=1,3 do end\nend\n--[[ block\n comment ]]\n"
        "SELECT CASE WHEN a THEN 1 END FROM t; -- trailing\n"
        "-- | haddock\n{-| haddock block -}\n{- plain -}\nf x = if x then case x of _ -> 1 else 0\n"
        "% matlab comment\n%{\nblock\n%}\n%% erlang doc\nreceive X -> ok end\n"
        "! fortran comment\nDO I = 1, 10\nIF (X) THEN\nEND DO\n"
        "; lisp comment\n(defn f [x] (when x (loop [] (doseq [y z]))))\n"
        "(* ocaml comment *)\n(** ocaml doc *)\nlet f x = match x with _ -> try 1 with _ -> 0\n"
    ),
    "markup": (
        "<!-- " + LICENSE + " -->\n<!DOCTYPE html>\n<html>\n<body>\n"
        "<script>\n/** doc */\nfunction go() { if (a) { for (;;) {} } }\n// note\n</script>\n"
        "<style>\n/* css */\n@media screen { a { color: red; } }\n</style>\n"
        "<!-- a\n multi-line comment -->\n</body>\n</html>\n"
        "@if $x { } @each $i in $list { }\n"
    ),
    "assembly": (
        "; " + LICENSE + "\n\nsection .text\nglobal _start\n_start:\n    mov eax, 1 ; comment\n"
        "    cmp eax, 0\n    jne done\n    je done\n    loop _start\n# gas comment\n// arm comment\n"
        "    beq r1, r2, done\n    cbz x0, done\n/* block */\ndone:\n    ret\n"
    ),
    "crlf_unicode": "# naïve comment\r\nif x:\r\n    y = 'é' * 2\r\n\r\n// über\r\nfor (;;) {}\r\n",
    "data_like": "x = [" + ", ".join(f"0x{i:02x}" for i in range(200)) + "]\n" + "A" * 2000 + "\n",
    "long_generic": (
        "// header comment\n"
        + "".join(
            f"// step {i}\nif (v{i} > {i}) {{\n    v{i} = v{i} - 1;\n}}\nx{i} = compute({i});\n"
            for i in range(150)
        )
    ),
    "long_python": (
        '"""Doc."""\n'
        + "".join(
            f'def f{i}(a):\n    """Doc {i}."""\n    # why {i}\n    if a:\n        return {i}\n'
            f"    return a\n\n"
            for i in range(120)
        )
        + "".join(f"def g{i}(a):\n    return a + {i}\n" for i in range(40))
    ),
}
GOLDEN_LANGUAGES = _words(
    "python javascript typescript go rust java c cpp csharp ruby php shell kotlin swift scala lua perl r "
    "haskell sql html css scss objective-c matlab dart elixir erlang clojure julia fsharp ocaml groovy "
    "powershell zig nim vue svelte solidity makefile dockerfile cmake fortran assembly vhdl verilog tcl "
    "markdown restructuredtext klingon"
)


def detection_cases() -> list[tuple[str, str | None]]:
    cases: list[tuple[str, str | None]] = []
    for extension in EXTENSIONS:
        cases += [(f"src/file{extension}", None), (f"SRC/FILE{extension.upper()}", None)]
        heads = AMBIGUOUS_HEADS if extension in (".h", ".m") else AMBIGUOUS_HEADS[::6]
        cases += [(f"src/file{extension}", head) for head in heads]
    for name in FILENAMES + list(NAME_PATTERNS):
        cases += [(f"dir/{name}", None), (name.capitalize(), None), (f"dir/{name}", "#!/bin/bash\n")]
    for interpreter in INTERPRETERS:
        cases += [("bin/tool", form.format(interpreter)) for form in SHEBANG_FORMS]
    cases += [("bin/tool", head) for head in ("#!", "#!\n", "#! \n", "no shebang\n", "#!/usr/bin/env\n")]
    return cases


def score_row(name: str, text: str, language: str | None) -> list[Any]:
    """[snippet, language, seed_v1 score, v2 score, digest of every count and signal]: short enough to
    keep in the repository, and a failing row still says which snippet, language and scorer moved."""
    result = scored(text, language)
    digest = hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()[:16]
    return [name, language, result["seed_v1"][0], result["v2"][0], digest]


def golden(args: argparse.Namespace) -> int:
    sample: dict[str, Any] = {
        "detect": [
            [path, head, detect_language(path, head), may_be_code(path)] for path, head in detection_cases()
        ],
        "thresholds": {language: asdict(thresholds_for(language)) for language in [*GOLDEN_LANGUAGES, None]},
        "snippets": SNIPPETS,
        "scores": [
            score_row(name, text, language)
            for name, text in SNIPPETS.items()
            for language in [*GOLDEN_LANGUAGES, None]
        ],
    }
    sample["thresholds"]["null"] = sample["thresholds"].pop(None)
    encoded = json.dumps(sample, sort_keys=True, indent=1)
    print(f"{len(sample['detect'])} detections, {len(sample['scores'])} scores")
    print(f"digest {hashlib.sha256(encoded.encode()).hexdigest()}")
    if args.write:
        with open(args.write, "w") as handle:
            handle.write(encoded + "\n")
        print(f"recorded in {args.write}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sample", choices=("corpus", "golden"))
    parser.add_argument("--write", help="record the values in this file")
    parser.add_argument("--check", help="compare with the values recorded in this file (corpus only)")
    args = parser.parse_args()
    return corpus(args) if args.sample == "corpus" else golden(args)


if __name__ == "__main__":
    sys.exit(main())
