"""Language labels on a labelled set of real files: issue 11's targets, and the Linguist table's shape.

The set is `data/languages/manifest.tsv` (files on the machine that built it, labelled by the tree
they come from; files missing or changed here are skipped) plus original snippets of languages
that share extensions (`data/languages/snippets/<label>/`), see `bench/language_labels.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.language_labels import current_detector, evaluate, labelled_files
from codelupe_dagster.core import linguist_table
from codelupe_dagster.core.language import LANGUAGES, detect_language
from codelupe_dagster.core.language_heuristics import RULES
from codelupe_dagster.core.languages import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "linguist_languages.py"


def test_labels_meet_the_issue_targets():
    files = labelled_files()
    if len(files) < 1000:
        message = f"only {len(files)} labelled files on this machine (the manifest's trees are absent)"
        if os.environ.get("CI"):  # CI runs on a machine like the one that built the set: never skip there
            pytest.fail(message)
        pytest.skip(message)
    result = evaluate(current_detector(), files)
    assert result.precision >= 0.95, result.confusions.most_common(10)
    assert result.recall >= 0.85, result.confusions.most_common(10)


def test_every_confusable_snippet_is_labelled_right():
    snippets = [
        (path, shown, label) for path, shown, label in labelled_files() if shown.startswith("snippets/")
    ]
    assert len(snippets) >= 20
    wrong = [
        (shown, label, got)
        for path, shown, label in snippets
        if (got := detect_language(shown, Path(path).read_text())) != (None if label == "-" else label)
    ]
    assert wrong == []


def test_linguist_table_shape():
    assert linguist_table.SOURCE == "npm:linguist-languages@9.5.0"
    names = {row[2] for row in linguist_table.LANGUAGES}
    assert len(names) > 500
    assert {"python", "cpp", "objective-c", "hack", "raku", "rocq-prover", "m", "mercury"} <= names
    # Every shared extension names at least two claimants, and the registry reads none of them alone.
    for extension, claimants in linguist_table.AMBIGUOUS_EXTENSIONS.items():
        assert len(set(claimants)) >= 2, extension
        assert extension not in REGISTRY.extensions
    # Every content rule names a claimant of its extension (or None: not code).
    for extension, rules in RULES.items():
        claimants = linguist_table.AMBIGUOUS_EXTENSIONS[extension]
        assert all(language in claimants for language, _ in rules), extension


def test_indexed_categories():
    assert {"python", "html", "css", "roff", "hack", "raku"} <= LANGUAGES
    assert {"markdown", "restructuredtext", "jupyter-notebook", "bibtex"} & LANGUAGES == set()
    assert detect_language("refs.bib") == "bibtex"


def test_script_transform_on_a_small_sample(tmp_path):
    sample = {
        "C": {"type": "programming", "extensions": [".c", ".h"], "interpreters": ["tcc"]},
        "C++": {"type": "programming", "extensions": [".cpp", ".h", ".HH"]},
        "Hack": {"type": "programming", "extensions": [".hack", ".hh"]},
        "XML": {"type": "data", "extensions": [".xml", ".ts"]},
        "TypeScript": {"type": "programming", "extensions": [".ts"], "interpreters": ["deno", "node"]},
        "JavaScript": {"type": "programming", "extensions": [".js"], "interpreters": ["node"]},
        "Ren'Py": {"type": "programming", "extensions": [".rpy"]},
        "Shell": {"type": "programming", "filenames": ["PKGBUILD"], "interpreters": ["bash"]},
    }
    source = tmp_path / "linguist.json"
    source.write_text(json.dumps(sample))
    output = tmp_path / "table.py"
    subprocess.run([sys.executable, str(SCRIPT), "--json", str(source), "--output", str(output)], check=True)
    namespace: dict[str, object] = {}
    exec(output.read_text(), namespace)
    rows = {row[2]: row for row in namespace["LANGUAGES"]}  # type: ignore[attr-defined]
    assert set(rows) == {"c", "cpp", "hack", "typescript", "javascript", "ren-py", "shell"}
    assert rows["cpp"][3] == (".cpp", ".h", ".hh")
    assert rows["shell"][4] == ("pkgbuild",)
    assert namespace["AMBIGUOUS_EXTENSIONS"] == {
        ".h": ("c", "cpp"),
        ".hh": ("cpp", "hack"),
        ".ts": ("typescript", None),
    }
    assert namespace["AMBIGUOUS_INTERPRETERS"] == {"node": ("javascript", "typescript")}
    assert "do not edit" in output.read_text()
    assert "Copyright (c) 2017 GitHub, Inc." in output.read_text()


def test_path_only_statistics_keep_the_common_reading():
    """`EXTENSIONS` (a repository's main language from file names) still reads `.ts` as TypeScript,
    while a `.ts` file is labelled only from its content."""
    from codelupe_dagster.core.language import _COMMON_READINGS, EXTENSIONS

    assert EXTENSIONS[".ts"] == "typescript" and EXTENSIONS[".h"] == "c"
    assert detect_language("src/a.ts") is None
    for extension, language in _COMMON_READINGS.items():
        assert language in REGISTRY.ambiguous[extension], extension


@pytest.mark.parametrize(
    ("path", "head", "expected"),
    [
        ("a.inc", "<?php\n$x = 1;\n", "php"),
        ("a.inc", "#declare Red = rgb <1,0,0>;\n", "pov-ray-sdl"),
        ("a.inc", "#define MAX 10\n", "cpp"),
        ("a.inc", "procedure Foo;\nbegin\nend;\n", "pascal"),
        ("a.inc", "%macro save 0\n  push eax\n%endmacro\n", "assembly"),
        ("a.inc", "/// memref<? x 128 x f32>\n", None),
        ("a.cls", "\\NeedsTeXFormat{LaTeX2e}\n\\ProvidesClass{thesis}\n", "tex"),
        ("a.cls", "public with sharing class Foo {\n}\n", "apex"),
        ("a.fs", "#version 330\nout vec4 color;\nvoid main() { color = vec4(1.0); }\n", "glsl"),
        ("a.fs", "module Lib\nlet add x y = x + y\n", "fsharp"),
        ("a.fs", ": square ( n -- n ) dup * ;\n", "forth"),
        ("a.pp", "class nginx {\n  package { 'nginx': ensure => installed }\n}\n", "puppet"),
        ("a.pp", "unit Foo;\ninterface\nimplementation\nend.\n", "pascal"),
        ("a.pro", "QT += widgets\nSOURCES += main.cpp\n", "qmake"),
        ("a.pro", ":- initialization(main).\nmain :- write(hi).\n", "prolog"),
        ("a.d", "module app;\nimport std.stdio;\nvoid main() { writeln(1); }\n", "d"),
        ("a.d", "main.o: main.c util.h \\\n  config.h\n", "makefile"),
        ("a.l", "%{\n#include <stdio.h>\n%}\n%%\n[0-9]+ { return NUM; }\n", "lex"),
        ("a.l", "(defun sq (x) (* x x))\n", "common-lisp"),
        ("a.ml", 'let () = print_endline "hi"\n', "ocaml"),
        ("a.ml", "structure S = struct\n  fun f x = x\nend\n", "standard-ml"),
        ("a.cl", "__kernel void add(__global float *a) { }\n", "opencl"),
        ("a.r", 'REBOL [Title: "x"]\nprint 1\n', "rebol"),
        ("a.sc", "SynthDef(\\sine, { Out.ar(0, SinOsc.ar(440)) }).add;\n", "supercollider"),
        ("a.sc", "object Main extends App {\n  println(1)\n}\n", "scala"),
        ("a.es", "-module(a).\n-export([f/0]).\n", "erlang"),
        ("a.es", "export default function f() {}\n", "javascript"),
        ("a.sol", "pragma solidity ^0.8.0;\ncontract C {}\n", "solidity"),
        ("a.tpl", '{{ define "main" }}{{ .Title }}{{ end }}\n', "go-template"),
        ("a.tpl", "{if $x}{$x}{/if}\n", "smarty"),
        ("a.md", '(define_insn "addsi3"\n  [(set (match_operand:SI 0))])\n', "gcc-machine-description"),
        ("a.rs", "#pragma version(1)\n#pragma rs java_package_name(x)\n", "renderscript"),
        ("a.cs", "Object subclass: #Foo\n  instanceVariableNames: 'a'\n", "smalltalk"),
        ("a.x", "SECTIONS\n{\n  .text : { *(.text) }\n}\n", "linker-script"),
        ("a.nu", 'def greet [name] {\n  $"hi ($name)"\n}\n', "nushell"),
        ("a.scm", "(define (sq x) (* x x))\n", "scheme"),
        ("a.scm", "(identifier) @variable\n", "tree-sitter-query"),
    ],
)
def test_content_rules_for_shared_extensions(path, head, expected):
    assert detect_language(path, head) == expected
