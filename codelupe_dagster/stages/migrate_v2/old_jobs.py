"""The old pipeline's repo jobs (JSON objects or plain names) read as `RepoRecord`s; unparseable ones
are counted, never guessed."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from codelupe_dagster.core.models import RepoRecord

# ---------------------------------------------------------------------- old repo jobs


_GIT_SUFFIX = re.compile(r"\.git$")


def _name_from_url(url: str) -> str | None:
    """``owner/name`` from https://github.com/owner/name(.git), git@github.com:owner/name.git, an API URL."""
    url = url.strip()
    if url.startswith("git@") and ":" in url:
        path = url.split(":", 1)[1]
    else:
        parts = urlsplit(url)
        if not parts.scheme or not parts.netloc:
            return None
        path = parts.path
        if parts.netloc.startswith("api.") and path.startswith("/repos/"):
            path = path[len("/repos") :]
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        return None
    return f"{segments[0]}/{_GIT_SUFFIX.sub('', segments[1])}"


def _cloneable(url: Any) -> str | None:
    """A URL git can clone; GitHub's API URL (``api.github.com/repos/...``) is not one."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if url.startswith("git@"):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ssh", "git", "file") or parts.netloc.startswith("api."):
        return None
    return url


def int_field(value: Any) -> int:
    """A count from an old record, whatever JSON type it was written as (0 when absent or garbage)."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def str_field(value: Any) -> str | None:
    """A non-blank string field of an old record, stripped; None for anything else."""
    return value.strip() or None if isinstance(value, str) else None


def license_field(value: Any) -> str | None:
    """The licence of an old record: an SPDX id, or GitHub's licence object reduced to one."""
    if isinstance(value, dict):  # GitHub's {"key": "mit", "spdx_id": "MIT", ...}
        value = value.get("spdx_id") or value.get("key")
    return str_field(value)


def _record_from_name(text: str) -> RepoRecord | None:
    if "://" in text or text.startswith("git@"):
        name = _name_from_url(text)
        return RepoRecord(name, clone_url=text) if name else None
    if text.count("/") == 1 and not any(c.isspace() for c in text):
        return RepoRecord(text, clone_url=f"https://github.com/{text}.git")
    return None


def _record_from_job(job: dict[str, Any]) -> RepoRecord | None:
    owner = job.get("owner")
    if isinstance(owner, dict):  # the GitHub API's owner object
        owner = owner.get("login")
    name = str_field(job.get("name"))
    full_name = (
        str_field(job.get("full_name")) or str_field(job.get("repo")) or str_field(job.get("repo_name"))
    )
    if not full_name and isinstance(owner, str) and name and "/" not in name:
        full_name = f"{owner}/{name}"
    if not full_name:
        for url_field in ("clone_url", "html_url", "url", "git_url", "ssh_url"):
            if isinstance(job.get(url_field), str) and (found := _name_from_url(job[url_field])):
                full_name = found
                break
    if not full_name and name and name.count("/") == 1:
        full_name = name
    if not full_name or full_name.count("/") != 1:
        return None
    clone_url = (
        _cloneable(job.get("clone_url"))
        or _cloneable(job.get("html_url"))
        or _cloneable(job.get("url"))
        or f"https://github.com/{full_name}.git"
    )
    topics = job.get("topics")
    return RepoRecord(
        full_name=full_name,
        clone_url=clone_url,
        stars=int_field(job.get("stars", job.get("stargazers_count"))),
        forks=int_field(job.get("forks", job.get("forks_count"))),
        language=str_field(job.get("language")),
        license=license_field(job.get("license")),
        size_kb=int_field(job.get("size_kb", job.get("size"))),
        pushed_at=str_field(job.get("pushed_at")),
        archived=job.get("archived") is True,
        fork=job.get("fork") is True,
        default_branch=str_field(job.get("default_branch")),
        topics=tuple(t for t in topics if isinstance(t, str)) if isinstance(topics, list) else (),
        description=str_field(job.get("description")),
    )


def parse_repo_job(raw: bytes | str) -> RepoRecord | None:
    """One element of the old ``pipeline:repos`` list as a RepoRecord, or None when it names no repo.

    Jobs were JSON objects with GitHub metadata (``full_name``/``name``/``url``/``clone_url``/``stars``
    /``language``…) or plain ``owner/name`` strings or URLs; both are accepted, and a JSON string too.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return None
    text = text.strip()
    if not text:
        return None
    if text[0] in '{["' or text in ("null", "true", "false") or text[0].isdigit() or text[0] == "-":
        try:
            job = json.loads(text)
        except ValueError:
            return None if text[0] in "{[" else _record_from_name(text)
        if isinstance(job, dict):
            return _record_from_job(job)
        if isinstance(job, str):
            return _record_from_name(job.strip())
        return None
    return _record_from_name(text)
