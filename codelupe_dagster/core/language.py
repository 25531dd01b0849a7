"""Language detection from a file's path and, when the path is ambiguous, its first lines.

Cheap by design: a dict lookup on the extension or file name covers nearly every file; only
extension-less scripts (shebang) and a few ambiguous extensions (`.h`, `.m`) look at content.
Names are canonical lowercase strings used across the index (`language` field) and the filter
and scoring tables.
"""

from __future__ import annotations

import os
import re

# Languages the pipeline indexes. detect_language() also names a few prose formats (markdown,
# restructuredtext) so callers can tell "known but not code" from "unknown"; they are left out
# here and dropped as unknown_language. Data formats (json, yaml, xml) are not named at all.
LANGUAGES: frozenset[str] = frozenset(
    {
        "python", "javascript", "typescript", "go", "rust", "java", "c", "cpp", "csharp", "ruby",
        "php", "shell", "kotlin", "swift", "scala", "lua", "perl", "r", "haskell", "sql", "html",
        "css", "scss", "objective-c", "matlab", "dart", "elixir", "erlang", "clojure", "julia",
        "fsharp", "ocaml", "groovy", "powershell", "zig", "nim", "vue", "svelte", "solidity",
        "makefile", "dockerfile", "cmake", "fortran", "assembly", "vhdl", "verilog", "tcl",
    }
)  # fmt: skip

# Detected but not indexed: prose and markup that is not code.
TEXT_LANGUAGES: frozenset[str] = frozenset({"markdown", "restructuredtext"})

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyw": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".tpp": "cpp", ".inl": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
    ".php": "php", ".phtml": "php",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ksh": "shell", ".fish": "shell",
    ".kt": "kotlin", ".kts": "kotlin", ".swift": "swift", ".scala": "scala", ".sc": "scala",
    ".lua": "lua", ".pl": "perl", ".pm": "perl", ".t": "perl", ".r": "r",
    ".hs": "haskell", ".lhs": "haskell", ".sql": "sql",
    ".html": "html", ".htm": "html", ".xhtml": "html",
    ".css": "css", ".scss": "scss", ".sass": "scss", ".less": "css",
    ".m": "objective-c", ".mm": "objective-c",
    ".dart": "dart", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hrl": "erlang",
    ".clj": "clojure", ".cljs": "clojure", ".cljc": "clojure", ".edn": "clojure",
    ".jl": "julia", ".fs": "fsharp", ".fsx": "fsharp", ".fsi": "fsharp",
    ".ml": "ocaml", ".mli": "ocaml", ".groovy": "groovy", ".gradle": "groovy",
    ".ps1": "powershell", ".psm1": "powershell", ".zig": "zig", ".nim": "nim",
    ".vue": "vue", ".svelte": "svelte", ".sol": "solidity",
    ".mk": "makefile", ".cmake": "cmake",
    ".f": "fortran", ".f90": "fortran", ".f95": "fortran", ".f03": "fortran",
    ".s": "assembly", ".asm": "assembly",
    ".vhd": "vhdl", ".vhdl": "vhdl", ".v": "verilog", ".sv": "verilog", ".tcl": "tcl",
    ".md": "markdown", ".markdown": "markdown", ".rst": "restructuredtext",
}  # fmt: skip

FILENAMES: dict[str, str] = {
    "makefile": "makefile", "gnumakefile": "makefile",
    "dockerfile": "dockerfile", "containerfile": "dockerfile",
    "cmakelists.txt": "cmake",
    "rakefile": "ruby", "gemfile": "ruby", "guardfile": "ruby", "podfile": "ruby", "vagrantfile": "ruby",
    "jenkinsfile": "groovy",
    ".bashrc": "shell", ".bash_profile": "shell", ".zshrc": "shell", ".profile": "shell",
}  # fmt: skip

# Interpreter name in a shebang -> language. Versions are stripped first (python3.11 -> python).
INTERPRETERS: dict[str, str] = {
    "python": "python", "pypy": "python",
    "node": "javascript", "nodejs": "javascript", "deno": "typescript", "bun": "javascript",
    "ts-node": "typescript",
    "sh": "shell", "bash": "shell", "zsh": "shell", "ksh": "shell", "dash": "shell", "ash": "shell",
    "fish": "shell",
    "ruby": "ruby", "perl": "perl", "php": "php", "lua": "lua", "luajit": "lua",
    "rscript": "r", "runhaskell": "haskell", "runghc": "haskell", "escript": "erlang",
    "elixir": "elixir", "julia": "julia", "tclsh": "tcl", "wish": "tcl", "pwsh": "powershell",
    "groovy": "groovy", "scala": "scala", "kotlin": "kotlin", "swift": "swift",
    "make": "makefile",
}  # fmt: skip

_SHEBANG = re.compile(r"#!\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?")
_VERSION_SUFFIX = re.compile(r"[\d.]+$")

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


def _language_from_shebang(head: str) -> str | None:
    if not head.startswith("#!"):
        return None
    match = _SHEBANG.match(head)
    if match is None:
        return None
    program, first_arg, second_arg = match.groups()
    name = os.path.basename(program)
    if name == "env":
        # `#!/usr/bin/env -S node --flags`: skip env's own options.
        name = first_arg if first_arg and not first_arg.startswith("-") else (second_arg or "")
        name = os.path.basename(name)
    name = _VERSION_SUFFIX.sub("", name.lower()) or name.lower()
    return INTERPRETERS.get(name)


def _resolve_ambiguous(extension: str, head: str) -> str | None:
    if extension == ".h":
        return "cpp" if _CPP_MARKERS.search(head) else "c"
    if extension == ".m":
        if _OBJC_MARKERS.search(head):
            return "objective-c"
        if _MATLAB_MARKERS.search(head):
            return "matlab"
        return "objective-c"
    return None


def detect_language(path: str, head: str | None = None) -> str | None:
    """Canonical language of a file, or None for non-code and unknown files.

    `head` is the start of the decoded text (a few KB is plenty). Without it, ambiguous
    extensions fall back to their common reading (`.h` -> c, `.m` -> objective-c) and
    extension-less scripts stay unknown.
    """
    name = os.path.basename(path)
    lower_name = name.lower()
    by_name = FILENAMES.get(lower_name)
    if by_name is not None:
        return by_name
    if lower_name.startswith("dockerfile.") or lower_name.endswith(".dockerfile"):
        return "dockerfile"
    extension = os.path.splitext(lower_name)[1]
    if head is not None and extension in (".h", ".m"):
        return _resolve_ambiguous(extension, head)
    by_extension = EXTENSIONS.get(extension)
    if by_extension is not None:
        return by_extension
    if head is not None:
        return _language_from_shebang(head)
    return None


def may_be_code(path: str) -> bool:
    """Whether a path can still turn out to be code once its content is read.

    True when the path alone names an indexed language, or when the file has no extension
    (scripts named by their shebang). Lets the cheap path check reject `.json`, `.png`, ...
    before the blob is read.
    """
    language = detect_language(path)
    if language is not None:
        return language in LANGUAGES
    name = os.path.basename(path)
    return "." not in name.lstrip(".")
