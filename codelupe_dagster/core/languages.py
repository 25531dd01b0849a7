"""The language table: one `LanguageSpec` per language, the only place that names languages.

Detection maps, content-filter thresholds and the quality scanner's syntax are all derived from
`LANGUAGE_SPECS` (see `core.language_registry`). To add a language, add one entry here.

Threshold overrides say where they come from ("local": our own choice, with the reason); the
defaults and their sources are in `core.filter_thresholds`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from codelupe_dagster.core.filter_thresholds import DEFAULT_THRESHOLDS
from codelupe_dagster.core.language_registry import LanguageRegistry, LanguageSpec
from codelupe_dagster.core.syntax import (
    C_BLOCK,
    C_FAMILY,
    C_KEYWORDS,
    HASH,
    HASH_SEED,
    JAVADOC,
    SLASH,
    SeedSyntax,
    Syntax,
    keywords,
)

# C++-only constructs that a C header never contains. `::` alone is not enough (it shows up in
# comments), so we look for declarations.
_CPP_MARKERS = re.compile(
    r"^\s*(?:namespace\s+\w|template\s*<|class\s+\w+[^;]*[{:]|using\s+namespace\b|"
    r"(?:public|private|protected)\s*:|#\s*include\s*<(?:iostream|string|vector|memory|map|"
    r"algorithm|cstdint|cstddef|cstdlib|cstring|utility|functional|unordered_map)>)",
    re.MULTILINE,
)
_OBJC_MARKERS = re.compile(r"^\s*(?:@interface|@implementation|@protocol|@end\b|#\s*import\b)", re.MULTILINE)
_MATLAB_MARKERS = re.compile(r"^\s*(?:function\b[^(]*=|%|end\s*$)", re.MULTILINE)

_PHP_DEF = (
    "function ", "public function ", "private function ", "protected function ", "static function ",
    "public static function ", "private static function ", "protected static function ",
    "abstract public function ", "final public function ",
)  # fmt: skip
_JS_DEF = (
    "function ", "function*", "async function ", "class ", "export function ", "export async function ",
    "export class ", "export default function ", "export default class ", "export default async function ",
)  # fmt: skip
_JS = Syntax(SLASH, C_BLOCK, JAVADOC, keywords=C_KEYWORDS, definition=_JS_DEF)
_COMPONENT = Syntax(SLASH, (("<!--", "-->"), ("/*", "*/")), JAVADOC, keywords=C_KEYWORDS)
_ML_KEYWORDS = keywords("if", "match", "for", "while", "try")
_ASSEMBLY_BRANCHES = keywords(
    "jmp", "je", "jne", "jz", "jnz", "jg", "jge", "jl", "jle", "ja", "jb", "loop",
    "beq", "bne", "blt", "bgt", "ble", "bge", "cbz", "cbnz",
)  # fmt: skip

# local: HTML and Vue/Svelte templates legitimately carry long attribute lines and inline SVG
# paths; the mean rule stays, the max rule is relaxed (StarCoder treated HTML separately).
_TEMPLATE_THRESHOLDS = replace(DEFAULT_THRESHOLDS, max_line_length=3000)

LANGUAGE_SPECS: tuple[LanguageSpec, ...] = (
    LanguageSpec(
        "python",
        extensions=(".py", ".pyw", ".pyi"),
        interpreters=("python", "pypy"),
        syntax=Syntax(
            HASH, python_docstrings=True, keywords=keywords("if", "elif", "for", "while", "except", "case")
        ),
        seed=SeedSyntax(("#",), ('"""', "'''")),
    ),
    LanguageSpec("c", extensions=(".c", ".h"), syntax=C_FAMILY),
    LanguageSpec(
        "cpp",
        extensions=(".cc", ".cpp", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp", ".inl"),
        marked_extensions=(".h",),
        head_markers=_CPP_MARKERS,
        syntax=C_FAMILY,
    ),
    # Listed before matlab: a `.m` file with Objective-C markers is Objective-C even if it also
    # has lines that read as MATLAB, and `.m` without either marker stays Objective-C.
    LanguageSpec(
        "objective-c",
        extensions=(".m", ".mm"),
        marked_extensions=(".m",),
        head_markers=_OBJC_MARKERS,
        syntax=C_FAMILY,
    ),
    LanguageSpec("java", extensions=(".java",), syntax=C_FAMILY),
    LanguageSpec("csharp", extensions=(".cs",), syntax=C_FAMILY),
    LanguageSpec(
        "javascript",
        extensions=(".js", ".mjs", ".cjs", ".jsx"),
        interpreters=("node", "nodejs", "bun"),
        syntax=_JS,
    ),
    LanguageSpec(
        "typescript", extensions=(".ts", ".tsx", ".mts", ".cts"), interpreters=("deno", "ts-node"), syntax=_JS
    ),
    LanguageSpec(
        "go",
        extensions=(".go",),
        syntax=Syntax(
            SLASH,
            C_BLOCK,
            keywords=keywords("if", "for", "switch", "select", "case"),
            definition=("func ", "func(", "type "),
        ),
    ),
    LanguageSpec(
        "rust",
        extensions=(".rs",),
        syntax=Syntax(
            SLASH,
            C_BLOCK,
            ("/**", "/*!"),
            ("///", "//!"),
            keywords=keywords("if", "for", "while", "loop", "match"),
        ),
    ),
    LanguageSpec(
        "kotlin",
        extensions=(".kt", ".kts"),
        interpreters=("kotlin",),
        syntax=Syntax(SLASH, C_BLOCK, JAVADOC, keywords=keywords("if", "for", "while", "when", "catch")),
    ),
    LanguageSpec(
        "swift",
        extensions=(".swift",),
        interpreters=("swift",),
        syntax=Syntax(
            SLASH,
            C_BLOCK,
            JAVADOC,
            ("///",),
            keywords=keywords("if", "guard", "for", "while", "repeat", "switch", "case", "catch"),
        ),
    ),
    LanguageSpec(
        "scala",
        extensions=(".scala", ".sc"),
        interpreters=("scala",),
        syntax=Syntax(
            SLASH, C_BLOCK, JAVADOC, keywords=keywords("if", "for", "while", "match", "case", "catch")
        ),
    ),
    LanguageSpec(
        "dart", extensions=(".dart",), syntax=Syntax(SLASH, C_BLOCK, JAVADOC, ("///",), keywords=C_KEYWORDS)
    ),
    LanguageSpec(
        "groovy",
        extensions=(".groovy", ".gradle"),
        filenames=("jenkinsfile",),
        interpreters=("groovy",),
        syntax=C_FAMILY,
    ),
    LanguageSpec(
        "php",
        extensions=(".php", ".phtml"),
        interpreters=("php",),
        syntax=Syntax(
            ("//", "#"),
            C_BLOCK,
            JAVADOC,
            keywords=keywords("if", "elseif", "for", "foreach", "while", "switch", "case", "catch"),
            definition=_PHP_DEF,
        ),
    ),
    LanguageSpec(
        "solidity",
        extensions=(".sol",),
        syntax=Syntax(SLASH, C_BLOCK, JAVADOC, ("///",), keywords=keywords("if", "for", "while")),
    ),
    LanguageSpec(
        "zig",
        extensions=(".zig",),
        syntax=Syntax(
            SLASH, (), (), ("///", "//!"), keywords=keywords("if", "for", "while", "switch", "catch")
        ),
    ),
    LanguageSpec(
        "verilog",
        extensions=(".v", ".sv"),
        syntax=Syntax(SLASH, C_BLOCK, keywords=keywords("if", "for", "while", "case", "always")),
    ),
    # local: CSS is punctuation-heavy ({ } ; : #), real stylesheets measure 0.35-0.5 alnum; keep
    # the default 0.25 and let the minified rule catch one-line bundles.
    LanguageSpec("css", extensions=(".css", ".less"), syntax=Syntax((), C_BLOCK, keywords=keywords("media"))),
    LanguageSpec(
        "scss",
        extensions=(".scss", ".sass"),
        syntax=Syntax(SLASH, C_BLOCK, keywords=keywords("if", "for", "each", "while")),
    ),
    LanguageSpec(
        "ruby",
        extensions=(".rb", ".rake", ".gemspec"),
        filenames=("rakefile", "gemfile", "guardfile", "podfile", "vagrantfile"),
        interpreters=("ruby",),
        syntax=Syntax(
            HASH,
            (("=begin", "=end"),),
            keywords=keywords("if", "elsif", "unless", "while", "until", "for", "case", "when", "rescue"),
            definition=("def ", "class ", "module "),
        ),
        seed=HASH_SEED,
    ),
    LanguageSpec(
        "shell",
        extensions=(".sh", ".bash", ".zsh", ".ksh", ".fish"),
        filenames=(".bashrc", ".bash_profile", ".zshrc", ".profile"),
        interpreters=("sh", "bash", "zsh", "ksh", "dash", "ash", "fish"),
        syntax=Syntax(
            HASH, keywords=keywords("if", "elif", "for", "while", "until", "case"), definition=("function ",)
        ),
        seed=HASH_SEED,
    ),
    LanguageSpec(
        "perl",
        extensions=(".pl", ".pm", ".t"),
        interpreters=("perl",),
        syntax=Syntax(
            HASH,
            (("=pod", "=cut"), ("=head1", "=cut")),
            keywords=keywords("if", "elsif", "unless", "for", "foreach", "while", "until"),
            definition=("sub ",),
        ),
        seed=HASH_SEED,
    ),
    LanguageSpec(
        "r",
        extensions=(".r",),
        interpreters=("rscript",),
        # R functions are assigned (`f <- function(x)`), not introduced by a keyword: no `definition`.
        syntax=Syntax(HASH, (), (), ("#'",), keywords=keywords("if", "for", "while", "repeat")),
        seed=HASH_SEED,
    ),
    LanguageSpec(
        "elixir",
        extensions=(".ex", ".exs"),
        interpreters=("elixir",),
        syntax=Syntax(
            HASH,
            keywords=keywords("if", "unless", "case", "cond", "with", "for"),
            definition=("def ", "defp ", "defmodule ", "defmacro "),
        ),
    ),
    LanguageSpec(
        "julia",
        extensions=(".jl",),
        interpreters=("julia",),
        syntax=Syntax(
            HASH,
            (("#=", "=#"),),
            keywords=keywords("if", "elseif", "for", "while"),
            definition=("function ",),
        ),
    ),
    LanguageSpec(
        "nim",
        extensions=(".nim",),
        syntax=Syntax(
            HASH,
            (("#[", "]#"),),
            (),
            ("##",),
            keywords=keywords("if", "elif", "for", "while", "case", "except"),
        ),
    ),
    LanguageSpec(
        "powershell",
        extensions=(".ps1", ".psm1"),
        interpreters=("pwsh",),
        syntax=Syntax(
            HASH,
            (("<#", "#>"),),
            keywords=keywords("if", "elseif", "for", "foreach", "while", "switch", "catch"),
        ),
    ),
    LanguageSpec(
        "tcl",
        extensions=(".tcl",),
        interpreters=("tclsh", "wish"),
        syntax=Syntax(HASH, keywords=keywords("if", "elseif", "for", "foreach", "while", "switch")),
    ),
    LanguageSpec(
        "makefile",
        extensions=(".mk",),
        filenames=("makefile", "gnumakefile"),
        interpreters=("make",),
        syntax=Syntax(HASH, keywords=keywords("ifeq", "ifneq", "ifdef", "ifndef", "foreach")),
    ),
    LanguageSpec(
        "cmake",
        extensions=(".cmake",),
        filenames=("cmakelists.txt",),
        syntax=Syntax(HASH, keywords=keywords("if", "elseif", "foreach", "while"), keywords_ignore_case=True),
    ),
    LanguageSpec(
        "dockerfile",
        filenames=("dockerfile", "containerfile"),
        filename_prefixes=("dockerfile.",),
        filename_suffixes=(".dockerfile",),
        syntax=Syntax(HASH, keywords=keywords("if", "for", "while", "case")),
    ),
    LanguageSpec(
        "lua",
        extensions=(".lua",),
        interpreters=("lua", "luajit"),
        syntax=Syntax(
            ("--",),
            (("--[[", "]]"),),
            ("--[[",),
            ("---",),
            keywords=keywords("if", "elseif", "for", "while", "repeat"),
            definition=("function ", "local function "),
        ),
        seed=SeedSyntax(("--",)),
    ),
    # local: SQL dumps are data, not code; INSERT lines are long, so cap max line length lower.
    LanguageSpec(
        "sql",
        extensions=(".sql",),
        syntax=Syntax(
            ("--",),
            C_BLOCK,
            keywords=keywords("case", "when", "if", "while", "loop"),
            keywords_ignore_case=True,
        ),
        seed=SeedSyntax(("--", "/*", "*")),
        thresholds=replace(DEFAULT_THRESHOLDS, max_line_length=500),
    ),
    # local: Haskell's operator-heavy style measures 0.2-0.3 alnum in some libraries.
    LanguageSpec(
        "haskell",
        extensions=(".hs", ".lhs"),
        interpreters=("runhaskell", "runghc"),
        syntax=Syntax(
            ("--",), (("{-", "-}"),), ("{-|",), ("-- |", "-- ^"), keywords=keywords("if", "case", "guard")
        ),
        seed=SeedSyntax(("--",)),
        thresholds=replace(DEFAULT_THRESHOLDS, min_alnum_fraction=0.2),
    ),
    LanguageSpec(
        "vhdl",
        extensions=(".vhd", ".vhdl"),
        syntax=Syntax(
            ("--",), keywords=keywords("if", "elsif", "for", "while", "case"), keywords_ignore_case=True
        ),
    ),
    LanguageSpec(
        "html",
        extensions=(".html", ".htm", ".xhtml"),
        syntax=Syntax((), (("<!--", "-->"),), keywords=keywords("if", "for", "while", "switch")),
        thresholds=_TEMPLATE_THRESHOLDS,
    ),
    LanguageSpec("vue", extensions=(".vue",), syntax=_COMPONENT, thresholds=_TEMPLATE_THRESHOLDS),
    LanguageSpec("svelte", extensions=(".svelte",), syntax=_COMPONENT, thresholds=_TEMPLATE_THRESHOLDS),
    LanguageSpec(
        "matlab",
        marked_extensions=(".m",),
        head_markers=_MATLAB_MARKERS,
        syntax=Syntax(
            ("%",), (("%{", "%}"),), keywords=keywords("if", "elseif", "for", "while", "switch", "case")
        ),
    ),
    LanguageSpec(
        "erlang",
        extensions=(".erl", ".hrl"),
        interpreters=("escript",),
        syntax=Syntax(("%",), (), (), ("%%",), keywords=keywords("if", "case", "receive", "catch")),
    ),
    LanguageSpec(
        "fortran",
        extensions=(".f", ".f90", ".f95", ".f03"),
        syntax=Syntax(("!",), keywords=keywords("if", "do", "select"), keywords_ignore_case=True),
    ),
    LanguageSpec(
        "clojure",
        extensions=(".clj", ".cljs", ".cljc", ".edn"),
        syntax=Syntax((";",), keywords=keywords("if", "when", "cond", "case", "loop", "doseq", "for")),
    ),
    # local: assembly listings are mostly mnemonics and hex operands; alnum fraction is low by
    # nature and hex is the language, so the encoded-data rule would misfire.
    LanguageSpec(
        "assembly",
        extensions=(".s", ".asm"),
        syntax=Syntax((";", "#", "//"), C_BLOCK, keywords=_ASSEMBLY_BRANCHES),
        thresholds=replace(DEFAULT_THRESHOLDS, min_alnum_fraction=None, encoded_fraction=None),
    ),
    LanguageSpec(
        "ocaml",
        extensions=(".ml", ".mli"),
        syntax=Syntax((), (("(*", "*)"),), ("(**",), keywords=_ML_KEYWORDS),
    ),
    LanguageSpec(
        "fsharp",
        extensions=(".fs", ".fsx", ".fsi"),
        syntax=Syntax(SLASH, (("(*", "*)"),), (), ("///",), keywords=_ML_KEYWORDS),
    ),
    # Prose, detected so callers can tell "known, not code" from "unknown"; never indexed. Data
    # formats (json, yaml, xml) are not named at all.
    LanguageSpec("markdown", extensions=(".md", ".markdown"), indexed=False),
    LanguageSpec("restructuredtext", extensions=(".rst",), indexed=False),
)

REGISTRY = LanguageRegistry(LANGUAGE_SPECS)
