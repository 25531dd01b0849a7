"""Throughput of the secret detector against today's (git main), on the same files: CPython's
`Lib` (this interpreter's stdlib) and Go's `src` where a Go toolchain is installed. Also the share
of these ordinary files the redaction changes, and how many redacted Python files stop parsing.

    python bench/secrets.py [--limit N]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codelupe_dagster.core.secrets import redact_secrets  # noqa: E402

Redact = Callable[[str], tuple[str, dict[str, int]]]


def old_detector() -> Redact:
    """Today's detector: core/secrets.py as it is on git main, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", "main:codelupe_dagster/core/secrets.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_secrets.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_secrets", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_secrets"] = module
    spec.loader.exec_module(module)
    return module.redact_secrets  # type: ignore[no-any-return]


def corpora() -> dict[str, list[Path]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found = {"cpython_lib": sorted(p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)}
    go = shutil.which("go")
    goroot = (
        Path(subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True).stdout.strip())
        if go
        else None
    )
    for candidate in (goroot, Path("/usr/local/go"), Path("/usr/lib/go")):
        if candidate and (candidate / "src").is_dir():
            found["go_src"] = sorted((candidate / "src").rglob("*.go"))
            break
    return found


def measure(redact: Redact, texts: list[str]) -> tuple[float, int, list[int]]:
    start = time.perf_counter()
    changed = []
    for index, text in enumerate(texts):
        if redact(text)[0] != text:
            changed.append(index)
    return time.perf_counter() - start, len(changed), changed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0, help="files per corpus (0: all)")
    parser.add_argument("--show", type=int, default=0, help="print this many changed files")
    args = parser.parse_args()
    old = old_detector()
    for name, paths in corpora().items():
        if args.limit:
            paths = paths[: args.limit]
        texts, read = [], []
        for path in paths:
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, OSError):
                continue
            read.append(path)
        megabytes = sum(len(t.encode()) for t in texts) / 1e6
        old_s, old_changed, _ = measure(old, texts)
        new_s, new_changed, indices = measure(redact_secrets, texts)
        broken = 0
        if name == "cpython_lib":
            for index in indices:
                try:
                    ast.parse(texts[index])
                except SyntaxError:
                    continue
                try:
                    ast.parse(redact_secrets(texts[index])[0])
                except SyntaxError:
                    broken += 1
        print(
            f"{name}: {len(texts)} files, {megabytes:.1f} MB | today {megabytes / old_s:.1f} MB/s, "
            f"changes {old_changed} ({old_changed / len(texts):.2%}) | new {megabytes / new_s:.1f} MB/s "
            f"({old_s / new_s:.2f}x), changes {new_changed} ({new_changed / len(texts):.2%})"
            + (f", redacted files that no longer parse: {broken}" if name == "cpython_lib" else "")
        )
        for index in indices[: args.show]:
            counts = redact_secrets(texts[index])[1]
            print("   ", read[index], counts)


if __name__ == "__main__":
    main()
