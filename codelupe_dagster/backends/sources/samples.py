"""Git repositories built from real code already on this machine, for the zero-configuration demo.

GitHub is not needed to see the pipeline work end to end: the standard library's packages and the
installed third-party packages are real, varied code (documented and not, with vendored copies that exercise
dedup). Each becomes its own repository with one deterministic commit, so building twice gives the same HEADs
and an unchanged source re-queues nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pygit2

from codelupe_dagster.core.license_detection import is_license_file

# Standard-library packages (real, well-documented code) and installed dependencies of the project.
STDLIB_PACKAGES = (
    "json",
    "email",
    "http",
    "asyncio",
    "concurrent",
    "importlib",
    "logging",
    "unittest",
    "xml",
    "urllib",
    "sqlite3",
    "collections",
    "multiprocessing",
    "tomllib",
    "zoneinfo",
    "wsgiref",
)
THIRD_PARTY_PACKAGES = ("click", "rich", "requests", "jinja2", "yaml", "urllib3", "idna", "tqdm", "pygments")
SOURCE_SUFFIXES = {".py", ".pyi", ".c", ".h", ".js", ".ts", ".go", ".rs", ".java", ".sh", ".toml", ".cfg"}
SIGNATURE = pygit2.Signature("CodeLupe demo", "demo@codelupe.invalid", 1_700_000_000, 0)


@dataclass(frozen=True)
class SampleSource:
    name: str
    path: Path
    head: str
    files: int


def _package_dir(name: str, stdlib: Path) -> Path | None:
    if (stdlib / name).is_dir():
        return stdlib / name
    spec = importlib.util.find_spec(name)
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return None


def _copy_sources(src: Path, dest: Path) -> int:
    copied = 0
    for file in sorted(src.rglob("*")):
        if "__pycache__" in file.parts or not file.is_file() or file.suffix not in SOURCE_SUFFIXES:
            continue
        target = dest / file.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
        copied += 1
    return copied


def _license_file(package: str, src: Path, stdlib: Path) -> Path | None:
    """The licence the package is distributed under, as a file on this machine: CPython's LICENSE.txt
    for the standard library, the distribution's own licence file for an installed package."""
    if src.is_relative_to(stdlib):
        found = stdlib / "LICENSE.txt"
        return found if found.is_file() else None
    for dist in importlib.metadata.packages_distributions().get(package, []):
        for file in importlib.metadata.distribution(dist).files or []:
            if is_license_file(file.name):
                located = Path(str(file.locate()))
                if located.is_file():
                    return located
    return None


def _copy_license(package: str, src: Path, stdlib: Path, dest: Path) -> None:
    """Each sample repository carries its real licence at its root, so detection labels it (training's
    default policy leaves out unlicensed code)."""
    found = _license_file(package, src, stdlib)
    if found is not None:
        shutil.copyfile(found, dest / "LICENSE")


def _commit_all(path: Path) -> str:
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    if parents and repo[parents[0]].peel(pygit2.Commit).tree_id == tree:
        return str(parents[0])
    return str(repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "Import sources", tree, parents))


def build_sample_sources(dest: Path, max_repos: int = 12) -> list[SampleSource]:
    """Create (or refresh) up to `max_repos` repositories under `dest`; idempotent."""
    dest.mkdir(parents=True, exist_ok=True)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    built: list[SampleSource] = []
    candidates = [(f"stdlib-{n}", n) for n in STDLIB_PACKAGES] + [(n, n) for n in THIRD_PARTY_PACKAGES]
    for repo_name, package in candidates:
        if len(built) >= max_repos:
            break
        src = _package_dir(package, stdlib)
        if src is None:
            continue
        path = dest / repo_name
        if not (path / ".git").exists():
            files = _copy_sources(src, path)
            if files == 0:
                shutil.rmtree(path, ignore_errors=True)
                continue
        else:
            files = sum(1 for _ in path.rglob("*") if _.is_file() and ".git" not in _.parts)
        _copy_license(package, src, stdlib, path)
        built.append(SampleSource(repo_name, path, _commit_all(path), files))
    return built
