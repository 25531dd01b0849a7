"""A held-out labelled set for language labels: files from package archives the detector was never tuned on.

`bench/language_labels.py`'s set was built together with the detector, so its figures are in-sample. This
set comes from other sources: npm tarballs, PyPI sdists, crates, Go module zips, Maven Central source
jars and Debian packages, each pinned to a version. A file's label comes from where it lives (a
package's declared language, a tree of one language, an extension inside a project of one language:
`.h` in GNUstep or React Native's iOS tree is Objective-C, in greenlet C++, in zlib C; `.pl` in
SWI-Prolog's library is Prolog, in OpenSSL Perl; `.v` in Coq's stdlib is Rocq, in Yosys Verilog; `.m` in
Octave is MATLAB), never from the detector; samples of each rule were read when the set was frozen.
"-" marks files that are not code (JSON, YAML, XML, certificates, source maps, fonts, config).

`tests/core/data/languages/holdout.tsv` records archive, version, member path, label and sha256, not
the contents: `measure` downloads the archives with their ordinary clients (npm, pip, cargo, go, mvn,
apt-get) into a cache directory, extracts the listed members, checks each sha256 and scores today's
detector and the baseline (BASELINE_COMMIT) with `bench/language_labels.py`'s metric code.

    .venv/bin/python bench/language_holdout.py build   [--cache DIR]  # freeze the set (once)
    .venv/bin/python bench/language_holdout.py measure [--cache DIR]  # precision, recall, confusions
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `bench` and the package import from the checkout

from bench.language_labels import (  # noqa: E402
    NOT_CODE,
    current_detector,
    detector_at,
    evaluate,
)

HOLDOUT = ROOT / "tests" / "core" / "data" / "languages" / "holdout.tsv"
DEFAULT_CACHE = Path(os.environ.get("LANGUAGE_HOLDOUT_CACHE", "/work/holdout-cache/lang"))
MAX_BYTES = 2_000_000  # larger members (bundles, generated tables) are skipped when building


@dataclass(frozen=True)
class Archive:
    """One pinned download: `kind` is the client that fetches it (npm, pypi, crate, go, maven, deb)."""

    kind: str
    name: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Rule:
    """Members of `archive` matching one of `patterns` (fnmatch; `*` crosses `/`) are `label`."""

    archive: Archive
    label: str
    patterns: tuple[str, ...]
    cap: int = 40
    exclude: tuple[str, ...] = ()


def npm(name: str, version: str) -> Archive:
    return Archive("npm", name, version)


def pypi(name: str, version: str) -> Archive:
    return Archive("pypi", name, version)


def crate(name: str, version: str) -> Archive:
    return Archive("crate", name, version)


def go(name: str, version: str) -> Archive:
    return Archive("go", name, version)


def maven(name: str, version: str) -> Archive:
    return Archive("maven", name, version)


def deb(name: str, version: str) -> Archive:
    return Archive("deb", name, version)


BOOTSTRAP = npm("bootstrap", "5.3.3")
BULMA = npm("bulma", "1.0.2")
CARBON_SVELTE = npm("carbon-components-svelte", "0.85.2")
COFFEESCRIPT = npm("coffeescript", "2.7.0")
ELEMENT_UI = npm("element-ui", "2.15.14")
FONT_AWESOME = npm("font-awesome", "4.7.0")
HUBOT = npm("hubot", "2.19.0")
LESS = npm("less", "4.2.0")
NIB = npm("nib", "1.2.0")
REACT_NATIVE = npm("react-native", "0.74.5")
RXJS = npm("rxjs", "7.8.1")
STYLUS = npm("stylus", "0.63.0")
TYPESCRIPT = npm("typescript", "5.5.4")
VUE = npm("vue", "3.4.38")
ZOD = npm("zod", "3.23.8")
CYTHON = pypi("Cython", "3.0.11")
GREENLET = pypi("greenlet", "3.0.3")
LXML = pypi("lxml", "5.3.0")
MARKUPSAFE = pypi("MarkupSafe", "2.1.5")
MSGPACK = pypi("msgpack", "1.0.8")
PSUTIL = pypi("psutil", "6.0.0")
PYYAML = pypi("PyYAML", "6.0.2")
REGEX_PY = pypi("regex", "2024.7.24")
ZSTANDARD = pypi("zstandard", "0.23.0")
RING = crate("ring", "0.17.8")
OPENSSL = crate("openssl-src", "300.3.2+3.3.2")
LIBZ = crate("libz-sys", "1.1.20")
BZIP2 = crate("bzip2-sys", "0.1.11+1.0.8")
LIBC = crate("libc", "0.2.158")
REGEX_RS = crate("regex", "1.10.6")
SERDE = crate("serde", "1.0.210")
GIN = go("github.com/gin-gonic/gin", "v1.10.0")
COMPRESS = go("github.com/klauspost/compress", "v1.17.9")
COBRA = go("github.com/spf13/cobra", "v1.8.1")
XCRYPTO = go("golang.org/x/crypto", "v0.26.0")
XSYS = go("golang.org/x/sys", "v0.24.0")
PROTOBUF = go("google.golang.org/protobuf", "v1.34.2")
YAML3 = go("gopkg.in/yaml.v3", "v3.0.1")
GUAVA = maven("com.google.guava:guava", "33.3.0-jre")
COROUTINES = maven("org.jetbrains.kotlinx:kotlinx-coroutines-core-jvm", "1.8.1")
KOTLIN_STDLIB = maven("org.jetbrains.kotlin:kotlin-stdlib", "2.0.20")
SCALA = maven("org.scala-lang:scala-library", "2.13.14")
GROOVY = maven("org.apache.groovy:groovy", "4.0.22")
LANG3 = maven("org.apache.commons:commons-lang3", "3.16.0")
OKHTTP = maven("com.squareup.okhttp3:okhttp", "4.12.0")
SWIPL = deb("swi-prolog-core", "9.0.4+dfsg-2")
OCTAVE = deb("octave-common", "7.3.0-2")
YOSYS = deb("yosys", "0.23-6")
COQ = deb("libcoq-stdlib", "8.16.1+dfsg-1+b2")
GNUSTEP = deb("libgnustep-base-dev", "1.28.1+really1.28.0-5")
MOOSE = deb("libmoose-perl", "2.2203-1")
DATETIME = deb("libdatetime-perl", "2:1.59-1")
FPC = deb("fpc-source-3.2.2", "3.2.2+dfsg-20")

MAPS = ("*.map",)
RULES: tuple[Rule, ...] = (
    # npm: stylesheets, scripts, components, type declarations
    Rule(BOOTSTRAP, "scss", ("package/scss/*.scss",), 40),
    Rule(BOOTSTRAP, "javascript", ("package/js/*.js", "package/dist/js/*.js"), 30),
    Rule(BOOTSTRAP, "css", ("package/dist/css/*.css",), 8),
    Rule(BOOTSTRAP, NOT_CODE, (*MAPS, "package/package.json"), 10),
    Rule(BOOTSTRAP, "markdown", ("package/README.md",), 1),
    Rule(BULMA, "scss", ("package/sass/*.scss",), 40),
    Rule(BULMA, "css", ("package/css/*.css",), 5),
    Rule(CARBON_SVELTE, "svelte", ("package/src/*.svelte",), 60),
    Rule(CARBON_SVELTE, "typescript", ("package/types/*.ts",), 40),
    Rule(CARBON_SVELTE, "javascript", ("package/src/*.js",), 20),
    Rule(CARBON_SVELTE, NOT_CODE, ("*.json", "*.yml"), 3),
    Rule(COFFEESCRIPT, "javascript", ("package/lib/*.js", "package/bin/*"), 15),
    Rule(ELEMENT_UI, "vue", ("package/packages/*.vue",), 60),
    Rule(ELEMENT_UI, "scss", ("package/packages/theme-chalk/src/*.scss",), 30),
    Rule(ELEMENT_UI, "javascript", ("package/lib/*.js", "package/src/*.js"), 30),
    Rule(ELEMENT_UI, "typescript", ("package/types/*.d.ts",), 30),
    Rule(ELEMENT_UI, "css", ("package/lib/theme-chalk/*.css",), 10),
    Rule(ELEMENT_UI, NOT_CODE, ("*.ttf", "*.woff", "*.json"), 6),
    Rule(FONT_AWESOME, "css", ("package/less/*.less", "package/css/*.css"), 16),
    Rule(FONT_AWESOME, "scss", ("package/scss/*.scss",), 14),
    Rule(FONT_AWESOME, NOT_CODE, ("*.svg", "*.json", "*.txt", "*.map"), 5),
    Rule(HUBOT, "coffeescript", ("package/src/*.coffee", "package/test/*.coffee"), 18),
    Rule(HUBOT, "markdown", ("package/docs/*.md", "package/*.md"), 10),
    Rule(HUBOT, "makefile", ("package/Makefile",), 1),
    Rule(HUBOT, NOT_CODE, ("package/package.json", "*.yml"), 2),
    Rule(LESS, "css", ("*.less",), 19),
    Rule(LESS, "javascript", ("package/lib/*.js", "package/bin/lessc"), 25),
    Rule(LESS, NOT_CODE, (*MAPS, "*.json"), 8),
    Rule(NIB, "stylus", ("*.styl",), 31),
    Rule(REACT_NATIVE, "objective-c", ("package/React/*.m", "package/Libraries/*.m"), 40),
    Rule(REACT_NATIVE, "objective-c", ("*.mm",), 40),
    Rule(REACT_NATIVE, "objective-c", ("package/React/*.h", "package/Libraries/*.h"), 40),
    Rule(REACT_NATIVE, "cpp", ("package/ReactCommon/*.cpp", "package/ReactAndroid/*.cpp"), 40),
    Rule(REACT_NATIVE, "cpp", ("package/ReactCommon/*.h",), 40),
    Rule(REACT_NATIVE, "java", ("*.java",), 40),
    Rule(REACT_NATIVE, "kotlin", ("*.kt", "*.kts"), 30),
    Rule(REACT_NATIVE, "javascript", ("package/Libraries/*.js",), 40, ("*.flow.js",)),
    Rule(REACT_NATIVE, "typescript", ("*.d.ts",), 25),
    Rule(REACT_NATIVE, "ruby", ("*.podspec", "*.rb"), 25),
    Rule(REACT_NATIVE, "shell", ("*.sh",), 16),
    Rule(REACT_NATIVE, "cmake", ("*/CMakeLists.txt", "*.cmake"), 20),
    Rule(REACT_NATIVE, NOT_CODE, ("*.xml", "*.json", "*.plist"), 20),
    Rule(RXJS, "typescript", ("package/src/*.ts",), 60),
    Rule(RXJS, "javascript", ("package/dist/cjs/*.js",), 30),
    Rule(RXJS, NOT_CODE, MAPS, 10),
    Rule(STYLUS, "javascript", ("package/lib/*.js",), 30),
    Rule(TYPESCRIPT, "typescript", ("package/lib/*.d.ts",), 30),
    Rule(TYPESCRIPT, NOT_CODE, ("package/lib/*/diagnosticMessages.generated.json",), 5),
    Rule(VUE, "javascript", ("package/*.js", "package/dist/*.js"), 15),
    Rule(VUE, "typescript", ("*.d.ts", "*.d.mts"), 8),
    Rule(ZOD, "typescript", ("package/lib/*.d.ts",), 20),
    Rule(ZOD, "javascript", ("package/lib/*.js",), 20),
    # PyPI sdists: C, C++, Cython next to Python
    Rule(CYTHON, "cython", ("*.pyx", "*.pxd", "*.pxi"), 60),
    Rule(CYTHON, "python", ("cython-3.0.11/Cython/*.py",), 30),
    Rule(CYTHON, "c", ("cython-3.0.11/Cython/Utility/*.c",), 20),
    Rule(CYTHON, "cpp", ("cython-3.0.11/Cython/Utility/*.cpp",), 5),
    Rule(GREENLET, "cpp", ("*.cpp", "*.hpp", "greenlet-3.0.3/src/greenlet/*.h"), 45),
    Rule(GREENLET, "python", ("*.py",), 10),
    Rule(GREENLET, "restructuredtext", ("*.rst",), 8),
    Rule(LXML, "cython", ("*.pyx", "*.pxd", "*.pxi"), 40),
    Rule(LXML, "python", ("lxml-5.3.0/src/*.py",), 20),
    Rule(LXML, "c", ("lxml-5.3.0/src/lxml/includes/*.h",), 7),
    Rule(LXML, "xslt", ("*.xsl", "*.xslt"), 10),
    Rule(LXML, NOT_CODE, ("*.xml", "*.xsd", "*.rng", "*.dtd"), 25),
    Rule(MARKUPSAFE, "c", ("*.c",), 2),
    Rule(MARKUPSAFE, "python", ("*.py",), 6),
    Rule(MSGPACK, "cython", ("*.pyx", "*.pxd"), 5),
    Rule(MSGPACK, "c", ("msgpack-1.0.8/msgpack/*.h",), 7),
    Rule(PSUTIL, "c", ("psutil-6.0.0/psutil/*.c", "psutil-6.0.0/psutil/*.h"), 60),
    Rule(PSUTIL, "python", ("*.py",), 20),
    Rule(PSUTIL, "makefile", ("*/Makefile",), 2),
    Rule(PYYAML, "python", ("pyyaml-6.0.2/lib/*.py",), 15),
    Rule(PYYAML, NOT_CODE, ("*.data", "*.canonical"), 20),
    Rule(REGEX_PY, "c", ("*.c", "*.h"), 4),
    Rule(ZSTANDARD, "c", ("zstandard-0.23.0/zstd/*.c", "zstandard-0.23.0/zstd/*.h", "*/c-ext/*.c"), 40),
    Rule(ZSTANDARD, "python", ("*.py",), 10),
    # crates: Rust, and the C/Perl/assembly they bundle
    Rule(RING, "rust", ("*.rs",), 40),
    Rule(RING, "assembly", ("*.S",), 30),
    Rule(RING, "perl", ("*.pl",), 34),
    Rule(RING, "c", ("*.c", "*.h"), 30),
    Rule(OPENSSL, "c", ("*.c",), 60),
    Rule(OPENSSL, "c", ("*.h",), 40),
    Rule(OPENSSL, "perl", ("*.pl",), 60),
    Rule(OPENSSL, "perl", ("*.pm", "*.t"), 50),
    Rule(OPENSSL, "markdown", ("*.md",), 20),
    Rule(OPENSSL, "dockerfile", ("*/Dockerfile",), 12),
    Rule(OPENSSL, "shell", ("*.sh",), 15),
    Rule(OPENSSL, "assembly", ("*.S",), 8),
    Rule(OPENSSL, "digital-command-language", ("*.com",), 4),
    Rule(OPENSSL, NOT_CODE, ("*.pem", "*.cnf", "*.yml"), 25),
    Rule(LIBZ, "c", ("*.c", "*.h"), 50),
    Rule(LIBZ, "cmake", ("*.cmake", "*/CMakeLists.txt"), 20),
    Rule(LIBZ, "rust", ("*.rs",), 4),
    Rule(BZIP2, "c", ("*.c", "*.h"), 15),
    Rule(BZIP2, "makefile", ("*/Makefile",), 1),
    Rule(BZIP2, "shell", ("*/bzdiff", "*/bzgrep", "*/bzmore"), 3),
    Rule(BZIP2, "xslt", ("*.xsl",), 3),
    Rule(LIBC, "rust", ("*.rs",), 40),
    Rule(REGEX_RS, "rust", ("*.rs",), 15),
    Rule(REGEX_RS, NOT_CODE, ("*.toml",), 10),
    Rule(SERDE, "rust", ("*.rs",), 10),
    # Go modules
    Rule(GIN, "go", ("*.go",), 30),
    Rule(GIN, "markdown", ("*.md",), 5),
    Rule(GIN, NOT_CODE, ("*.yml", "*.yaml"), 5),
    Rule(COMPRESS, "go", ("*.go",), 40),
    Rule(COMPRESS, "assembly", ("*.s",), 11),
    Rule(COBRA, "go", ("*.go",), 20),
    Rule(COBRA, "markdown", ("*.md",), 8),
    Rule(COBRA, "makefile", ("*/Makefile",), 1),
    Rule(XCRYPTO, "go", ("*.go",), 40),
    Rule(XCRYPTO, "assembly", ("*.s",), 15),
    Rule(XSYS, "go", ("*.go",), 40),
    Rule(XSYS, "assembly", ("*.s",), 30),
    Rule(XSYS, "shell", ("*.sh", "*.bash"), 7),
    Rule(XSYS, "dockerfile", ("*/Dockerfile",), 1),
    Rule(PROTOBUF, "go", ("*.go",), 30),
    Rule(PROTOBUF, "protocol-buffer", ("*.proto",), 30),
    Rule(PROTOBUF, "shell", ("*.bash", "*.sh"), 5),
    Rule(YAML3, "go", ("*.go",), 19),
    # Maven Central source jars
    Rule(GUAVA, "java", ("*.java",), 50),
    Rule(COROUTINES, "kotlin", ("*.kt",), 30),
    Rule(KOTLIN_STDLIB, "kotlin", ("*.kt",), 40),
    Rule(KOTLIN_STDLIB, "java", ("*.java",), 10),
    Rule(SCALA, "scala", ("*.scala",), 60),
    Rule(SCALA, "java", ("*.java",), 10),
    Rule(GROOVY, "groovy", ("*.groovy",), 36),
    Rule(GROOVY, "java", ("*.java",), 30),
    Rule(GROOVY, "antlr", ("*.g4",), 2),
    Rule(LANG3, "java", ("*.java",), 30),
    Rule(OKHTTP, "kotlin", ("*.kt",), 40),
    # Debian packages: the confusable extensions in projects of one language
    Rule(SWIPL, "prolog", ("*.pl",), 80),
    Rule(SWIPL, "c", ("*.h",), 4),
    Rule(SWIPL, "cmake", ("*.cmake",), 5),
    Rule(OCTAVE, "matlab", ("*.m",), 60),
    Rule(YOSYS, "verilog", ("*.v", "*.vh"), 60),
    Rule(COQ, "rocq-prover", ("*.v",), 60),
    Rule(GNUSTEP, "objective-c", ("*.h",), 60),
    Rule(MOOSE, "perl", ("*.pm",), 60),
    Rule(DATETIME, "perl", ("*.pm",), 9),
    Rule(FPC, "pascal", ("*.pp", "*.pas"), 60),
    Rule(FPC, "pascal", ("*.inc",), 60),
)


# --- fetching: each kind with its own client, into `cache/<kind>/` ---------------------------------


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    return done.stdout


def _find(directory: Path, prefix: str) -> Path | None:
    for path in sorted(directory.glob("*")) if directory.is_dir() else ():
        if path.name.lower().startswith(prefix.lower()) and not path.name.endswith(".partial"):
            return path
    return None


def fetch(archive: Archive, cache: Path) -> Path:
    """The archive file of `archive`, downloaded into `cache` unless it is there already."""
    if archive.kind == "npm":
        directory = cache / "npm"
        wanted = f"{archive.name.lstrip('@').replace('/', '-')}-{archive.version}.tgz"
        if not (directory / wanted).exists():
            directory.mkdir(parents=True, exist_ok=True)
            _run(["npm", "pack", "--silent", f"{archive.name}@{archive.version}"], directory)
        return directory / wanted
    if archive.kind == "pypi":
        directory = cache / "pypi"
        prefix = f"{archive.name.replace('-', '_')}-{archive.version}.".lower()
        found = _find(directory, prefix) or _find(directory, prefix.replace("_", "-"))
        if found is None:
            directory.mkdir(parents=True, exist_ok=True)
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", "."]
            _run([*pip, "--no-binary", archive.name, f"{archive.name}=={archive.version}"], directory)
            found = _find(directory, prefix) or _find(directory, prefix.replace("_", "-"))
        assert found, archive
        return found
    if archive.kind == "crate":
        home = cache / "cargo-home"
        pattern = f"registry/cache/*/{archive.name}-{archive.version}.crate"
        if not list(home.glob(pattern)):
            _fetch_crates(cache)
        return sorted(home.glob(pattern))[0]
    if archive.kind == "go":
        modcache = cache / "gomod" / "cache"
        zip_path = modcache / "cache" / "download" / archive.name / "@v" / f"{archive.version}.zip"
        if not zip_path.exists():
            env = {"GOMODCACHE": str(modcache), "GOFLAGS": "-modcacherw"}
            _run(["go", "mod", "download", f"{archive.name}@{archive.version}"], cache, env)
        return zip_path
    if archive.kind == "maven":
        group, artifact = archive.name.split(":")
        repo = cache / "maven" / "repo"
        jar = (
            repo.joinpath(*group.split("."), artifact, archive.version)
            / f"{artifact}-{archive.version}-sources.jar"
        )
        if not jar.exists():
            get = ["mvn", "-q", "-B", "dependency:get", "-Dtransitive=false"]
            coordinates = f"-Dartifact={archive.name}:{archive.version}:jar:sources"
            _run([*get, f"-Dmaven.repo.local={repo}", coordinates], cache)
        return jar
    if archive.kind == "deb":
        directory = cache / "deb"
        version = archive.version.replace(":", "%3a")
        found = _find(directory, f"{archive.name}_{version}_")
        if found is None:
            directory.mkdir(parents=True, exist_ok=True)
            _run(["apt-get", "download", f"{archive.name}={archive.version}"], directory)
            found = _find(directory, f"{archive.name}_{version}_")
        assert found, archive
        return found
    raise ValueError(archive.kind)


def _fetch_crates(cache: Path) -> None:
    """`cargo fetch` of a throwaway project that depends on every pinned crate."""
    project = cache / "cargo-proj"
    (project / "src").mkdir(parents=True, exist_ok=True)
    crates = sorted({rule.archive for rule in RULES if rule.archive.kind == "crate"}, key=str)
    lines = ['[package]\nname = "holdout-fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]']
    lines += [f'{a.name} = "={a.version}"' for a in crates]
    (project / "Cargo.toml").write_text("\n".join(lines) + "\n")
    (project / "src" / "main.rs").write_text("fn main() {}\n")
    _run(["cargo", "fetch"], project, {"CARGO_HOME": str(cache / "cargo-home")})


# --- reading members --------------------------------------------------------------------------------


def _deb_data(path: Path) -> bytes:
    """The data.tar.* member of a Debian package (an `ar` archive)."""
    data = path.read_bytes()
    position = 8
    while position < len(data):
        header = data[position : position + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        if name.startswith("data.tar"):
            return data[position + 60 : position + 60 + size]
        position += 60 + size + size % 2
    raise ValueError(f"{path}: no data.tar")


def members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(member path, contents) of every regular file in the archive."""
    if path.suffix in (".zip", ".jar"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
        return
    source = io.BytesIO(_deb_data(path)) if path.suffix == ".deb" else open(path, "rb")  # noqa: SIM115
    with source, tarfile.open(fileobj=source) as archive:
        for member in archive:
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is not None:
                yield member.name.removeprefix("./"), extracted.read()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sample(paths: list[str], cap: int) -> list[str]:
    """Every k-th path: spread over the archive, the same on every run."""
    step = max(1, len(paths) // cap)
    return paths[::step][:cap]


# --- build (once) and measure ---------------------------------------------------------------------


def _first_set_shas() -> set[str]:
    """sha256 of every file in the first (in-sample) set: such files are left out of this one."""
    from bench.language_labels import MANIFEST

    lines = MANIFEST.read_text().splitlines() if MANIFEST.exists() else []
    return {line.rsplit("\t", 1)[-1] for line in lines if line and not line.startswith("#")}


def build(cache: Path) -> int:
    rows: list[tuple[Archive, str, str, str]] = []
    in_sample = _first_set_shas()
    for archive in sorted({rule.archive for rule in RULES}, key=lambda a: a.key):
        contents = {
            name: data
            for name, data in members(fetch(archive, cache))
            if data.strip() and len(data) <= MAX_BYTES and _sha(data) not in in_sample
        }
        taken: set[str] = set()
        for rule in (r for r in RULES if r.archive == archive):
            matched = sorted(
                name
                for name in contents
                if name not in taken
                and any(fnmatch.fnmatch(name, p) for p in rule.patterns)
                and not any(fnmatch.fnmatch(name, p) for p in rule.exclude)
            )
            if not matched:
                print(f"warning: {archive.key} {rule.patterns} matched nothing", file=sys.stderr)
            for name in _sample(matched, rule.cap):
                taken.add(name)
                rows.append((archive, name, rule.label, _sha(contents[name])))
    header = (
        "# archive\tversion\tmember\tlabel\tsha256 (labels from the source; see bench/language_holdout.py)"
    )
    lines = [header]
    lines += [f"{a.key}\t{a.version}\t{name}\t{label}\t{sha}" for a, name, label, sha in rows]
    HOLDOUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {HOLDOUT}: {len(rows)} files, {len({r[2] for r in rows})} labels")
    return 0


def _rows() -> list[tuple[Archive, str, str, str]]:
    rows = []
    for line in HOLDOUT.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, version, member, label, sha = line.split("\t")
        kind, name = key.split(":", 1)
        rows.append((Archive(kind, name, version), member, label, sha))
    return rows


def labelled_files(cache: Path) -> list[tuple[str, str, str]]:
    """(extracted path, member path as the detector sees it, true label), sha256-checked."""
    wanted: dict[Archive, dict[str, tuple[str, str]]] = {}
    for archive, member, label, sha in _rows():
        wanted.setdefault(archive, {})[member] = (label, sha)
    files = []
    for archive, by_member in sorted(wanted.items(), key=lambda item: item[0].key):
        target = cache / "extracted" / archive.kind / f"{archive.name.replace('/', '_')}@{archive.version}"
        for member, data in members(fetch(archive, cache)):
            if member in by_member:
                label, sha = by_member.pop(member)
                if _sha(data) != sha:
                    print(f"sha256 differs, skipped: {archive.key} {member}", file=sys.stderr)
                    continue
                path = target / member
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                files.append((str(path), member, label))
        for member in by_member:
            print(f"missing, skipped: {archive.key} {member}", file=sys.stderr)
    return files


def measure(cache: Path) -> int:
    files = labelled_files(cache)
    labels = Counter(label for _, _, label in files)
    print(f"{len(files)} held-out files, {len(labels) - (NOT_CODE in labels)} languages + not-code")
    for name, detect in (("before", detector_at()), ("now", current_detector())):
        result = evaluate(detect, files)
        right_files = sum(1 for path, shown, truth in files if _labelled_right(detect, path, shown, truth))
        print(
            f"{name:6} precision {result.precision:.3f} ({result.right}/{result.labelled})  "
            f"recall {result.recall:.3f} ({result.recall_right}/{result.code_files})  "
            f"files right {right_files / len(files):.3f} ({right_files}/{len(files)})"
        )
        for (truth, got), count in result.confusions.most_common(40):
            print(f"         {count:5}  {truth} -> {got}")
    return 0


def _labelled_right(detect: object, path: str, shown: str, truth: str) -> bool:
    """A file is right when it gets its true label, or no label when it is not code."""
    from bench.language_labels import read_head

    got = detect(shown, read_head(path))  # type: ignore[operator]
    return got == truth or (got is None and truth == NOT_CODE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("build", "measure"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="download/extract directory")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    return {"build": build, "measure": measure}[args.command](args.cache)


if __name__ == "__main__":
    sys.exit(main())
