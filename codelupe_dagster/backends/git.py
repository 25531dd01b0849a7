"""Git as the pipeline uses it: clone or fetch a queued repository, then read one commit's files.

`GitRepos` is everything the stages need of git and nothing more:
- `clone_or_fetch(record)`: bring the repository onto local disk under the policy (allowed hosts and
  schemes, size and time limits, safe names) and report a `CloneOutcome` — never an exception for one bad
  repository, so one broken repository never takes its batch down;
- `open(path)`: a `RepoFiles` reader of a local clone: a commit's tree as `TreeBlob`s (paths and object
  ids, no content) and `SkippedEntry`s (submodules, symlinks), each blob's size from its header, and
  its bytes (or why they were skipped: over the size limit, an LFS pointer).

`Pygit2Repos` (`backends/pygit2_repos.py`) implements it with libgit2; the scoring worker processes call the
module-level functions of `backends/git_files.py` directly, which are the same code. Another git (a CLI
wrapper, a mirror service) joins by implementing these two protocols; `tests/backends/test_git_contract.py`
runs the same contract suite on every implementation.

The value types live here, not in an implementation, so that callers depend on the interface only;
`git_clone` and `git_files` re-export them under their old names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from codelupe_dagster.core.models import RepoRecord

__all__ = [
    "LFS_POINTER",
    "SUBMODULE",
    "SYMLINK",
    "TOO_LARGE",
    "CloneOutcome",
    "ClonePolicy",
    "CloneRefused",
    "CloneStatus",
    "CommitTree",
    "GitRepos",
    "MissingObject",
    "RepoFiles",
    "RepositoryUnreadable",
    "SkippedEntry",
    "TreeBlob",
]

CloneStatus = Literal["cloned", "updated", "unchanged", "failed"]

# Reason codes for entries skipped before content scoring (counted next to the core's reasons).
SYMLINK = "symlink"
SUBMODULE = "submodule"
LFS_POINTER = "lfs_pointer"
TOO_LARGE = "too_large"  # the same code as core.filters.TOO_LARGE, checked from the blob's header


@dataclass(frozen=True)
class ClonePolicy:
    """Where clones go and what may be cloned: the rules every implementation enforces."""

    repos_dir: Path
    allowed_hosts: frozenset[str] = frozenset({"github.com"})
    # Plain http can be tampered with on the way; allow it explicitly (a loopback test server, a mirror).
    allowed_schemes: frozenset[str] = frozenset({"https"})
    max_repo_mb: float = 1024.0
    timeout_s: float = 600.0
    depth: int = 1

    @property
    def max_bytes(self) -> int:
        return int(self.max_repo_mb * 1024 * 1024)


@dataclass(frozen=True)
class CloneOutcome:
    repo: str
    path: str | None
    head: str | None
    status: CloneStatus
    reason: str | None = None  # a short code to count failures by (see CloneRefused)
    detail: str | None = None  # the underlying message, for logs
    bytes: int = 0  # bytes on disk after the clone/fetch
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class CloneRefused(Exception):
    """A repository rejected or failed with a reason code (invalid_name, host_not_allowed, too_large, …)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TreeBlob:
    """One regular (or executable) file entry of a tree, not yet read."""

    path: str
    oid: str  # hex, so entries pickle cheaply to worker processes
    mode: int


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    path: str
    reason: str


@dataclass(frozen=True)
class CommitTree:
    """The commit read (hex) and every file entry of its tree, depth first, no content read."""

    commit: str
    entries: tuple[TreeBlob | SkippedEntry, ...]


class RepositoryUnreadable(Exception):
    """The path is not a readable git repository (missing, empty, corrupt); the message names the path."""


class MissingObject(KeyError):
    """A commit or blob the caller named is not in the repository (a shallow or damaged clone).

    A KeyError, as pygit2's own "not found" is, so a caller that treats KeyError as a missing object keeps
    working whichever implementation it is handed.
    """


class RepoFiles(Protocol):
    """The files of one local clone, read from its object database (no checkout, no worktree)."""

    @property
    def path(self) -> str: ...

    def tree(self, commit: str | None = None) -> CommitTree:
        """`commit`'s tree (HEAD's when None). Submodules and symlinks come back as `SkippedEntry`s: a
        submodule's content lives in another repository and a symlink's target is not code of this path.
        Raises `MissingObject` for a commit the repository lacks."""
        ...

    def blob_size(self, oid: str) -> int:
        """The blob's size from its object header, without inflating it; `MissingObject` if absent."""
        ...

    def root_texts(self, commit: str | None, wanted: Callable[[str], bool]) -> dict[str, str]:
        """``{name: text}`` of the regular files at the root of ``commit``'s tree (HEAD's when None) whose
        names ``wanted`` accepts (licence files, package manifests); large ones skipped, bytes that are
        not UTF-8 replaced. Raises `MissingObject` for a commit the repository lacks."""
        ...

    def read_blob(self, blob: TreeBlob, max_bytes: int | None) -> bytes | SkippedEntry:
        """The blob's bytes, or why it was skipped (`TOO_LARGE` from its header, `LFS_POINTER`)."""
        ...


class GitRepos(Protocol):
    """Clones under a `ClonePolicy`, and readers of the local clones."""

    @property
    def policy(self) -> ClonePolicy: ...

    def clone_or_fetch(self, record: RepoRecord) -> CloneOutcome:
        """Clone `record` under `policy.repos_dir`, or fetch it when a usable clone is there; a refusal or
        failure is a `CloneOutcome` with status "failed" and a reason code, never an exception."""
        ...

    def open(self, path: str) -> RepoFiles:
        """A reader of the repository at `path` (bare or not); `RepositoryUnreadable` when it is not one."""
        ...
