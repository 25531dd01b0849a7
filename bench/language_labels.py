"""How often language labels are right (precision) and how many code files get one (recall).

The labelled set is `tests/core/data/languages/manifest.tsv`: path, true label, sha256. Labels come
from where a file lives, never from the detector: each `Source` below is a tree on this machine
whose files are of one language by construction (CPython's stdlib is Python, `/usr/include/linux`
is C, LLVM's and PyTorch's headers are C++, Vim's runtime is Vim script, Perl's library is Perl,
...), checked by reading samples. "-" marks files that are not code (JSON, XML, YAML, TOML,
plain text): labelling one of them is a wrong label. Languages absent from the machine (Hack,
MUMPS, Mercury, Raku, Rocq/Coq, V, Objective-C, MATLAB, Prolog, Qt translation files) are small
original snippets in `tests/core/data/languages/snippets/<label>/`.

- precision: of the files the detector labels, the share labelled right;
- recall: of the files whose true label is a language, the share labelled right.

Today's detector is `core/language*.py` at BASELINE_COMMIT (before Linguist's table), loaded from
git as modules of their own.

    .venv/bin/python bench/language_labels.py build     # rewrite the manifest from this machine
    .venv/bin/python bench/language_labels.py measure   # precision, recall, confusions: before vs now
    .venv/bin/python bench/language_labels.py speed     # median microseconds per file: before vs now
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `bench` and the package import from the checkout

from bench.modules_at import load_module, source_at  # noqa: E402

DATA = ROOT / "tests" / "core" / "data" / "languages"
MANIFEST = DATA / "manifest.tsv"
SNIPPETS = DATA / "snippets"
BASELINE_COMMIT = "66066fb"  # the last commit before Linguist's table
HEAD_CHARS = 4096
NOT_CODE = "-"
SITE = ROOT / ".venv" / "lib" / "python3.11" / "site-packages"

Detect = Callable[[str, str | None], str | None]


@dataclass(frozen=True)
class Source:
    """Files under `root` whose name ends with one of `suffixes` (or is in `names`) are `label`."""

    root: str
    label: str
    suffixes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    cap: int = 120
    exclude: tuple[str, ...] = ("/testdata/", "/test/fixtures/", "/__pycache__/")


GO = "/usr/local/go/src"
PERL = "/usr/share/perl/5.36.0"
VENV_SCRIPTS = "/root/.pyenv/versions/3.11.7/lib/python3.11/venv/scripts"
SOURCES: tuple[Source, ...] = (
    Source("/usr/lib/python3.11", "python", (".py",), cap=300),
    Source(str(SITE), "python", (".pyi",), cap=60),
    Source(GO, "go", (".go",), cap=300),
    Source(GO, "assembly", (".s",), cap=80),
    Source(GO + "/runtime/cgo", "c", (".c", ".h"), cap=40),
    Source(GO, "shell", (".bash", ".sh"), cap=40),
    Source("/usr/include/linux", "c", (".h",), cap=150),
    Source("/usr/include/x86_64-linux-gnu", "c", (".h",), cap=60, exclude=("/c++/",)),
    Source("/usr/include/X11", "c", (".h",), cap=60),
    Source("/usr/include/llvm-14/llvm", "cpp", (".h", ".inc"), cap=200),
    Source("/usr/include/llvm-c-14", "c", (".h",), cap=30),
    Source(str(SITE / "torch" / "include"), "cpp", (".h", ".hpp"), cap=150),
    Source(str(SITE / "torch" / "include"), "cuda", (".cuh",), cap=20),
    Source("/usr/include/c++", "cpp", (".h", ".tcc"), cap=80),
    # GYP include files are Python literals (Linguist: Python).
    Source("/usr/include/node", "python", (".gypi",), cap=10),
    Source(PERL, "perl", (".pm", ".pl"), cap=200, exclude=("/unicore/",)),
    Source("/usr/share/perl5", "perl", (".pm",), cap=80),
    Source("/usr/share/vim/vim90", "vim-script", (".vim",), cap=150),
    Source("/usr/share/tcltk", "tcl", (".tcl",), cap=60),
    Source("/usr/share/groff", "roff", (".tmac",), cap=40),
    Source("/usr/share/aclocal", "m4sugar", (".m4",), cap=20),
    Source("/usr/share/cmake-3.25", "cmake", (".cmake",), cap=80),
    Source("/usr/lib/node_modules", "javascript", (".js", ".mjs", ".cjs"), cap=200),
    Source("/usr/lib/node_modules", "markdown", (".md",), cap=40),
    Source(str(SITE), "css", (".css",), cap=40),
    Source(str(SITE), "html", (".html",), cap=40),
    Source(str(SITE), "cython", (".pyx", ".pxd"), cap=40),
    Source(str(SITE), "restructuredtext", (".rst",), cap=30),
    Source("/etc", "shell", names=(".bashrc", ".profile", ".bash_logout", "bash.bashrc", "profile"), cap=20),
    Source(GO, "makefile", names=("Makefile",), cap=10),
    Source(GO + "/runtime/cgo", "assembly", (".S",), cap=20),
    Source("/usr/share/postgresql", "sql", (".sql",), cap=80),
    Source("/usr/share/postgresql-common/t", "perl", (".t",), cap=40),
    Source("/usr/share/dpkg", "makefile", (".mk",), cap=10),
    Source("/usr/share/doc/mawk/examples", "awk", (".awk",), cap=10),
    Source("/usr/share/emacs/site-lisp", "emacs-lisp", (".el",), cap=10),
    Source("/usr/share/cmake-3.25/Modules/FortranCInterface", "fortran", (".f90",), cap=10),
    # Files of one language in one place inside the virtual environment and CPython's venv templates.
    # Some languages here are ones Linguist's table cannot name (Autolev `.al`, pandas' Jinja `.tpl`,
    # TableGen) or calls data (Protocol Buffer, GraphQL): they count as misses, on purpose.
    Source(str(SITE / "sympy" / "parsing" / "autolev" / "test-examples"), "autolev", (".al",), cap=20),
    Source(str(SITE / "tree_sitter_javascript"), "tree-sitter-query", (".scm",), cap=10),
    Source(str(SITE / "tree_sitter_go"), "tree-sitter-query", (".scm",), cap=10),
    Source(str(SITE / "pandas" / "io" / "formats" / "templates"), "jinja", (".tpl",), cap=10),
    Source(str(SITE / "torch" / "_inductor"), "jinja", (".jinja",), cap=20),
    Source(str(SITE / "triton" / "include"), "cpp", (".inc",), cap=20),
    Source(str(SITE / "triton" / "include"), "tablegen", (".td",), cap=20),
    Source(str(SITE / "numpy" / "f2py" / "tests"), "fortran", (".f", ".f90"), cap=30),
    Source(str(SITE / "playwright" / "driver" / "package"), "typescript", (".ts",), cap=10),
    Source(str(SITE / "google"), "protocol-buffer", (".proto",), cap=30),
    Source(str(SITE / "dagster_rest_resources"), "graphql", (".graphql",), cap=18),
    Source(str(SITE / "alembic" / "templates"), "mako", (".mako",), cap=13),
    Source(str(SITE / "docutils"), "tex", (".tex",), cap=4),
    Source(str(SITE / "torch" / "include"), "cpp", (".inl", ".cc", ".cpp"), cap=40),
    Source(str(SITE), "cmake", (".cmake",), cap=30),
    Source(VENV_SCRIPTS, "powershell", (".ps1",), cap=2),
    Source(VENV_SCRIPTS, "tcsh", (".csh",), cap=2),
    Source(VENV_SCRIPTS, "shell", (".fish",), names=("activate",)),
    # Not code: data and plain text.
    Source("/usr/lib/node_modules", NOT_CODE, (".json",), cap=80),
    Source(str(SITE), NOT_CODE, (".txt", ".toml", ".yaml", ".yml", ".xml"), cap=120, exclude=("CMakeLists",)),
    Source("/usr/share/common-licenses", NOT_CODE, names=("GPL-3", "Apache-2.0", "MIT"), cap=5),
)


def _walk(source: Source) -> Iterator[str]:
    for directory, subdirectories, names in os.walk(source.root):
        subdirectories.sort()
        for name in sorted(names):
            path = os.path.join(directory, name)
            if any(part in path + "/" for part in source.exclude) or os.path.islink(path):
                continue
            if (source.suffixes and name.endswith(source.suffixes)) or name in source.names:
                yield path


def _sample(paths: list[str], cap: int) -> list[str]:
    """Every k-th path: spread over the tree, the same on every run."""
    step = max(1, len(paths) // cap)
    return paths[::step][:cap]


# Files of the project's virtualenv are recorded under this token, so a clone elsewhere (CI) finds them.
VENV_TOKEN = "{venv}"


def _portable(path: str) -> str:
    prefix = sys.prefix.rstrip("/") + "/"
    return VENV_TOKEN + "/" + path[len(prefix) :] if path.startswith(prefix) else path


def _local(path: str) -> str:
    return sys.prefix.rstrip("/") + path[len(VENV_TOKEN) :] if path.startswith(VENV_TOKEN + "/") else path


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build() -> int:
    rows: dict[str, str] = {}
    for source in SOURCES:
        if os.path.isdir(source.root):
            for path in _sample(list(_walk(source)), source.cap):
                rows.setdefault(path, source.label)
    lines = ["# path\tlabel\tsha256 (labels from the source tree; see bench/language_labels.py)"]
    lines += [f"{_portable(path)}\t{label}\t{_sha(path)}" for path, label in sorted(rows.items())]
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    MANIFEST.write_text("\n".join(lines) + "\n")
    print(f"wrote {MANIFEST}: {len(rows)} files, {len(set(rows.values()))} labels")
    return 0


def labelled_files() -> list[tuple[str, str, str]]:
    """(path, display path, true label) of every labelled file present with its recorded content."""
    found = []
    for line in MANIFEST.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        recorded, label, sha = line.split("\t")
        path = _local(recorded)
        if os.path.isfile(path) and _sha(path) == sha:
            found.append((path, path, label))
    for label_dir in sorted(SNIPPETS.iterdir()):
        for file in sorted(label_dir.iterdir()):
            # The snippet's name, without our directory, is what the detector sees.
            found.append((str(file), f"snippets/{file.name}", label_dir.name))
    return found


def read_head(path: str) -> str | None:
    from codelupe_dagster.core import filters

    return None if (text := filters.decode_text(Path(path).read_bytes())) is None else text[:HEAD_CHARS]


def detector_at(commit: str = BASELINE_COMMIT) -> Detect:
    """`detect_language` of core/language.py as it was at `commit`, with that commit's tables."""
    renames = {}
    for module in ("language_registry", "languages", "language"):
        source = source_at(commit, f"codelupe_dagster/core/{module}.py")
        for old, new in renames.items():
            source = source.replace(f"codelupe_dagster.core.{old} import", f"{new} import")
        renames[module] = f"{module}_at_{commit}"
        loaded = load_module(renames[module], source)
    return loaded.detect_language  # type: ignore[no-any-return]


