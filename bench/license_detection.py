"""How well `core.license_detection` names the licence files installed on this machine, and how fast.

Labels are independent of the detector: what each package's authors declared elsewhere than in the file.

- ``common``: /usr/share/common-licenses/<name> (Debian's own file names);
- ``debian``: stand-alone ``License:`` paragraphs of /usr/share/doc/*/copyright (DEP-5), whose body is
  the licence text and whose short name is the label (Debian names mapped to SPDX: Expat is MIT, GPL-2+
  is GPL-2.0-or-later); bodies that only point to /usr/share/common-licenses are not texts and are left out;
- ``npm``: node_modules packages, ``license`` of package.json against the package's root licence files;
- ``python``: *.dist-info, ``License-Expression`` (else an SPDX ``License:`` field, else a single
  ``License ::`` classifier) against the licence files in the dist-info;
- ``cargo``: crates under ~/.cargo/registry/src (``license`` of Cargo.toml), when any are there.

Go modules declare no licence outside their licence files, so the module cache gives no label.
Only the licence files are read for a package, never its metadata, so ``detect_license`` is measured as
a file matcher. A detection is ``correct`` when it names the same licences as the label (GPL-2.0,
-only and -or-later are one family: a licence text cannot tell them apart); ``exact`` when it is the same
expression. Identical (text, label) pairs found in several places count once.

    .venv/bin/python bench/license_detection.py                 # the report
    .venv/bin/python bench/license_detection.py --write-manifest tests/core/data/licenses/manifest.tsv
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codelupe_dagster.core.license_detection import (  # noqa: E402
    detect_license,
    expression_ids,
    is_license_file,
    parse_expression,
)

COMMON = {
    "Apache-2.0": "Apache-2.0",
    "Artistic": "Artistic-1.0-Perl",
    "BSD": "BSD-3-Clause",
    "CC0-1.0": "CC0-1.0",
    "GFDL-1.2": "GFDL-1.2-or-later",
    "GFDL-1.3": "GFDL-1.3-or-later",
    "GPL-1": "GPL-1.0-or-later",
    "GPL-2": "GPL-2.0-or-later",
    "GPL-3": "GPL-3.0-or-later",
    "LGPL-2": "LGPL-2.0-or-later",
    "LGPL-2.1": "LGPL-2.1-or-later",
    "LGPL-3": "LGPL-3.0-or-later",
    "MPL-1.1": "MPL-1.1",
    "MPL-2.0": "MPL-2.0",
}
# Debian short names (DEP-5 §"License specification") that are not SPDX ids as written.
DEBIAN = {"expat": "MIT", "artistic": "Artistic-1.0-Perl", "psf-2": "PSF-2.0", "python-2.0": "Python-2.0"}
CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "BSD License": None,  # which BSD is not said
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Library or Lesser General Public License (LGPL)": None,
}
SITE_ROOTS = [ROOT / ".venv", Path("/root/.pyenv/versions"), Path("/usr/lib/python3"), Path("/usr/local/lib")]


@dataclass(frozen=True)
class Case:
    kind: str
    label: str
    files: dict[str, str]  # licence file name -> path
    where: str  # the folder, for the report and the manifest


def _read(path: Path) -> str:
    return path.read_bytes()[:400_000].decode("utf-8", "replace")


def debian_name(name: str) -> str | None:
    lowered = name.strip().lower()
    if lowered in DEBIAN:
        return DEBIAN[lowered]
    later = lowered.endswith("+")
    base = lowered.rstrip("+")
    base = re.sub(r"^((?:a|l)?gpl|gfdl)-(\d)$", r"\1-\2.0", base)
    if re.match(r"^(?:a|l)?gpl-|^gfdl-", base):
        base += "-or-later" if later else "-only"
    elif later:
        return None
    return parse_expression(base)


def common_cases() -> Iterator[Case]:
    folder = Path("/usr/share/common-licenses")
    for name, label in COMMON.items():
        path = folder / name
        if path.is_file() and not path.is_symlink():
            yield Case("common", label, {"COPYING": str(path)}, str(path))


def debian_paragraphs(copyright_file: Path) -> Iterator[tuple[str, str]]:
    """(short name, licence text) of each stand-alone License paragraph that holds a text."""
    text = _read(copyright_file)
    if "Format:" not in text[:300]:
        return
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.splitlines()
        if not lines or not lines[0].startswith("License:") or any(ln.startswith("Files:") for ln in lines):
            continue
        body = [ln[1:] if ln.startswith(" ") else ln for ln in lines[1:]]
        body_text = "\n".join("" if ln.strip() == "." else ln for ln in body)
        if len(body_text.split()) >= 40 and "common-licenses" not in body_text:
            yield lines[0].removeprefix("License:").strip(), body_text


def debian_cases() -> Iterator[tuple[str, str, str]]:
    """(label, text, where) of the stand-alone License paragraphs with a label that maps to SPDX."""
    for copyright_file in sorted(Path("/usr/share/doc").glob("*/copyright")):
        for name, body_text in debian_paragraphs(copyright_file):
            label = debian_name(name)
            if label:
                yield (label, body_text, f"{copyright_file}#{name}")


def python_files(dist: Path) -> dict[str, str]:
    nested = [p for p in (dist / "licenses").rglob("*") if p.is_file() and is_license_file(p.name)]
    return _licence_files(dist) | {f"{p.name}-{i}": str(p) for i, p in enumerate(nested)}


def load_case(kind: str, where: str) -> dict[str, str] | None:
    """The licence texts a manifest row names, read again from this machine; None when absent."""
    if kind == "debian":
        path, _, name = where.partition("#")
        if not Path(path).is_file():
            return None
        texts = [body for short, body in debian_paragraphs(Path(path)) if short == name]
        return {"LICENSE": texts[0]} if texts else None
    place = Path(where) if Path(where).is_absolute() else ROOT / where
    if kind == "common":
        return {"COPYING": _read(place)} if place.is_file() else None
    if not place.is_dir():
        return None
    files = python_files(place) if kind == "python" else _licence_files(place)
    return {name: _read(Path(p)) for name, p in files.items()} or None


def _licence_files(folder: Path) -> dict[str, str]:
    try:
        entries = list(folder.iterdir())
    except OSError:
        return {}
    return {p.name: str(p) for p in entries if p.is_file() and is_license_file(p.name)}


def npm_cases() -> Iterator[Case]:
    for manifest in sorted(Path("/usr/lib/node_modules").rglob("package.json")):
        files = _licence_files(manifest.parent)
        if not files:
            continue
        try:
            declared = json.loads(_read(manifest)).get("license")
        except (ValueError, AttributeError):
            continue
        label = parse_expression(declared) if isinstance(declared, str) else None
        if label:
            yield Case("npm", label, files, str(manifest.parent))


def python_label(metadata: str) -> str | None:
    message = email.parser.Parser().parsestr(metadata, headersonly=True)
    expression = message.get("License-Expression")
    if expression:
        return parse_expression(expression)
    field = (message.get("License") or "").strip()
    if field and "\n" not in field and len(field) < 40 and parse_expression(field):
        return parse_expression(field)
    labels = {
        CLASSIFIERS.get(c.rsplit(" :: ", 1)[-1])
        for c in message.get_all("Classifier") or []
        if (c.startswith("License ::") and "OSI Approved ::" in c) or c.startswith("License :: Public Domain")
    }
    labels.discard(None)
    return labels.pop() if len(labels) == 1 else None  # type: ignore[return-value]


def python_cases() -> Iterator[Case]:
    for base in SITE_ROOTS:
        if not base.is_dir():
            continue
        for dist in sorted(base.rglob("*.dist-info")):
            metadata = dist / "METADATA"
            if not metadata.is_file():
                continue
            files = python_files(dist)
            label = python_label(_read(metadata))
            if files and label:
                yield Case("python", label, files, str(dist))


def cargo_cases() -> Iterator[Case]:
    for manifest in sorted(Path.home().glob(".cargo/registry/src/*/*/Cargo.toml")):
        found = re.search(r'^license\s*=\s*"([^"]+)"', _read(manifest), re.MULTILINE)
        files = _licence_files(manifest.parent)
        label = parse_expression(found.group(1).replace("/", " OR ")) if found else None
        if label and files:
            yield Case("cargo", label, files, str(manifest.parent))


@dataclass
class Result:
    case_kind: str
    label: str
    detected: str | None
    seconds: float
    where: str


def run_case(label: str, texts: dict[str, str], kind: str, where: str) -> Result:
    started = time.perf_counter()
    detected = detect_license(texts)
    return Result(kind, label, detected, time.perf_counter() - started, where)


def collect() -> list[tuple[str, str, dict[str, str], str]]:
    """(kind, label, {name: text}, where), deduplicated on (label, texts)."""
    seen: set[str] = set()
    out: list[tuple[str, str, dict[str, str], str]] = []

    def add(kind: str, label: str, texts: dict[str, str], where: str) -> None:
        key = hashlib.sha256(json.dumps([label, sorted(texts.values())]).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            out.append((kind, label, texts, where))

    for generator in (common_cases(), npm_cases(), python_cases(), cargo_cases()):
        for case in generator:
            add(case.kind, case.label, {n: _read(Path(p)) for n, p in case.files.items()}, case.where)
    for label, text, where in debian_cases():
        add("debian", label, {"LICENSE": text}, where)
    return out


def correct(label: str, detected: str | None) -> bool:
    return detected is not None and expression_ids(detected) == expression_ids(label)


def report(results: list[Result]) -> dict[str, dict[str, object]]:
    by_kind: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_kind[result.case_kind].append(result)
    by_kind["all"] = results
    summary: dict[str, dict[str, object]] = {}
    for kind, rows in by_kind.items():
        answered = [r for r in rows if r.detected]
        right = [r for r in answered if correct(r.label, r.detected)]
        exact = [r for r in answered if r.detected == r.label]
        summary[kind] = {
            "cases": len(rows),
            "answered": len(answered),
            "correct": len(right),
            "exact": len(exact),
            "coverage": round(len(answered) / len(rows), 3) if rows else 0.0,
            "accuracy": round(len(right) / len(answered), 3) if answered else 0.0,
        }
    return summary


def print_results(
    results: list[Result], files: int, timings: list[float], repeats: int, examples: bool = False
) -> None:
    """Accuracy and coverage per source, wrong answers (with where they came from when `examples`),
    unanswered labels, and speed: the one report both licence benches print."""
    for kind, row in report(results).items():
        print(f"{kind:8} " + " ".join(f"{k}={v}" for k, v in row.items()))
    wrong = Counter((r.label, r.detected) for r in results if r.detected and not correct(r.label, r.detected))
    print("wrong (label -> detected):")
    for (label, detected), count in wrong.most_common():
        where = ", ".join(r.where for r in results if (r.label, r.detected) == (label, detected))[:150]
        print(f"  {count:4} {label} -> {detected}" + (f"   [{where}]" if examples else ""))
    missed = Counter(r.label for r in results if not r.detected)
    print("unanswered by label:", dict(missed.most_common(20)))
    median = statistics.median(timings)
    per_case = sorted(r.seconds for r in results)
    print(
        f"speed: {len(results)} cases, {files} files in {median:.3f}s median of {repeats} "
        f"({files / median:.0f} files/s; per case median {statistics.median(per_case) * 1000:.2f} ms, "
        f"p95 {per_case[int(len(per_case) * 0.95)] * 1000:.2f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write-manifest", type=Path, help="write path/kind/label rows of the cases found")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median reported)")
    args = parser.parse_args()
    detect_license({"LICENSE": "warm up the reference data"})
    cases = collect()
    results = [run_case(label, texts, kind, where) for kind, label, texts, where in cases]
    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _, _, texts, _ in cases:
            detect_license(texts)
        timings.append(time.perf_counter() - started)
    files = sum(len(texts) for _, _, texts, _ in cases)
    print_results(results, files, timings, len(timings))
    if args.write_manifest:
        write_manifest(args.write_manifest, cases)


def _shown(where: str) -> str:
    """Paths under the repository are written relative to it (CI clones elsewhere)."""
    return where[len(str(ROOT)) + 1 :] if where.startswith(f"{ROOT}/") else where


def write_manifest(target: Path, cases: list[tuple[str, str, dict[str, str], str]]) -> None:
    """One row per case: kind, label, where (a folder, a file, or copyright-file#name for Debian)."""
    rows = ["kind\tlabel\twhere"] + [f"{kind}\t{label}\t{_shown(where)}" for kind, label, _, where in cases]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(rows) + "\n")
    print(f"wrote {len(cases)} rows to {target}")


if __name__ == "__main__":
    main()
