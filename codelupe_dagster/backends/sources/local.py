"""Local sources: a directory of git repositories, or a text file listing clone URLs and paths.

They feed `crawled_repos` the same RepoRecords the GitHub crawl does, for air-gapped use, demos and tests.
A repository read from disk knows its HEAD, so the queue can skip it when that HEAD was already processed.
Anything that cannot become a record is skipped with a reason code and counted, never silently dropped.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from codelupe_dagster.backends.git_clone import directory_bytes
from codelupe_dagster.core.language import EXTENSIONS, LANGUAGES
from codelupe_dagster.core.masking import has_credentials, mask_url
from codelupe_dagster.core.models import RepoRecord

DEFAULT_SCAN_DEPTH = 3
# Enough files to guess a repository's main language without walking a huge tree.
LANGUAGE_SAMPLE_FILES = 2000
_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?P<path>.+)$")


@dataclass(frozen=True)
class SkippedEntry:
    entry: str
    reason: str
    detail: str = ""


@dataclass
class LocalScan:
    records: list[RepoRecord] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)

    def skip(self, entry: str | Path, reason: str, detail: str = "") -> None:
        self.skipped.append(SkippedEntry(str(entry), reason, detail))

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(entry.reason for entry in self.skipped))


class NotARepository(ValueError):
    """A path that cannot be read as a git repository; `reason` is the counted reason code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def load_local_source(source: str | Path, *, max_depth: int = DEFAULT_SCAN_DEPTH) -> LocalScan:
    """A directory is scanned for repositories; a file is read as a list of clone URLs and paths."""
    path = Path(source).expanduser()
    if path.is_dir():
        return scan_repository_dir(path, max_depth=max_depth)
    if path.is_file():
        return read_source_list(path)
    raise FileNotFoundError(f"local source {str(source)!r} is neither a directory nor a file")


def is_git_repository(path: Path) -> bool:
    """A work tree (`.git` dir, gitfile or link) or a bare repository; checked on disk, never upwards.

    A `.git` symlink counts (even a dangling one), so that it is reported as a link rather than as
    "not a repository".
    """
    if os.path.lexists(path / ".git"):
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def scan_repository_dir(root: Path, *, max_depth: int = DEFAULT_SCAN_DEPTH) -> LocalScan:
    """Every repository under `root`, up to `max_depth` directories down; repositories are not descended.

    Names follow the path: `root/<name>` → `local/<name>`, `root/<owner>/<name>` → `<owner>/<name>`, so a
    source laid out like REPOS_DIR keeps its owners. Hidden directories are not source entries.
    """
    root = root.expanduser().resolve()
    scan = LocalScan()
    names: set[str] = set()
    if is_git_repository(root):
        _add_repository(scan, names, root, f"local/{_strip_git(root.name)}", confine_to=root)
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
        _add_repository(scan, names, path, _name_from_relative(path.relative_to(root)), confine_to=root)
        return True
    if depth >= max_depth:
        return False
    found = False
    for child in sorted(path.iterdir()):
        if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
            found = _scan_tree(scan, names, root, child, depth + 1, max_depth) or found
    return found


def _name_from_relative(relative: Path) -> str:
    parts = [_strip_git(part) for part in relative.parts]
    if len(parts) == 1:
        return f"local/{parts[0]}"
    return f"{parts[0]}/{'-'.join(parts[1:])}"


def _strip_git(name: str) -> str:
    return name[: -len(".git")] if name.endswith(".git") and len(name) > len(".git") else name


def _add_repository(
    scan: LocalScan, names: set[str], path: Path, full_name: str, *, confine_to: Path
) -> None:
    """Adds the record of one repository, or one counted skip: nothing about one repo aborts the scan."""
    if full_name in names:
        scan.skip(path, "duplicate_name", full_name)
        return
    try:
        escape = git_link_escape(path, confine_to)
        if escape is not None:
            scan.skip(path, "git_link_outside_source", f"{full_name}: {escape}")
            return
        record = repo_record_from_path(path, full_name)
    except NotARepository as exc:
        scan.skip(path, exc.reason, exc.detail)
        return
    except Exception as exc:  # poison containment: whatever a corrupt repo raises is a skip, not a crash
        scan.skip(path, "unreadable_repository", f"{full_name} ({path}): {type(exc).__name__}: {exc}")
        return
    names.add(full_name)
    scan.records.append(record)


def git_link_escape(path: Path, root: Path) -> str | None:
    """Why reading the repository at `path` would follow a link out of `root`, or None when it would not.

    A `.git` symlink is never followed (wherever it points); a gitfile (`gitdir: …`), a worktree's
    `commondir` and the object store's `alternates` must resolve inside `root`, and so must the git
    directory's `objects` and `refs` (either may be a symlink). `root` is the scanned directory, or for a
    listed path the repository itself.
    """
    root = root.resolve()
    dot_git = path / ".git"
    if dot_git.is_symlink():
        return f"'.git' is a symlink to {os.readlink(dot_git)!r}; links are not followed"
    if dot_git.is_file():
        git_dir = _gitfile_target(dot_git)
        if git_dir is None:
            return "'.git' is a file without a 'gitdir:' line"
    else:
        git_dir = dot_git if dot_git.is_dir() else path
    for target in _git_dir_links(git_dir):
        if not target.resolve().is_relative_to(root):
            return f"{target} resolves outside {root}"
    return None


