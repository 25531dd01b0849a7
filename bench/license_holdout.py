"""The licence detector on a held-out set: package archives fetched from the registries, never installed here.

`bench/license_detection.py` measures `core.license_detection` on the licence files installed on this
machine, the set its rules were tuned on. This bench measures it on archives that were not on the machine
while it was tuned (npm tarballs, PyPI wheels, crates, Maven jars), labelled from package metadata only:

- ``npm``: ``license`` of the tarball's package.json (a string; old ``licenses`` arrays are left out);
- ``python``: the wheel's METADATA: ``License-Expression``, else a ``License:`` field that is an SPDX
  expression, else one OSI ``License ::`` classifier (our own table below; ``BSD License`` says no variant
  and is left out);
- ``cargo``: ``license`` of the crate's Cargo.toml (``/`` read as ``OR``);
- ``maven``: ``<licenses>`` of the POM or of its nearest parent that has them, names/URLs mapped to SPDX by
  our own table; several licences are alternatives (``OR``), unmapped names leave the package out.

The members are the package's root licence files chosen by file name only (`MEMBER_NAME` below, not the
detector's `is_license_file`): package/ of an npm tarball, the crate root, ``*.dist-info`` and
``*.dist-info/licenses`` of a wheel, ``META-INF`` and the root of a Maven jar (the sources jar when the
binary jar has none). Metadata files are never given to the detector, so it is measured as a file matcher,
as in the in-sample bench. The set is frozen in tests/core/data/licenses/holdout.tsv (``--build`` wrote
it once; do not rebuild it after looking at results, or it is no longer held out).

"correct" is `bench.license_detection.correct` (same licence ids; GPL -only/-or-later one family), and
identical (label, texts) pairs count once, as there.

    .venv/bin/python bench/license_holdout.py                     # fetch what is missing, then measure
    .venv/bin/python bench/license_holdout.py --cache DIR --no-fetch
    .venv/bin/python bench/license_holdout.py --build --cache DIR  # (once) write the manifest from a cache

No test asserts on it: it downloads several hundred packages.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from license_detection import Result, print_results  # noqa: E402

from codelupe_dagster.core.license_detection import detect_license, parse_expression  # noqa: E402

MANIFEST = ROOT / "tests/core/data/licenses/holdout.tsv"
DEFAULT_CACHE = Path("/work/holdout-cache")
COLUMNS = ["kind", "package", "version", "archive", "members", "label", "declared"]

# Licence files by name, as a repository's root would hold them; source and data files are not texts.
MEMBER_NAME = re.compile(
    r"^(?:un)?licen[cs]e|^copying|^copyright|^mit-licen[cs]e|^apache-licen[cs]e|^licen[cs]e[-_.]",
    re.IGNORECASE,
)
NOT_TEXT = re.compile(
    r"\.(?:py|pyc|pyi|js|mjs|cjs|ts|d\.ts|json|rs|java|class|go|html?|xml|css|sh|c|h|png|gif|svg)$", re.I
)

CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Zope Public License": "ZPL-2.1",
    "Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "Academic Free License (AFL)": None,  # version not said
    "BSD License": None,  # which BSD is not said
}

# Maven POM <license><name> (lower case, spaces squeezed) or <url> -> SPDX; what is not here is left out.
POM_NAMES = {
    "apache license, version 2.0": "Apache-2.0",
    "the apache software license, version 2.0": "Apache-2.0",
    "the apache license, version 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache-2.0": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache license version 2.0": "Apache-2.0",
    "mit license": "MIT",
    "the mit license": "MIT",
    "mit": "MIT",
    "bsd-3-clause": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause",
    "the 3-clause bsd license": "BSD-3-Clause",
    "bsd-2-clause": "BSD-2-Clause",
    "eclipse public license - v 1.0": "EPL-1.0",
    "eclipse public license 1.0": "EPL-1.0",
    "eclipse public license v2.0": "EPL-2.0",
    "eclipse public license v. 2.0": "EPL-2.0",
    "eclipse public license 2.0": "EPL-2.0",
    "eclipse public license - v 2.0": "EPL-2.0",
    "gnu lesser general public license": "LGPL-2.1-only",
    "gnu lesser general public license version 2.1": "LGPL-2.1-only",
    "mozilla public license version 2.0": "MPL-2.0",
    "mpl 2.0": "MPL-2.0",
    "epl 2.0": "EPL-2.0",
    "bouncy castle licence": "MIT",
}
POM_URLS = {
    "apache.org/licenses/license-2.0": "Apache-2.0",
    "opensource.org/licenses/mit": "MIT",
    "opensource.org/licenses/bsd-3-clause": "BSD-3-Clause",
    "eclipse.org/legal/epl-v10": "EPL-1.0",
    "eclipse.org/legal/epl-2.0": "EPL-2.0",
    "eclipse.org/legal/epl-v20": "EPL-2.0",
    "mozilla.org/mpl/2.0": "MPL-2.0",
    "gnu.org/licenses/old-licenses/lgpl-2.1": "LGPL-2.1-only",
}


@dataclass(frozen=True)
class Row:
    kind: str
    package: str
    version: str
    archive: str  # path relative to the cache
    members: tuple[str, ...]  # paths inside the archive
    label: str
    declared: str  # the metadata as written, for the reader


def spdx(text: str) -> str | None:
    """The label as a canonical SPDX expression, None when it is not one."""
    try:
        return parse_expression(text.strip())
    except (ValueError, KeyError):
        return None


# --------------------------------------------------------------------------- archives


def archive_names(path: Path) -> list[str]:
    if path.suffix in {".whl", ".jar", ".zip"}:
        with zipfile.ZipFile(path) as archive:
            return [i.filename for i in archive.infolist() if not i.is_dir()]
    with tarfile.open(path) as archive:
        return [m.name for m in archive.getmembers() if m.isfile()]


def archive_read(path: Path, members: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if path.suffix in {".whl", ".jar", ".zip"}:
        with zipfile.ZipFile(path) as archive:
            for name in members:
                out[name] = archive.read(name)
        return out
    with tarfile.open(path) as archive:
        for name in members:
            handle = archive.extractfile(name)
            if handle is not None:
                out[name] = handle.read()
    return out


def _decode(data: bytes) -> str:
    return data[:400_000].decode("utf-8", "replace")


def licence_members(names: list[str], folder: str) -> list[str]:
    """Licence files directly in `folder` (a prefix ending in / or ''), by name."""
    picked = []
    for name in names:
        if not name.startswith(folder):
            continue
        rest = name[len(folder) :]
        if "/" in rest or not MEMBER_NAME.search(rest) or NOT_TEXT.search(rest):
            continue
        picked.append(name)
    return sorted(picked)


# --------------------------------------------------------------------------- building (once)


def npm_row(path: Path, cache: Path) -> Row | None:
    names = archive_names(path)
    manifests = sorted((n for n in names if n.count("/") == 1 and n.endswith("/package.json")), key=len)
    if not manifests:
        return None
    meta = json.loads(_decode(archive_read(path, manifests[:1])[manifests[0]]))
    declared = meta.get("license")
    if isinstance(declared, dict):
        declared = declared.get("type")
    if not isinstance(declared, str):
        return None
    label = spdx(declared)
    members = licence_members(names, manifests[0].rsplit("/", 1)[0] + "/")
    if not label or not members:
        return None
    return Row(
        "npm", meta["name"], meta["version"], str(path.relative_to(cache)), tuple(members), label, declared
    )


def python_label(metadata: str) -> tuple[str | None, str]:
    message = email.parser.Parser().parsestr(metadata, headersonly=True)
    expression = message.get("License-Expression")
    if expression:
        return spdx(expression), f"License-Expression: {expression}"
    field = (message.get("License") or "").strip()
    if field and "\n" not in field and len(field) < 60 and spdx(field):
        return spdx(field), f"License: {field}"
    classifiers = [
        c
        for c in message.get_all("Classifier") or []
        if (c.startswith("License ::") and "OSI Approved ::" in c) or c.startswith("License :: Public Domain")
    ]
    labels = {CLASSIFIERS.get(c.rsplit(" :: ", 1)[-1]) for c in classifiers}
    if len(classifiers) == 1 and None not in labels:
        return labels.pop(), classifiers[0]
    return None, ""


def python_row(path: Path, cache: Path) -> Row | None:
    names = archive_names(path)
    dist = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")})
    if len(dist) != 1:
        return None
    metadata = _decode(archive_read(path, [f"{dist[0]}/METADATA"])[f"{dist[0]}/METADATA"])
    label, declared = python_label(metadata)
    members = licence_members(names, f"{dist[0]}/") + licence_members(names, f"{dist[0]}/licenses/")
    members = [m for m in members if not m.endswith(("/METADATA", "/RECORD", "/WHEEL"))]
    if not label or not members:
        return None
    message = email.parser.Parser().parsestr(metadata, headersonly=True)
    return Row(
        "python",
        message["Name"],
        message["Version"],
        str(path.relative_to(cache)),
        tuple(members),
        label,
        declared,
    )


def cargo_row(path: Path, cache: Path) -> Row | None:
    names = archive_names(path)
    top = path.name.removesuffix(".crate")
    manifest = f"{top}/Cargo.toml"
    if manifest not in names:
        return None
    text = _decode(archive_read(path, [manifest])[manifest])
    found = re.search(r'^license\s*=\s*"([^"]+)"', text, re.MULTILINE)
    package = re.search(r'^name\s*=\s*"([^"]+)"', text, re.MULTILINE)
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not (found and package and version):
        return None
    label = spdx(found.group(1).replace("/", " OR "))
    members = licence_members(names, f"{top}/")
    if not label or not members:
        return None
    return Row(
        "cargo",
        package.group(1),
        version.group(1),
        str(path.relative_to(cache)),
        tuple(members),
        label,
        found.group(1),
    )


def _pom_licences(pom: Path, repo: Path) -> list[tuple[str, str]]:
    """(name, url) of the POM's <licenses>, else of its nearest parent's found in the local repository."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    for _ in range(8):
        tree = ET.parse(pom).getroot()
        found = [
            ((lic.findtext("m:name", "", ns) or "").strip(), (lic.findtext("m:url", "", ns) or "").strip())
            for lic in tree.findall("m:licenses/m:license", ns)
        ]
        if found:
            return found
        parent = tree.find("m:parent", ns)
        if parent is None:
            return []
        group, artifact, version = (
            parent.findtext(f"m:{k}", "", ns).strip() for k in ("groupId", "artifactId", "version")
        )
        pom = repo / group.replace(".", "/") / artifact / version / f"{artifact}-{version}.pom"
        if not pom.is_file():
            return []
    return []


