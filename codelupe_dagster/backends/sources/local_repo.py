"""One repository on disk → a `RepoRecord`, safely; shared by the directory scan and the URL list.

A repository read from disk knows its HEAD, so the queue can skip it when that HEAD was already processed.
Anything that cannot become a record is skipped with a reason code and counted, never silently dropped;
reading never follows a link (a `.git` symlink, a gitfile, `commondir`, `alternates`) out of the source.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pygit2

from codelupe_dagster.backends import git_files
from codelupe_dagster.backends.git_clone import directory_bytes
from codelupe_dagster.backends.sources.base import SkippedEntry, SourceStats
from codelupe_dagster.core.language import EXTENSIONS, LANGUAGES
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_names import is_safe_name

LOCAL = "local"
# Enough files to guess a repository's main language without walking a huge tree.
LANGUAGE_SAMPLE_FILES = 2000


@dataclass
class LocalScan:
    """What a local source found: records, and every skipped entry with its reason."""

    records: list[RepoRecord] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)

    def skip(self, entry: str | Path, reason: str, detail: str = "") -> None:
        self.skipped.append(SkippedEntry(str(entry), reason, detail))

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(entry.reason for entry in self.skipped))

    def stats(self) -> SourceStats:
        stats = SourceStats(repos_seen=len(self.records))
        for entry in self.skipped:
            stats.skip(entry.entry, entry.reason, entry.detail)
        return stats


class NotARepository(ValueError):
    """A path that cannot be read as a git repository; `reason` is the counted reason code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def is_git_repository(path: Path) -> bool:
    """A work tree (`.git` dir, gitfile or link) or a bare repository; checked on disk, never upwards.

    A `.git` symlink counts (even a dangling one), so that it is reported as a link rather than as
    "not a repository".
    """
    if os.path.lexists(path / ".git"):
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def strip_git(name: str) -> str:
    return name[: -len(".git")] if name.endswith(".git") and len(name) > len(".git") else name


def add_repository(scan: LocalScan, names: set[str], path: Path, full_name: str, *, confine_to: Path) -> None:
    """Adds the record of one repository, or one counted skip: nothing about one repo aborts the scan."""
    if not is_safe_name(full_name):
        scan.skip(path, "unsafe_name", full_name)
        return
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
        commit = git_files.head_commit(repo)  # a cut-short commit raises git_files.TruncatedObject here
    except (pygit2.GitError, KeyError, ValueError) as exc:
        raise NotARepository("unreadable_repository", f"HEAD: {exc}") from exc
    pushed_at = datetime.fromtimestamp(commit.commit_time, UTC).isoformat()
    return RepoRecord(
        full_name=full_name,
        clone_url=str(path.resolve()),
        # A missing or cut-short tree raises: the caller skips the repository as unreadable, by name.
        language=guess_language(repo, git_files.commit_tree(repo, commit)),
        size_kb=_git_dir_size_kb(Path(repo.path)),
        pushed_at=pushed_at,
        default_branch=None if repo.head_is_detached else repo.head.shorthand,
        source=LOCAL,
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
                stack.append(git_files.read_object(repo, entry.id).peel(pygit2.Tree))
            elif entry.type_str == "blob":
                seen += 1
                language = EXTENSIONS.get(os.path.splitext(entry.name or "")[1].lower())
                if language in LANGUAGES:
                    counts[language] += 1
    return counts.most_common(1)[0][0] if counts else None


def _git_dir_size_kb(git_dir: Path) -> int:
    """Kilobytes of the object database, like GitHub's `size` (which also counts packed history)."""
    return directory_bytes(git_dir) // 1024
