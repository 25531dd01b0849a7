"""Shallow clone or fetch one repository with pygit2, safely.

Safety comes from what is *not* done as much as from checks:
- clones are bare: there is no checkout, so no smudge/clean filters run, Git LFS pointers stay pointers,
  and submodules are never initialised (readers walk the object database with pygit2);
- libgit2 never runs hooks, so a hostile repository cannot execute anything here;
- URLs must use an allowed scheme (default https only) and an allow-listed host (default github.com) and
  carry no credentials (user info or secret query parameters); a local path is accepted only for
  repositories that came from a local source;
- the directory is ``repos_dir/<owner>/<name>`` (nested GitLab groups: ``repos_dir/<group>/<sub>+<name>``)
  with every segment checked against a strict pattern (`core/repo_names.py`), and the clone is built in
  a temporary sibling and renamed into place, so a crash never leaves a half-cloned repository that
  later looks complete;
- size is limited before cloning (the crawled ``size_kb``), during the transfer (received bytes) and after
  (bytes on disk); time is limited during the transfer;
- a source whose HEAD is detached is fetched by its ``HEAD`` into a private ref, and a HEAD the crawl
  recorded is checked against what arrived, so a repository never silently stays stale;
- libgit2's messages can quote the URL; details are masked before they reach an outcome or a log.

The libgit2 side of `GitRepos.clone_or_fetch` (`backends/git.py`, `backends/pygit2_repos.py`); no Dagster.
Every failure comes back as a ``CloneOutcome`` with a reason code instead of an exception, so one broken
repository never takes its batch down.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pygit2

# The value types belong to the interface (backends/git.py); re-exported here under their old home.
from codelupe_dagster.backends.git import CloneOutcome, ClonePolicy, CloneRefused, CloneStatus
from codelupe_dagster.core.masking import has_credentials, mask_secrets_in_text, mask_url
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_names import repo_directory

__all__ = [
    "CloneOutcome",
    "ClonePolicy",
    "CloneRefused",
    "CloneStatus",
    "check_source",
    "clone_or_fetch",
    "directory_bytes",
    "repo_path",
]

# Where a fetch of the source's HEAD (no branch to follow) lands; not under refs/heads, so never a branch.
SOURCE_HEAD_REF = "refs/codelupe/source-head"


def repo_path(repos_dir: Path, full_name: str) -> Path:
    """Where ``full_name`` is cloned: ``repos_dir/owner/name``, or ``repos_dir/group/sub+name`` when nested.

    Anything that could escape ``repos_dir`` is refused with ``invalid_name``.
    """
    try:
        owner, name = repo_directory(full_name)
    except ValueError:
        raise CloneRefused("invalid_name", f"repository name {full_name!r} is not a safe name") from None
    root = Path(repos_dir).resolve()
    path = (root / owner / name).resolve()
    if path.parent.parent != root:  # belt and braces: the pattern already rules out separators
        raise CloneRefused("invalid_name", f"repository name {full_name!r} escapes {root}")
    return path


def check_source(record: RepoRecord, policy: ClonePolicy) -> str:
    """The URL or path to clone from, or CloneRefused when the policy does not admit it."""
    url = record.clone_url.strip()
    if not url:
        raise CloneRefused("no_clone_url", "the queued record has no clone URL")
    parts = urlsplit(url)
    if parts.scheme in ("", "file") or os.path.isabs(url):
        if record.source != "local":
            raise CloneRefused("local_path_not_allowed", "local paths are only cloned for a local source")
        local = Path(parts.path if parts.scheme == "file" else url)
        if not local.exists():
            raise CloneRefused("not_found", f"{local} does not exist")
        return str(local)
    if parts.scheme not in policy.allowed_schemes:
        allowed = ", ".join(sorted(policy.allowed_schemes))
        raise CloneRefused("scheme_not_allowed", f"scheme {parts.scheme!r} is not one of: {allowed}")
    if parts.username or parts.password or has_credentials(url):
        # Credentials in a URL end up in logs and .git/config; tokens go through callbacks instead.
        raise CloneRefused("credentials_in_url", f"clone URLs must not embed credentials: {mask_url(url)}")
    if (parts.hostname or "").lower() not in policy.allowed_hosts:
        raise CloneRefused("host_not_allowed", f"host {parts.hostname!r} is not in the allow-list")
    return url


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class _TransferGuard(pygit2.RemoteCallbacks):
    """Aborts a transfer that runs past the deadline or receives more than the size limit.

    libgit2 calls this between pack chunks; raising here makes pygit2 abort the operation and re-raise.
    """

    def __init__(self, deadline: float, max_bytes: int) -> None:
        super().__init__()
        self.deadline = deadline
        self.max_bytes = max_bytes

    def transfer_progress(self, stats: pygit2.remotes.TransferProgress) -> None:
        if self.max_bytes and stats.received_bytes > self.max_bytes:
            raise CloneRefused("too_large", f"transfer exceeded {self.max_bytes} bytes")
        if time.monotonic() > self.deadline:
            raise CloneRefused("timeout", "transfer ran past the time limit")


def _classify(exc: Exception) -> CloneRefused:
    """A reason code for any failure, its detail masked: libgit2 quotes URLs (and their tokens) verbatim."""
    if isinstance(exc, CloneRefused):
        return CloneRefused(exc.reason, mask_secrets_in_text(exc.detail))
    message = mask_secrets_in_text(str(exc))
    lowered = message.lower()
    if "404" in lowered or "not found" in lowered or "does not appear to be a git repository" in lowered:
        return CloneRefused("not_found", message)
    if "401" in lowered or "403" in lowered or "authentication" in lowered:
        return CloneRefused("auth_required", message)
    if "timed out" in lowered or "timeout" in lowered:
        return CloneRefused("timeout", message)
    if "connect" in lowered or "resolve" in lowered:
        return CloneRefused("unreachable", message)
    return CloneRefused("git_error", message)


def _is_local(source: str) -> bool:
    return "://" not in source


def _fresh_clone(source: str, path: Path, policy: ClonePolicy, guard: _TransferGuard) -> pygit2.Repository:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        # libgit2's local transport cannot do shallow fetches; local sources are cheap to copy whole.
        depth = 0 if _is_local(source) else policy.depth
        pygit2.clone_repository(source, str(staging), bare=True, depth=depth, callbacks=guard)
        if path.exists():
            shutil.rmtree(path)  # an unusable leftover (checked by the caller)
        os.replace(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return pygit2.Repository(str(path))


def _fetch(
    repo: pygit2.Repository, source: str, record: RepoRecord, policy: ClonePolicy, guard: _TransferGuard
) -> str:
    """Fetch the branch to follow (or the source's HEAD) and move the local HEAD to it; returns it."""
    repo.remotes.set_url("origin", source)  # the source may have moved (or a test server changed port)
    depth = 0 if _is_local(source) else policy.depth
    branch = _branch_to_follow(repo, record)
    if branch is None:
        # A detached source HEAD names no branch: fetch HEAD itself and detach ours at the same commit.
        repo.remotes["origin"].fetch([f"+HEAD:{SOURCE_HEAD_REF}"], depth=depth, callbacks=guard)
        target = repo.references[SOURCE_HEAD_REF].target
        repo.set_head(target)
        return str(target)
    remote_ref = f"refs/remotes/origin/{branch}"
    repo.remotes["origin"].fetch([f"+refs/heads/{branch}:{remote_ref}"], depth=depth, callbacks=guard)
    target = repo.references[remote_ref].target
    repo.references.create(f"refs/heads/{branch}", target, force=True)
    repo.set_head(f"refs/heads/{branch}")
    return str(target)


def _branch_to_follow(repo: pygit2.Repository, record: RepoRecord) -> str | None:
    """The record's default branch, else the clone's own branch; None means "the source's HEAD".

    A record with a HEAD but no branch is a local repository the crawl saw detached; a clone whose HEAD
    is detached was cloned from one. Neither has a branch to fetch (``refs/heads/HEAD`` does not exist).
    """
    if record.default_branch:
        return record.default_branch
    if record.head or repo.head_is_detached:
        return None
    return repo.head.shorthand


def _check_head(repo: pygit2.Repository, head: str, record: RepoRecord) -> str | None:
    """Refuses a HEAD that is not the one the crawl recorded nor a descendant of it.

    A newer commit is fine (the source moved on since the crawl). A rewritten or rewound source is not
    silently taken for the queued one: it fails with ``head_mismatch`` and the next crawl re-queues it.
    A shallow clone may lack the recorded commit; then moving on is all that can be told, and the
    returned note says so.
    """
    if not record.head or head == record.head:
        return None
    try:
        recorded = repo.get(record.head)
    except ValueError:  # not a hex object id: nothing the crawl could have read from a repository
        recorded = None
    if recorded is None:
        if repo.is_shallow:
            return f"HEAD {head} differs from the crawled {record.head}, which this shallow clone lacks"
        raise CloneRefused("head_mismatch", f"HEAD {head} is not the crawled {record.head} nor newer")
    if not repo.descendant_of(head, record.head):
        raise CloneRefused("head_mismatch", f"HEAD {head} is not the crawled {record.head} nor newer")
    return None


def _open_existing(path: Path) -> pygit2.Repository | None:
    if not path.exists():
        return None
    try:
        repo = pygit2.Repository(str(path))
        _ = repo.head.target  # an empty or corrupt repository is re-cloned rather than fetched into
        return repo
    except (pygit2.GitError, KeyError, ValueError):
        return None


def clone_or_fetch(record: RepoRecord, policy: ClonePolicy) -> CloneOutcome:
    """Clone ``record`` into ``policy.repos_dir`` or fetch it if present; never raises for a bad repo."""
    started = time.monotonic()
    path: Path | None = None
    try:
        path = repo_path(policy.repos_dir, record.full_name)
        source = check_source(record, policy)
        if record.size_kb * 1024 > policy.max_bytes:
            raise CloneRefused(
                "too_large", f"reported size {record.size_kb} KB exceeds {policy.max_repo_mb} MB"
            )
        guard = _TransferGuard(deadline=started + policy.timeout_s, max_bytes=policy.max_bytes)
        repo = _open_existing(path)
        if repo is not None:
            before = str(repo.head.target)
            head = _fetch(repo, source, record, policy, guard)
            status: CloneStatus = "unchanged" if head == before else "updated"
        else:
            repo = _fresh_clone(source, path, policy, guard)
            head = str(repo.head.target)
            status = "cloned"
        note = _check_head(repo, head, record)
        size = directory_bytes(path)
        if size > policy.max_bytes:
            shutil.rmtree(path, ignore_errors=True)
            raise CloneRefused("too_large", f"{size} bytes on disk exceed {policy.max_repo_mb} MB")
        return CloneOutcome(
            record.full_name,
            str(path),
            head,
            status,
            detail=note,
            bytes=size,
            seconds=time.monotonic() - started,
        )
    except (CloneRefused, pygit2.GitError, OSError, KeyError, ValueError) as exc:
        # Every failure becomes a counted reason code; the rest of the batch goes on.
        refused = _classify(exc)
        return CloneOutcome(
            record.full_name,
            str(path) if path else None,
            None,
            "failed",
            reason=refused.reason,
            detail=refused.detail,
            seconds=time.monotonic() - started,
        )