def current_detector() -> Detect:
    from codelupe_dagster.core.language import detect_language

    return detect_language


@dataclass
class Result:
    files: int
    code_files: int
    labelled: int
    right: int
    recall_right: int
    confusions: Counter[tuple[str, str]]

    @property
    def precision(self) -> float:
        return self.right / self.labelled if self.labelled else 1.0

    @property
    def recall(self) -> float:
        return self.recall_right / self.code_files if self.code_files else 1.0


def evaluate(detect: Detect, files: list[tuple[str, str, str]]) -> Result:
    result = Result(len(files), 0, 0, 0, 0, Counter())
    for path, shown, truth in files:
        got = detect(shown, read_head(path))
        if truth != NOT_CODE:
            result.code_files += 1
            result.recall_right += got == truth
        if got is not None:
            result.labelled += 1
            result.right += got == truth
        if got != truth and not (got is None and truth == NOT_CODE):
            result.confusions[(truth, got or "none")] += 1
    return result


def measure() -> int:
    files = labelled_files()
    labels = Counter(label for _, _, label in files)
    print(f"{len(files)} labelled files, {len(labels) - (NOT_CODE in labels)} languages + not-code")
    for name, detect in (("before", detector_at()), ("now", current_detector())):
        result = evaluate(detect, files)
        print(
            f"{name:6} precision {result.precision:.3f} ({result.right}/{result.labelled})  "
            f"recall {result.recall:.3f} ({result.recall_right}/{result.code_files})"
        )
        for (truth, got), count in result.confusions.most_common(25):
            print(f"         {count:5}  {truth} -> {got}")
    return 0


def speed(repeats: int = 7) -> int:
    """Median time per file over the labelled set, before vs now, alternating runs (noisy machine)."""
    import statistics
    import time

    heads = [(shown, read_head(path)) for path, shown, _ in labelled_files()]
    shared = [
        (shown, head) for shown, head in heads if shown.endswith((".h", ".m", ".pl", ".pm", ".t", ".v"))
    ]
    for title, rows in (("all files", heads), ("shared extensions", shared)):
        timings: dict[str, list[float]] = {"before": [], "now": []}
        for _ in range(repeats):
            for name, detect in (("before", detector_at()), ("now", current_detector())):
                start = time.perf_counter()
                for shown, head in rows:
                    detect(shown, head)
                timings[name].append((time.perf_counter() - start) / len(rows) * 1e6)
        before, now = (statistics.median(timings[k]) for k in ("before", "now"))
        print(
            f"{title} ({len(rows)}): before {before:.1f} us/file, now {now:.1f} us/file, x{now / before:.1f}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("build", "measure", "speed"))
    args = parser.parse_args(argv)
    return {"build": build, "measure": measure, "speed": speed}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