def pom_label(licences: list[tuple[str, str]]) -> str | None:
    ids = []
    for name, url in licences:
        key = re.sub(r"\s+", " ", name.lower())
        found = POM_NAMES.get(key) or spdx(name) if name else None
        if not found:
            lowered = (
                re.sub(r"^https?://(www\.)?", "", url.lower()).removesuffix(".txt").removesuffix(".html")
            )
            found = next((v for k, v in POM_URLS.items() if lowered.rstrip("/").startswith(k)), None)
        if not found:
            return None
        ids.append(found)
    return spdx(" OR ".join(dict.fromkeys(ids))) if ids else None


def maven_rows(repo: Path, cache: Path) -> Iterator[Row]:
    for pom in sorted(repo.rglob("*.pom")):
        folder = pom.parent
        artifact, version = folder.parent.name, folder.name
        jars = [folder / f"{artifact}-{version}.jar", folder / f"{artifact}-{version}-sources.jar"]
        jars = [j for j in jars if j.is_file()]
        if not jars:
            continue
        licences = _pom_licences(pom, repo)
        label = pom_label(licences)
        if not label:
            continue
        for jar in jars:
            names = archive_names(jar)
            members = licence_members(names, "META-INF/") + licence_members(names, "")
            if members:
                declared = "; ".join(f"{n} <{u}>" for n, u in licences)
                group = str(folder.parent.parent.relative_to(repo)).replace("/", ".")
                yield Row(
                    "maven",
                    f"{group}:{artifact}",
                    version,
                    str(jar.relative_to(cache)),
                    tuple(members),
                    label,
                    declared,
                )
                break


