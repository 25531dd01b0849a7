import pytest

from codelupe_dagster.core.language import LANGUAGES, detect_language, may_be_code


@pytest.mark.parametrize(
    ("path", "head", "expected"),
    [
        ("src/app/main.py", None, "python"),
        ("lib/index.mjs", None, "javascript"),
        ("web/App.tsx", "export const App = () => <div />;\n", "typescript"),
        ("cmd/server/main.go", None, "go"),
        ("src/lib.rs", "pub fn add(a: i32) -> i32 { a }\n", "rust"),
        ("src/main/java/Foo.java", None, "java"),
        ("src/util.c", None, "c"),
        ("src/util.cc", None, "cpp"),
        ("include/vec.hpp", None, "cpp"),
        ("Program.cs", "using System;\nclass P {}\n", "csharp"),
        ("lib/tasks/db.rake", None, "ruby"),
        ("public/index.php", "<?php echo 1;\n", "php"),
        ("scripts/deploy.sh", None, "shell"),
        ("app/src/Main.kt", None, "kotlin"),
        ("Sources/App.swift", None, "swift"),
        ("src/Main.scala", None, "scala"),
        ("init.lua", None, "lua"),
        ("analysis.R", "x <- c(1, 2)\n", "r"),
        ("schema.sql", None, "sql"),
        ("README.md", "# Title\n", "markdown"),
        # files the earlier table skipped (issue 11)
        ("PKGBUILD", None, "shell"),
        ("Brewfile", None, "ruby"),
        ("Kbuild", None, "makefile"),
        ("sorbet/foo.rbi", None, "ruby"),
        ("lib/vec.txx", None, "cpp"),
        ("common.gypi", None, "python"),
        (".zshenv", None, "shell"),
        ("bin/run", "#!/usr/bin/env perl6\nsay 1;\n", "raku"),
        # shared extensions: content decides, and without a decisive sign there is no label
        ("src/Cache.hh", "<?hh\nfunction f(): void {}\n", "hack"),
        ("src/vec.hh", "#pragma once\nclass V {};\n", "cpp"),
        ("r/PAT.m", "PAT ; routine\n S X=1\n W X\n Q\n", "m"),
        ("src/q.m", ":- module q.\n:- interface.\n", "mercury"),
        ("lib/G.pm", "use v6;\nunit class G;\n", "raku"),
        ("lib/P.pm", "package P;\nuse strict;\n1;\n", "perl"),
        ("t/a.t", "use v6;\nuse Test;\nplan 1;\n", "raku"),
        ("src/P.v", "Theorem t : True.\nProof. exact I. Qed.\n", "rocq-prover"),
        ("src/main.v", "module main\n\nfn main() {\n}\n", "v"),
        ("rtl/top.v", "module top(input a);\nendmodule\n", "verilog"),
        ("i18n/app_de.ts", '<?xml version="1.0"?>\n<!DOCTYPE TS>\n<TS version="2.1">\n', None),
        ("src/x.m", "just words\n", None),
        ("src/x.v", "just words\n", None),
        ("src/x.inc", "just words\n", None),
        ("src/x.h", None, None),
        ("src/x.ts", None, None),
        # file names without extensions
        ("Makefile", None, "makefile"),
        ("docker/Dockerfile", None, "dockerfile"),
        ("Dockerfile.prod", None, "dockerfile"),
        ("CMakeLists.txt", None, "cmake"),
        ("Gemfile", None, "ruby"),
        # shebangs decide for extension-less scripts
        ("bin/tool", "#!/usr/bin/env python3\nimport sys\n", "python"),
        ("bin/tool", "#!/usr/bin/python3.11 -u\n", "python"),
        ("bin/run", "#!/bin/bash\nset -euo pipefail\n", "shell"),
        ("bin/cli", "#!/usr/bin/env node\nconsole.log(1)\n", "javascript"),
        ("bin/cli", "#!/usr/bin/env -S deno run\n", "typescript"),
        ("bin/cli", "#!/usr/bin/perl -w\n", "perl"),
        ("bin/notes", "just some text\n", None),
        # .h: C unless the header shows C++ constructs
        ("include/list.h", "#ifndef LIST_H\nstruct list { int n; };\n", "c"),
        ("include/vec.h", "#pragma once\nnamespace util {\ntemplate <typename T> class Vec {};\n}\n", "cpp"),
        ("include/str.h", "#include <string>\nclass Name {\npublic:\n  std::string v;\n};\n", "cpp"),
        # .m: Objective-C vs MATLAB
        ("src/View.m", "#import <UIKit/UIKit.h>\n@implementation View\n@end\n", "objective-c"),
        ("lib/solve.m", "function x = solve(A, b)\n% SOLVE solves\nx = A \\ b;\nend\n", "matlab"),
        # not code
        ("data/config.json", None, None),
        ("docs/logo.png", None, None),
        ("notes.txt", None, None),
    ],
)
def test_detect_language(path, head, expected):
    assert detect_language(path, head) == expected


def test_text_formats_are_detected_but_not_indexed():
    assert detect_language("README.md", "# Title\n") == "markdown"
    assert detect_language("docs/index.rst") == "restructuredtext"
    assert "markdown" not in LANGUAGES
    assert {"python", "go", "rust", "javascript", "typescript", "java", "c", "cpp"} <= LANGUAGES


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.py", True),
        ("bin/tool", True),
        ("Makefile", True),
        ("a/b.json", False),
        ("docs/a.rst", False),
        # shared with an indexed language: the content decides
        ("src/x.h", True),
        ("src/x.pp", True),
        # ... unless its common reading is prose
        ("README.md", False),
    ],
)
def test_may_be_code(path, expected):
    assert may_be_code(path) is expected
