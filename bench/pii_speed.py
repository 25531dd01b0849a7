"""PII redaction speed: the anchored `redact_pii` against the full-scan reference it replaced
(`_reference_redact_pii`: each pattern's `finditer` over the whole text), on the same texts in one
process.

Corpora, found at run time: this interpreter's stdlib (`.py`, `.c`, `.h`, `.txt`, without
`site-packages`) and, with `--go`, Go's `src` (`.go`, `go env GOROOT`) where a Go toolchain is
installed. Per corpus: files, MB, MB/s of each (median of `--repeats` runs, the two run in turns so
that a busy machine slows both alike), the ratio of the medians, and whether every output (text
and counts) is identical, with the files and addresses redacted.

    python bench/pii_speed.py [--repeats 5] [--limit N] [--go]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codelupe_dagster.core.pii import _reference_redact_pii, redact_pii  # noqa: E402

Redact = Callable[[str], tuple[str, dict[str, int]]]
STDLIB_SUFFIXES = (".py", ".c", ".h", ".txt")


def stdlib_paths() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(
        path
        for path in root.rglob("*")
        if path.suffix in STDLIB_SUFFIXES and "site-packages" not in path.parts and path.is_file()
    )


def go_paths() -> list[Path]:
    go = shutil.which("go")
    if go is None:
        return []
    goroot = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip()
    source = Path(goroot) / "src"
    return sorted(source.rglob("*.go")) if goroot and source.is_dir() else []


def read_texts(paths: list[Path]) -> list[str]:
    texts = []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return texts


def timed(redact: Redact, texts: list[str]) -> tuple[float, list[tuple[str, dict[str, int]]]]:
    start = time.perf_counter()
    outputs = [redact(text) for text in texts]
    return time.perf_counter() - start, outputs


def report(name: str, texts: list[str], repeats: int) -> None:
    megabytes = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts) / 1e6
    old_runs, new_runs = [], []
    identical = True
    for _ in range(repeats):
        old_s, old_out = timed(_reference_redact_pii, texts)
        new_s, new_out = timed(redact_pii, texts)
        old_runs.append(old_s)
        new_runs.append(new_s)
        identical = identical and old_out == new_out
    changed = sum(1 for text, counts in old_out if counts)
    addresses = sum(sum(counts.values()) for _, counts in old_out)
    old_s, new_s = statistics.median(old_runs), statistics.median(new_runs)
    print(f"{name}: {len(texts)} files, {megabytes:.1f} MB, {repeats} runs each (median)")
    print(f"  reference (full scan)  {old_s:8.3f} s  {megabytes / old_s:8.1f} MB/s")
    print(f"  redact_pii (anchored)  {new_s:8.3f} s  {megabytes / new_s:8.1f} MB/s")
    print(f"  ratio                  {old_s / new_s:8.1f}x")
    print(f"  identical outputs: {identical}; {changed} files redacted, {addresses} addresses")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (median)")
    parser.add_argument("--limit", type=int, default=0, help="files per corpus (0: all)")
    parser.add_argument("--go", action="store_true", help="also Go's src (.go files)")
    args = parser.parse_args()
    corpora = [("cpython_stdlib", stdlib_paths())]
    if args.go:
        corpora.append(("go_src", go_paths()))
    for name, paths in corpora:
        texts = read_texts(paths[: args.limit] if args.limit else paths)
        if texts:
            report(name, texts, args.repeats)
        else:
            print(f"{name}: no files found")


if __name__ == "__main__":
    main()
