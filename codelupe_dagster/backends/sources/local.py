"""A directory of git repositories, as a repository source (kind `local`).

It feeds `crawled_repos` the same RepoRecords the GitHub crawl does, for air-gapped use, demos and tests.
Reading one repository (and every safety check that goes with it) lives in `local_repo.py`; a list of
URLs and paths is `url_list.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from codelupe_dagster.backends.sources.base import SourceRequest, SourceStats, check_options
from codelupe_dagster.backends.sources.local_repo import (
    LocalScan,
    NotARepository,
    add_repository,
    git_link_escape,
    is_git_repository,
    repo_record_from_path,
    strip_git,
)
from codelupe_dagster.backends.sources.url_list import name_from_url, read_source_list
from codelupe_dagster.core.models import RepoRecord

__all__ = [
    "DEFAULT_SCAN_DEPTH",
    "LocalDirSource",
    "LocalScan",
    "NotARepository",
    "git_link_escape",
    "load_local_source",
    "name_from_url",
    "open_local_dir",
    "read_source_list",
    "repo_record_from_path",
    "scan_repository_dir",
]

LOCAL_DIR = "local"
DEFAULT_SCAN_DEPTH = 3


def load_local_source(source: str | Path, *, max_depth: int = DEFAULT_SCAN_DEPTH) -> LocalScan:
    """A directory is scanned for repositories; a file is read as a list of clone URLs and paths."""
    path = Path(source).expanduser()
    if path.is_dir():
        return scan_repository_dir(path, max_depth=max_depth)
    if path.is_file():
        return read_source_list(path)
    raise FileNotFoundError(f"local source {str(source)!r} is neither a directory nor a file")


def scan_repository_dir(root: Path, *, max_depth: int = DEFAULT_SCAN_DEPTH) -> LocalScan:
    """Every repository under `root`, up to `max_depth` directories down; repositories are not descended.

    Names follow the path: `root/<name>` → `local/<name>`, `root/<owner>/<name>` → `<owner>/<name>`, so a
    source laid out like REPOS_DIR keeps its owners. Hidden directories are not source entries.
    """
    root = root.expanduser().resolve()
    scan = LocalScan()
    names: set[str] = set()
    if is_git_repository(root):
        add_repository(scan, names, root, f"local/{strip_git(root.name)}", confine_to=root)
        return scan
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            scan.skip(entry, "symlink", "symlinks are not followed out of the source")
        elif not entry.is_dir():
            scan.skip(entry, "not_a_directory")
        elif not _scan_tree(scan, names, root, entry, depth=1, max_depth=max_depth):
            scan.skip(entry, "not_a_git_repository", f"no repository within {max_depth} levels")
    return scan


def _scan_tree(scan: LocalScan, names: set[str], root: Path, path: Path, depth: int, max_depth: int) -> bool:
    """Adds the repositories at or below `path`; True when there was at least one (even if unreadable)."""
    if is_git_repository(path):
        add_repository(scan, names, path, _name_from_relative(path.relative_to(root)), confine_to=root)
        return True
    if depth >= max_depth:
        return False
    found = False
    for child in sorted(path.iterdir()):
        if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
            found = _scan_tree(scan, names, root, child, depth + 1, max_depth) or found
    return found


def _name_from_relative(relative: Path) -> str:
    parts = [strip_git(part) for part in relative.parts]
    if len(parts) == 1:
        return f"local/{parts[0]}"
    return f"{parts[0]}/{'-'.join(parts[1:])}"


class LocalDirSource:
    """A directory scan behind the `RepoSource` interface; one batch, scanned when iterated."""

    kind = LOCAL_DIR

    def __init__(self, root: Path, *, max_depth: int = DEFAULT_SCAN_DEPTH):
        self.root = root
        self.max_depth = max_depth
        self._scan = LocalScan()

    @property
    def location(self) -> str:
        return str(self.root)

    def batches(self) -> Iterator[Sequence[RepoRecord]]:
        self._scan = scan_repository_dir(self.root, max_depth=self.max_depth)
        if self._scan.records:
            yield self._scan.records

    def stats(self) -> SourceStats:
        return self._scan.stats()


def open_local_dir(request: SourceRequest) -> LocalDirSource:
    check_options(request.options, {"max_depth"}, LOCAL_DIR)
    if request.target is None or not Path(request.target).expanduser().is_dir():
        raise FileNotFoundError(f"local source {request.target!r} is not a directory")
    depth = int(request.options.get("max_depth", DEFAULT_SCAN_DEPTH))
    return LocalDirSource(Path(request.target).expanduser(), max_depth=depth)