def build(cache: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted((cache / "npm").glob("*.tgz")):
        rows += [r for r in [npm_row(path, cache)] if r]
    for path in sorted((cache / "pypi").glob("*.whl")):
        rows += [r for r in [python_row(path, cache)] if r]
    for path in sorted((cache / "cargo-home/registry/cache").glob("*/*.crate")):
        rows += [r for r in [cargo_row(path, cache)] if r]
    if (cache / "m2").is_dir():
        rows += list(maven_rows(cache / "m2", cache))
    return rows


def write_manifest(rows: list[Row], target: Path) -> None:
    lines = ["\t".join(COLUMNS)]
    for r in rows:
        declared = r.declared.replace("\t", " ").replace("\n", " ")
        lines.append(
            "\t".join([r.kind, r.package, r.version, r.archive, ",".join(r.members), r.label, declared])
        )
    target.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(rows)} rows to {target}")


def read_manifest(path: Path) -> list[Row]:
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == COLUMNS, "unexpected manifest header"
    rows = []
    for line in lines[1:]:
        kind, package, version, archive, members, label, declared = line.split("\t")
        rows.append(Row(kind, package, version, archive, tuple(members.split(",")), label, declared))
    return rows


# --------------------------------------------------------------------------- fetching


def fetch_missing(rows: list[Row], cache: Path) -> None:
    """Download the archives the manifest names that the cache lacks, with each ecosystem's own client."""
    missing = [r for r in rows if not (cache / r.archive).is_file()]
    by_kind: dict[str, list[Row]] = {}
    for row in missing:
        by_kind.setdefault(row.kind, []).append(row)
    for kind, group in by_kind.items():
        print(f"fetching {len(group)} {kind} archives", file=sys.stderr)
        if kind == "npm":
            (cache / "npm").mkdir(parents=True, exist_ok=True)
            for i in range(0, len(group), 20):
                specs = [f"{r.package}@{r.version}" for r in group[i : i + 20]]
                subprocess.run(
                    ["npm", "pack", "--silent", "--pack-destination", str(cache / "npm"), *specs], check=False
                )
        elif kind == "python":
            for row in group:
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
                     "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "--platform",
                     "manylinux2014_x86_64", "--platform", "any", "-d", str(cache / "pypi"),
                     f"{row.package}=={row.version}"],
                    check=False,
                )  # fmt: skip
        elif kind == "cargo":
            _fetch_crates(group, cache)
        elif kind == "maven":
            for row in group:
                classifier = ":jar:sources" if row.archive.endswith("-sources.jar") else ""
                subprocess.run(
                    ["mvn", "-q", "-B", "dependency:get", f"-Dmaven.repo.local={cache / 'm2'}",
                     "-Dtransitive=false", f"-Dartifact={row.package}:{row.version}{classifier}"],
                    check=False,
                )  # fmt: skip


