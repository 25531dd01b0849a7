"""Repository names: which are safe, and the directory a name maps to. Pure string rules, no I/O.

A name is what the queue, the ledgers and the repo index key a repository by: GitHub's `owner/name`,
GitLab's `group/subgroup/.../project` (GitLab allows 20 levels of nested groups), or a local source's
`local/name`. Names come from the network, so before one becomes a path it must be unable to escape the
clone directory or land on another repository's directory.

Layout: `owner/name` maps to `owner/name` as it always has. A deeper name keeps its top-level segment
as the directory and joins the rest with `+`, a character no segment may contain, so
`group/sub/project` → `group/sub+project`. No name can map inside another repository's directory (a
nested `a/b/c` never lives under the bare repository of `a/b`), and no two names map to the same place.
"""

from __future__ import annotations

import re

# The characters GitHub and GitLab allow in an owner, group or project path, minus the "." and ".."
# path tricks checked separately.
_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# GitLab: up to 20 levels of groups, plus the project.
MAX_NAME_DEPTH = 21
# The joined tail is one directory name; file systems stop at 255 bytes, and the clone's temporary
# sibling (`.name.tmp-xxxxxxxx`) needs room too.
MAX_DIRECTORY_NAME = 230
NESTED_SEPARATOR = "+"


def name_segments(full_name: str) -> tuple[str, ...] | None:
    """The segments of a safe name, or None when the name is not safe to use as a path."""
    segments = tuple(full_name.split("/"))
    if not 2 <= len(segments) <= MAX_NAME_DEPTH:
        return None
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or segment in {".", ".."}:
            return None
    if len(NESTED_SEPARATOR.join(segments[1:])) > MAX_DIRECTORY_NAME:
        return None
    return segments


def is_safe_name(full_name: str) -> bool:
    """`owner/name` or `group/.../project`: 2 to 21 segments of allowed characters, no `.`/`..` tricks."""
    return name_segments(full_name) is not None


def repo_directory(full_name: str) -> tuple[str, str]:
    """The two path components a safe name lives under (owner directory, repository directory).

    Raises ValueError for an unsafe name; callers check `is_safe_name` first or turn this into a refusal.
    """
    segments = name_segments(full_name)
    if segments is None:
        raise ValueError(f"repository name {full_name!r} is not a safe name")
    return segments[0], NESTED_SEPARATOR.join(segments[1:])
