"""`GitRepos` on libgit2 (pygit2): the existing clone and tree-reading functions behind the interface.

Nothing here decides anything new: `clone_or_fetch` is `git_clone.clone_or_fetch` under the instance's
policy, and the reader calls `git_files` on a repository opened once. What this module adds is the
interface's error contract: pygit2's broken-repository and not-found errors become `RepositoryUnreadable`
and `MissingObject`, so a caller never has to know which git it was handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from codelupe_dagster.backends import git_clone, git_files
from codelupe_dagster.backends.git import (
    CloneOutcome,
    ClonePolicy,
    CommitTree,
    GitRepos,
    MissingObject,
    RepoFiles,
    RepositoryUnreadable,
    SkippedEntry,
    TreeBlob,
)
from codelupe_dagster.core.models import RepoRecord

__all__ = ["Pygit2RepoFiles", "Pygit2Repos"]


class Pygit2RepoFiles:
    """One local clone, opened once; its object database read through `git_files`."""

    def __init__(self, path: str) -> None:
        try:
            self._repo = git_files.open_repository(path)
        except pygit2.GitError as exc:
            raise RepositoryUnreadable(str(exc)) from exc
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def tree(self, commit: str | None = None) -> CommitTree:
        resolved = self._commit(commit)
        try:
            entries = tuple(git_files.walk_tree(self._repo, git_files.commit_tree(self._repo, resolved)))
        except git_files.TruncatedObject as exc:
            raise RepositoryUnreadable(f"{self._path}: {exc}") from exc
        return CommitTree(str(resolved.id), entries)

    def _commit(self, commit: str | None) -> pygit2.Commit:
        if commit is None:
            try:
                return git_files.head_commit(self._repo)
            except git_files.TruncatedObject as exc:  # the commit is there, damaged: so is the repository
                raise RepositoryUnreadable(f"{self._path}: {exc}") from exc
            except (pygit2.GitError, KeyError) as exc:  # an unborn HEAD: nothing was ever committed
                raise RepositoryUnreadable(f"{self._path} has no HEAD commit ({exc})") from exc
        try:
            return git_files.read_object(self._repo, commit).peel(pygit2.Commit)
        except git_files.TruncatedObject as exc:
            raise RepositoryUnreadable(f"{self._path}: {exc}") from exc
        except (KeyError, ValueError) as exc:  # not found, or not an object id at all
            raise MissingObject(f"commit {commit!r} is not in {self._path}") from exc
        except pygit2.GitError as exc:
            raise MissingObject(f"{commit!r} in {self._path} is not a commit ({exc})") from exc

    def root_texts(self, commit: str | None, wanted: Callable[[str], bool]) -> dict[str, str]:
        """Texts of the root files at ``commit`` (HEAD when None) whose names ``wanted`` accepts."""
        resolved = self._commit(commit)
        try:
            return git_files.read_root_texts(self._repo, git_files.commit_tree(self._repo, resolved), wanted)
        except git_files.TruncatedObject as exc:
            raise RepositoryUnreadable(f"{self._path}: {exc}") from exc

    def blob_size(self, oid: str) -> int:
        try:
            return git_files.blob_size(self._repo, oid)
        except (KeyError, ValueError) as exc:
            raise MissingObject(f"blob {oid} is not in {self._path}") from exc

    def read_blob(self, blob: TreeBlob, max_bytes: int | None) -> bytes | SkippedEntry:
        try:
            git_files.check_loose_object(self._repo, blob.oid)  # a reader never hangs on a cut-short blob
            return git_files.read_blob(self._repo, blob, max_bytes)
        except git_files.TruncatedObject as exc:
            raise RepositoryUnreadable(f"{self._path}: {exc}") from exc
        except (KeyError, ValueError) as exc:
            raise MissingObject(f"blob {blob.oid} ({blob.path}) is not in {self._path}") from exc


@dataclass(frozen=True)
class Pygit2Repos:
    """Bare, shallow clones under `policy` (see `git_clone` for the safety rules), read with libgit2.

    Stateless apart from its policy, so one instance serves every clone thread of a run.
    """

    policy: ClonePolicy

    def clone_or_fetch(self, record: RepoRecord) -> CloneOutcome:
        return git_clone.clone_or_fetch(record, self.policy)

    def open(self, path: str) -> Pygit2RepoFiles:
        return Pygit2RepoFiles(path)


if TYPE_CHECKING:  # mypy --strict proves the classes implement the interface
    _repos: GitRepos = Pygit2Repos(ClonePolicy(Path()))
    _files: RepoFiles = Pygit2RepoFiles("")