def _fetch_crates(rows: list[Row], cache: Path) -> None:
    """`cargo fetch` of a throw-away project that depends on each crate at its exact version (one at a time
    when the whole set does not resolve together)."""

    def attempt(batch: list[Row]) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            deps = "\n".join(
                f'd{i} = {{ package = "{r.package}", version = "={r.version}", default-features = false }}'
                for i, r in enumerate(batch)
            )
            (Path(tmp) / "src").mkdir()
            (Path(tmp) / "src/main.rs").write_text("fn main() {}\n")
            (Path(tmp) / "Cargo.toml").write_text(
                f'[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n{deps}\n'
            )
            env = {"CARGO_HOME": str(cache / "cargo-home"), "PATH": os.environ["PATH"]}
            return subprocess.run(["cargo", "fetch", "-q"], cwd=tmp, env=env, check=False).returncode == 0

    if not attempt(rows):
        for row in rows:
            attempt([row])


# --------------------------------------------------------------------------- measuring


def load_texts(row: Row, cache: Path) -> dict[str, str] | None:
    path = cache / row.archive
    if not path.is_file():
        return None
    data = archive_read(path, list(row.members))
    texts: dict[str, str] = {}
    for member, content in data.items():
        name = PurePosixPath(member).name
        if name in texts:  # the same name in META-INF and the root, or licenses/ and dist-info
            name = f"{name}-{len(texts)}"
        texts[name] = _decode(content)
    return texts or None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the archives are kept")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--build", action="store_true", help="(once) write the manifest from the cache")
    parser.add_argument("--no-fetch", action="store_true", help="measure only what the cache holds")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median reported)")
    parser.add_argument("--json", type=Path, help="also write the per-case results here")
    args = parser.parse_args()
    if args.build:
        write_manifest(build(args.cache), args.manifest)
        return
    rows = read_manifest(args.manifest)
    if not args.no_fetch:
        fetch_missing(rows, args.cache)
    detect_license({"LICENSE": "warm up the reference data"})
    seen: set[str] = set()
    cases: list[tuple[Row, dict[str, str]]] = []
    absent = 0
    for row in rows:
        texts = load_texts(row, args.cache)
        if texts is None:
            absent += 1
            continue
        key = hashlib.sha256(json.dumps([row.label, sorted(texts.values())]).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            cases.append((row, texts))
    results = []
    for row, texts in cases:
        started = time.perf_counter()
        detected = detect_license(texts)
        where = f"{row.package}@{row.version}"
        results.append(Result(row.kind, row.label, detected, time.perf_counter() - started, where))
    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _, texts in cases:
            detect_license(texts)
        timings.append(time.perf_counter() - started)
    print(f"manifest rows={len(rows)} absent={absent} distinct cases={len(cases)}")
    files = sum(len(texts) for _, texts in cases)
    print_results(results, files, timings, args.repeats, examples=True)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=1))


if __name__ == "__main__":
    main()