def _gitfile_target(gitfile: Path) -> Path | None:
    """The directory a gitfile names, relative to the gitfile's directory when not absolute."""
    try:
        first = gitfile.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    if not first.startswith("gitdir:"):
        return None
    target = Path(first[len("gitdir:") :].strip()).expanduser()
    return target if target.is_absolute() else gitfile.parent / target


def _git_dir_links(git_dir: Path) -> list[Path]:
    """Every path libgit2 would read the repository's data through: the git dir, its common dir, stores."""
    paths = [git_dir]
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = Path(commondir.read_text(encoding="utf-8", errors="replace").strip())
        git_dir = common if common.is_absolute() else git_dir / common
        paths.append(git_dir)
    paths += [git_dir / "objects", git_dir / "refs"]
    alternates = git_dir / "objects" / "info" / "alternates"
    if alternates.is_file():
        for line in alternates.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and not line.startswith("#"):
                alternate = Path(line.strip())
                paths.append(alternate if alternate.is_absolute() else git_dir / "objects" / alternate)
    return paths


def repo_record_from_path(path: Path, full_name: str) -> RepoRecord:
    """The record of a repository on disk: HEAD sha, HEAD commit time as `pushed_at`, branch, language."""
    try:
        repo = pygit2.Repository(str(path))
    except (pygit2.GitError, KeyError) as exc:
        raise NotARepository("unreadable_repository", str(exc)) from exc
    if repo.head_is_unborn:
        raise NotARepository("empty_repository", "HEAD has no commit yet")
    try:
        commit = repo.head.peel(pygit2.Commit)
    except (pygit2.GitError, KeyError, ValueError) as exc:
        raise NotARepository("unreadable_repository", f"HEAD: {exc}") from exc
    pushed_at = datetime.fromtimestamp(commit.commit_time, UTC).isoformat()
    return RepoRecord(
        full_name=full_name,
        clone_url=str(path.resolve()),
        language=guess_language(repo, commit.tree),
        size_kb=_git_dir_size_kb(Path(repo.path)),
        pushed_at=pushed_at,
        default_branch=None if repo.head_is_detached else repo.head.shorthand,
        source="local",
        head=str(commit.id),
    )


def guess_language(repo: pygit2.Repository, tree: pygit2.Tree) -> str | None:
    """The most common code language among the first files of the tree, as GitHub shows a main language."""
    counts: Counter[str] = Counter()
    seen = 0
    stack = [tree]
    while stack and seen < LANGUAGE_SAMPLE_FILES:
        for entry in stack.pop():
            if entry.type_str == "tree":
                stack.append(repo[entry.id])
            elif entry.type_str == "blob":
                seen += 1
                language = EXTENSIONS.get(os.path.splitext(entry.name or "")[1].lower())
                if language in LANGUAGES:
                    counts[language] += 1
    return counts.most_common(1)[0][0] if counts else None


def _git_dir_size_kb(git_dir: Path) -> int:
    """Kilobytes of the object database, like GitHub's `size` (which also counts packed history)."""
    return directory_bytes(git_dir) // 1024


def read_source_list(path: Path) -> LocalScan:
    """One clone URL or repository path per line; blank lines and `#` comments are ignored.

    Relative paths are relative to the list file, so a list can travel with the repositories it names.
    A URL's record has no HEAD (the clone stage learns it); a path's record is read from disk.
    """
    scan = LocalScan()
    names: set[str] = set()
    base = path.expanduser().resolve().parent
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        if line.lower().startswith("file://"):
            line = line[len("file://") :]
        if _URL_SCHEME.match(line) and has_credentials(line):
            # Refused before it reaches a record, the queue or a log: only the masked form is kept.
            scan.skip(where, "credentials_in_url", mask_url(line))
            continue
        if _URL_SCHEME.match(line) or _SCP_LIKE.match(line):
            full_name = name_from_url(line)
            if full_name is None:
                scan.skip(where, "unrecognised_url", line)
            elif full_name in names:
                scan.skip(where, "duplicate_name", full_name)
            else:
                names.add(full_name)
                scan.records.append(RepoRecord(full_name=full_name, clone_url=line, source="local"))
            continue
        repo_path = Path(line).expanduser()
        repo_path = repo_path if repo_path.is_absolute() else base / repo_path
        if not repo_path.exists():
            scan.skip(where, "path_not_found", str(repo_path))
        elif not repo_path.is_dir() or not is_git_repository(repo_path):
            scan.skip(where, "not_a_git_repository", str(repo_path))
        else:
            resolved = repo_path.resolve()
            # A listed repository stands alone: its git data must lie inside its own directory.
            _add_repository(scan, names, resolved, f"local/{_strip_git(resolved.name)}", confine_to=resolved)
    return scan


def name_from_url(url: str) -> str | None:
    """`https://host/owner/name(.git)` or `git@host:owner/name.git` → `owner/name`."""
    scp = _SCP_LIKE.match(url)
    if scp and not _URL_SCHEME.match(url):
        path = scp.group("path")
    else:
        path = _URL_SCHEME.sub("", url).split("/", 1)[-1] if "/" in _URL_SCHEME.sub("", url) else ""
    parts = [part for part in path.split("?")[0].split("#")[0].strip("/").split("/") if part]
    if len(parts) < 2:
        return None
    return f"{parts[-2]}/{_strip_git(parts[-1])}"
