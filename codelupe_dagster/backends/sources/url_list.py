"""A text file listing clone URLs and repository paths, as a repository source (kind `urls`).

For air-gapped mirrors and demos: one clone URL or path per line. A URL's record has no HEAD (the clone
stage learns it); a path's record is read from disk like a directory scan's. Every record's `source` is
`local`, the clone stage's permission to clone a local path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from codelupe_dagster.backends.sources.base import SourceRequest, SourceStats, check_options
from codelupe_dagster.backends.sources.local_repo import (
    LOCAL,
    LocalScan,
    add_repository,
    is_git_repository,
    strip_git,
)
from codelupe_dagster.core.masking import has_credentials, mask_url
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_names import MAX_NAME_DEPTH, is_safe_name

URLS = "urls"
_URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?P<path>.+)$")


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
            elif not is_safe_name(full_name):
                scan.skip(where, "unsafe_name", full_name)
            elif full_name in names:
                scan.skip(where, "duplicate_name", full_name)
            else:
                names.add(full_name)
                scan.records.append(RepoRecord(full_name=full_name, clone_url=line, source=LOCAL))
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
            add_repository(scan, names, resolved, f"local/{strip_git(resolved.name)}", confine_to=resolved)
    return scan


def name_from_url(url: str) -> str | None:
    """The URL's path as a name: `https://host/owner/name(.git)` or `git@host:owner/name.git` → `owner/name`.

    Nested groups keep every segment (`git@gitlab.com:group/sub/project.git` → `group/sub/project`), so
    two projects that share their last two segments do not collide. Paths deeper than a name may be are
    not recognised.
    """
    scp = _SCP_LIKE.match(url)
    if scp and not _URL_SCHEME.match(url):
        path = scp.group("path")
    else:
        path = _URL_SCHEME.sub("", url).split("/", 1)[-1] if "/" in _URL_SCHEME.sub("", url) else ""
    parts = [part for part in path.split("?")[0].split("#")[0].strip("/").split("/") if part]
    if not 2 <= len(parts) <= MAX_NAME_DEPTH:
        return None
    return "/".join([*parts[:-1], strip_git(parts[-1])])


class UrlListSource:
    """A list file behind the `RepoSource` interface; one batch, read when iterated."""

    kind = URLS

    def __init__(self, path: Path):
        self.path = path
        self._scan = LocalScan()

    @property
    def location(self) -> str:
        return str(self.path)

    def batches(self) -> Iterator[Sequence[RepoRecord]]:
        self._scan = read_source_list(self.path)
        if self._scan.records:
            yield self._scan.records

    def stats(self) -> SourceStats:
        return self._scan.stats()


def open_url_list(request: SourceRequest) -> UrlListSource:
    check_options(request.options, set(), URLS)
    if request.target is None or not Path(request.target).expanduser().is_file():
        raise FileNotFoundError(f"URL list {request.target!r} is not a file")
    return UrlListSource(Path(request.target).expanduser())
