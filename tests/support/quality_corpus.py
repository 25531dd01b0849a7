"""Real source files for the quality and content-filter equivalence test and bench, found at run time.

CPython's stdlib (`.py`) and C headers (`.h`) from `sysconfig`, Go's tree (`.go`, `.c`, `.h`, `.s`) from
`go env GOROOT`, and the JavaScript of the `npm` package next to `node` when there is one. Nothing is
hard-coded: a machine without Go or Node gives a smaller corpus, never an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from codelupe_dagster.core import filters
from codelupe_dagster.core.language import detect_language

HEAD_CHARS = 4096
_SKIPPED_DIRS = frozenset({"__pycache__", "site-packages", ".git"})


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to its root, prefixed with the root's name ("stdlib/", "go/", "npm/")
    data: bytes
    text: str | None  # None: binary or not UTF-8
    language: str | None


def _go_root() -> Path | None:
    go = shutil.which("go")
    if go is None:
        return None
    try:
        out = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    root = Path(out.stdout.strip()) / "src"
    return root if root.is_dir() else None


def _npm_root() -> Path | None:
    node = shutil.which("node")
    if node is None:
        return None
    prefix = Path(os.path.realpath(node)).parent.parent
    for candidate in (prefix / "lib" / "node_modules" / "npm", prefix / "share" / "nodejs"):
        if candidate.is_dir():
            return candidate
    return None


def corpus_roots() -> list[tuple[str, Path, tuple[str, ...]]]:
    """(name, directory, suffixes) of each corpus root present on this machine."""
    paths = sysconfig.get_paths()
    roots = [
        ("stdlib", Path(paths["stdlib"]), (".py",)),
        ("include", Path(paths["include"]), (".h",)),
    ]
    go = _go_root()
    if go is not None:
        roots.append(("go", go, (".go", ".c", ".h", ".s")))
    npm = _npm_root()
    if npm is not None:
        roots.append(("npm", npm, (".js", ".mjs", ".cjs")))
    return roots


def _walk(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            if name.endswith(suffixes):
                path = Path(directory) / name
                if path.is_file() and not path.is_symlink():
                    found.append(path)
    return found


def load_corpus(per_root: int | None = None) -> list[SourceFile]:
    """The corpus files, read and decoded; `per_root` takes an evenly spread sample of each root."""
    files = []
    for name, root, suffixes in corpus_roots():
        paths = _walk(root, suffixes)
        if per_root is not None and len(paths) > per_root:
            step = len(paths) / per_root
            paths = [paths[int(i * step)] for i in range(per_root)]
        for path in paths:
            data = path.read_bytes()
            text = filters.decode_text(data)
            relative = f"{name}/{path.relative_to(root).as_posix()}"
            language = None if text is None else detect_language(relative, text[:HEAD_CHARS])
            files.append(SourceFile(relative, data, text, language))
    return files
