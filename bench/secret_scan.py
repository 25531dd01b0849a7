"""The secret detector on ordinary code, against the detector before issue 10 (`BASELINE_COMMIT`),
on the same files: CPython's `Lib` (this interpreter's stdlib), Go's `src` where a Go toolchain
is installed, and the global node modules (`/usr/lib/node_modules`, `.js/.mjs/.cjs/.ts`,
minified files kept: people index them too, and they are counted apart).

Per corpus: files, MB, median MB/s of each detector over `--repeats` runs and their ratio; the
files each detector changes (share and, with `--show`, each changed path with the kinds found and
a 100-character excerpt around each match); and the files whose syntax the redaction breaks: a
file that parsed cleanly before (Python: `ast.parse`; Go and JS: tree-sitter, no ERROR or MISSING
node) and does not after.

    python bench/secret_scan.py [--limit N] [--repeats N] [--show N] [--corpus NAME]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baseline_detector import BASELINE_COMMIT, Redact, detector_at  # noqa: E402
from codelupe_dagster.core.secrets import find_secrets, redact_secrets  # noqa: E402

Parses = Callable[[str], bool]

NODE_MODULES = Path("/usr/lib/node_modules")
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts")


def _python_parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old test files
            ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _tree_sitter(module_name: str) -> Parses | None:
    try:
        import tree_sitter

        grammar = importlib.import_module(module_name)
    except ImportError:
        return None
    parser = tree_sitter.Parser(tree_sitter.Language(grammar.language()))

    def parses(text: str) -> bool:
        # has_error is set for ERROR nodes and MISSING nodes alike
        return not parser.parse(text.encode("utf-8", "surrogatepass")).root_node.has_error

    return parses


@dataclass
class Corpus:
    name: str
    paths: list[Path]
    parses: Parses | None


def corpora() -> list[Corpus]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = [
        Corpus(
            "cpython_lib",
            sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts),
            _python_parses,
        )
    ]
    go = shutil.which("go")
    goroot = (
        Path(subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip())
        if go
        else None
    )
    for candidate in (goroot, Path("/usr/local/go"), Path("/usr/lib/go")):
        if candidate and (candidate / "src").is_dir():
            found.append(
                Corpus("go_src", sorted((candidate / "src").rglob("*.go")), _tree_sitter("tree_sitter_go"))
            )
            break
    if NODE_MODULES.is_dir():
        paths = sorted(p for p in NODE_MODULES.rglob("*") if p.suffix in JS_SUFFIXES and p.is_file())
        found.append(Corpus("node_modules", paths, _tree_sitter("tree_sitter_javascript")))
    return found


def timed(redact: Redact, texts: list[str]) -> tuple[float, list[int]]:
    start = time.perf_counter()
    changed = [index for index, text in enumerate(texts) if redact(text)[0] != text]
    return time.perf_counter() - start, changed


def median_run(redact: Redact, texts: list[str], repeats: int) -> tuple[float, list[int]]:
    runs = [timed(redact, texts) for _ in range(repeats)]
    return statistics.median(seconds for seconds, _ in runs), runs[0][1]


def broken(texts: list[str], changed: list[int], redact: Redact, parses: Parses) -> list[int]:
    return [i for i in changed if parses(texts[i]) and not parses(redact(texts[i])[0])]


def excerpts(text: str, width: int = 100) -> list[str]:
    """The new detector's matches, each with context, `width` characters in all, on one line."""
    lines = []
    for finding in find_secrets(text):
        around = max(0, (width - (finding.end - finding.start)) // 2)
        start = max(0, finding.start - around)
        piece = text[start : start + max(width, finding.end - finding.start)][:width]
        lines.append(f"{finding.kind}: {piece!r}")
    return lines


def report(corpus: Corpus, old: Redact, args: argparse.Namespace) -> None:
    paths = corpus.paths[: args.limit] if args.limit else corpus.paths
    texts, read = [], []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
        read.append(path)
    megabytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    old_s, old_changed = median_run(old, texts, args.repeats)
    new_s, new_changed = median_run(redact_secrets, texts, args.repeats)
    n = len(texts)
    line = (
        f"{corpus.name}: {n} files, {megabytes:.1f} MB | MB/s old {megabytes / old_s:.1f} "
        f"new {megabytes / new_s:.1f} ({old_s / new_s:.2f}x, median of {args.repeats}) | "
        f"changed old {len(old_changed)} ({len(old_changed) / n:.2%}) "
        f"new {len(new_changed)} ({len(new_changed) / n:.2%})"
    )
    if corpus.parses is not None:
        old_broken = broken(texts, old_changed, old, corpus.parses)
        new_broken = broken(texts, new_changed, redact_secrets, corpus.parses)
        line += f" | broken old {len(old_broken)} new {len(new_broken)}"
    minified = sum(1 for p in read if p.name.endswith(".min.js"))
    if minified:
        line += f" | {minified} *.min.js files included"
    print(line, flush=True)
    if corpus.parses is not None:
        for index in new_broken:
            print("    BROKEN", read[index])
    for label, indices, redact in (("old", old_changed, old), ("new", new_changed, redact_secrets)):
        for index in indices[: args.show]:
            print(f"  {label} {read[index]} {redact(texts[index])[1]}")
            if label == "new":
                for excerpt in excerpts(texts[index]):
                    print("      ", excerpt)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="files per corpus (0: all)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per detector (median)")
    parser.add_argument("--show", type=int, default=0, help="list this many changed files per detector")
    parser.add_argument("--corpus", action="append", help="only these corpora (repeatable)")
    args = parser.parse_args()
    old = detector_at(BASELINE_COMMIT)
    for corpus in corpora():
        if args.corpus and corpus.name not in args.corpus:
            continue
        report(corpus, old, args)


if __name__ == "__main__":
    main()
