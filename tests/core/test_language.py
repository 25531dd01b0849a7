import pytest

from codelupe_dagster.core.language import LANGUAGES, detect_language, may_be_code


@pytest.mark.parametrize(
    ("path", "head", "expected"),
    [
        ("src/app/main.py", None, "python"),
        ("lib/index.mjs", None, "javascript"),
        ("web/App.tsx", None, "typescript"),
        ("cmd/server/main.go", None, "go"),
        ("src/lib.rs", None, "rust"),
        ("src/main/java/Foo.java", None, "java"),
        ("src/util.c", None, "c"),
        ("src/util.cc", None, "cpp"),
        ("include/vec.hpp", None, "cpp"),
        ("Program.cs", None, "csharp"),
        ("lib/tasks/db.rake", None, "ruby"),
        ("public/index.php", None, "php"),
        ("scripts/deploy.sh", None, "shell"),
        ("app/src/Main.kt", None, "kotlin"),
        ("Sources/App.swift", None, "swift"),
        ("src/Main.scala", None, "scala"),
        ("init.lua", None, "lua"),
        ("analysis.R", None, "r"),
        ("schema.sql", None, "sql"),
        ("README.md", None, "markdown"),
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
        ("include/x.h", None, "c"),
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
    assert detect_language("README.md") == "markdown"
    assert "markdown" not in LANGUAGES
    assert {"python", "go", "rust", "javascript", "typescript", "java", "c", "cpp"} <= LANGUAGES


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/b.py", True), ("bin/tool", True), ("Makefile", True), ("a/b.json", False), ("README.md", False)],
)
def test_may_be_code(path, expected):
    assert may_be_code(path) is expected
