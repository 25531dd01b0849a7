"""PII redaction speed, and the whole of `redaction.redact_text` (secrets, then PII), on the same texts
in one process, CPU time (`time.process_time`), the contenders run in turns so that a busy machine
slows all alike:

- `redact_pii` (compiled anchors: `_native.pii_anchors` finds the anchors, Python confirms them and
  runs the patterns) against the all-Python anchored search it replaced (the frozen copy in
  tests/support/redaction_reference.py) and, with `--full-scan`, against `_reference_redact_pii`
  (each pattern's `finditer` over the whole text, the definition; slow);
- `redact_secrets` alone (unchanged: Hyperscan anchors, Python regexes), for scale;
- `redact_text` against secrets + the frozen PII.

Corpora, found at run time: this interpreter's stdlib (`.py`, `.c`, `.h`, `.txt`, without
`site-packages`) and, with `--go`, Go's `src` (`.go`, `go env GOROOT`) where a Go toolchain is
installed. Per corpus: files, MB, each contender's median seconds and MB/s, the ratio of the
baseline's median to the new one's, and whether the outputs (text and counts) are identical.

    python bench/pii_speed.py [--repeats 5] [--limit N] [--go] [--full-scan]
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

from codelupe_dagster.core.pii import _reference_redact_pii, is_public_ip, redact_pii  # noqa: E402
from codelupe_dagster.core.redaction import redact_text  # noqa: E402
from codelupe_dagster.core.secrets import redact_secrets  # noqa: E402
from tests.support import redaction_reference as frozen  # noqa: E402

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


Output = tuple[str, dict[str, int]] | tuple[str, dict[str, int], dict[str, int]]


def frozen_redact_text(text: str) -> Output:
    text, secrets = redact_secrets(text)
    text, pii = frozen.redact_pii(text)
    return text, secrets, pii


def current_redact_text(text: str) -> Output:
    result = redact_text(text)
    return result.text, result.secrets, result.pii


def timed(redact: Callable[[str], Output], texts: list[str]) -> tuple[float, list[Output]]:
    is_public_ip.cache_clear()  # each run starts cold: only repeats within one pass over the corpus hit
    start = time.process_time()
    outputs = [redact(text) for text in texts]
    return time.process_time() - start, outputs


def compare(
    texts: list[str], megabytes: float, repeats: int, contenders: list[tuple[str, Callable[[str], Output]]]
) -> list[Output]:
    """Runs the contenders in turns; the first is the baseline of the ratios. Returns its outputs."""
    runs: dict[str, list[float]] = {label: [] for label, _ in contenders}
    identical = True
    baseline: list[Output] = []
    for _ in range(repeats):
        outputs = []
        for label, redact in contenders:
            seconds, output = timed(redact, texts)
            runs[label].append(seconds)
            outputs.append(output)
        baseline = outputs[0]
        identical = identical and all(output == baseline for output in outputs[1:])
    base = statistics.median(runs[contenders[0][0]])
    for label, _ in contenders:
        median = statistics.median(runs[label])
        print(f"  {label:34} {median:8.3f} s  {megabytes / median:8.1f} MB/s  {base / median:6.2f}x")
    print(f"  identical outputs: {identical}")
    return baseline


def report(name: str, texts: list[str], repeats: int, full_scan: bool) -> None:
    megabytes = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts) / 1e6
    print(f"{name}: {len(texts)} files, {megabytes:.1f} MB, {repeats} runs each (median CPU s)")
    pii: list[tuple[str, Callable[[str], Output]]] = [
        ("redact_pii all-Python anchored", frozen.redact_pii),
        ("redact_pii compiled anchors", redact_pii),
    ]
    if full_scan:
        pii.append(("_reference_redact_pii (full scan)", _reference_redact_pii))
    outputs = compare(texts, megabytes, repeats, pii)
    changed = sum(1 for output in outputs if output[1])
    addresses = sum(sum(output[1].values()) for output in outputs)
    print(f"  {changed} files redacted, {addresses} addresses")
    compare(texts, megabytes, repeats, [("redact_secrets (unchanged)", redact_secrets)])
    compare(
        texts,
        megabytes,
        repeats,
        [
            ("redact_text, all-Python PII", frozen_redact_text),
            ("redact_text, compiled anchors", current_redact_text),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (median)")
    parser.add_argument("--limit", type=int, default=0, help="files per corpus (0: all)")
    parser.add_argument("--go", action="store_true", help="also Go's src (.go files)")
    parser.add_argument("--full-scan", action="store_true", help="also the full-scan reference (slow)")
    args = parser.parse_args()
    corpora = [("cpython_stdlib", stdlib_paths())]
    if args.go:
        corpora.append(("go_src", go_paths()))
    for name, paths in corpora:
        texts = read_texts(paths[: args.limit] if args.limit else paths)
        if texts:
            report(name, texts, args.repeats, args.full_scan)
        else:
            print(f"{name}: no files found")


if __name__ == "__main__":
    main()
