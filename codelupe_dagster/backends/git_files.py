"""Files of a cloned repository, read straight from its git object database.

Reading the HEAD tree through pygit2 needs no checkout (clones may be bare), never follows a
symlink out of the repository, and learns each blob's size from the object header before its
content is inflated, so a 50 MB blob over the limit costs a header read rather than 50 MB of RAM.

Paths are git's raw bytes, which need not be UTF-8 (a Latin-1 file name committed on an old system).
pygit2 hands them out with lone surrogates that no Parquet or JSON writer accepts, so `entry_name` decodes
them with backslash escapes instead: `caf\xe9.py` is valid UTF-8, readable, keeps the extension that
language detection needs, and maps every distinct undecodable byte to distinct text. (A name that really
is spelled with a backslash escape would read the same; the blob is always found by its id, never by
this text, so nothing but the displayed path is affected.)

These are module-level functions on purpose: the scoring worker processes open each repository once and
call them directly. `Pygit2Repos` (`backends/pygit2_repos.py`) wraps the same functions as the `RepoFiles`
reader of the `GitRepos` interface (`backends/git.py`).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator

import pygit2

# The value types and reason codes belong to the interface (backends/git.py); re-exported here.
from codelupe_dagster.backends.git import LFS_POINTER, SUBMODULE, SYMLINK, TOO_LARGE, SkippedEntry, TreeBlob

__all__ = [
    "LFS_POINTER",
    "SUBMODULE",
    "SYMLINK",
    "TOO_LARGE",
    "SkippedEntry",
    "TreeBlob",
    "TruncatedObject",
    "blob_size",
    "check_loose_object",
    "commit_tree",
    "entry_name",
    "head_commit",
    "iter_head_files",
    "loose_fanout",
    "open_repository",
    "read_blob",
    "read_object",
    "read_root_texts",
    "walk_head",
    "walk_tree",
]

_LFS_PREFIX = b"version https://git-lfs"
# An LFS pointer is a ~130-byte text file; anything much larger is a real file that happens to
# mention LFS in its first line.
_LFS_POINTER_MAX_BYTES = 1024


def _read_without_rehashing() -> None:
    """Stop libgit2 from hashing every object it reads again (its strict hash verification, on by default).

    Every object of a clone was hashed once already, when the fetch indexed its pack (that is how the
    object got its name), so hashing it again on each read checks nothing new, and it cost half of a blob
    read (collision-detecting SHA-1 runs at a third of zlib's speed: issue 12 measured 0.84 -> 0.43 s of
    CPU for 4,029 blobs, 122 MB). Damage on disk is still caught: zlib checks every object's inflated
    bytes (Adler-32), and a blob that fails it or is missing fails its file or repository as before."""
    pygit2.settings.enable_strict_hash_verification(False)


def open_repository(path: str) -> pygit2.Repository:
    """The repository at `path` (bare or not); raises pygit2.GitError with the path when it is broken.

    Reads through it skip libgit2's SHA-1 check of every object read (for the whole process; see
    `_read_without_rehashing`)."""
    _read_without_rehashing()
    try:
        return pygit2.Repository(path)
    except (pygit2.GitError, KeyError) as exc:
        raise pygit2.GitError(f"not a readable git repository: {path} ({exc})") from exc


class TruncatedObject(pygit2.GitError):
    """A loose object whose compressed stream ends early: what a crash or a full disk mid-write leaves."""


_INFLATE_STEP = 1 << 20  # bytes inflated at a time while checking a loose object (and then dropped)


def loose_fanout(repo: pygit2.Repository) -> frozenset[str]:
    """The `objects/xx` folders that hold loose objects now: none in a freshly fetched clone (all packed),
    so a walk of its trees checks nothing, where each check would cost a failed `open`."""
    try:
        names = os.listdir(os.path.join(repo.path, "objects"))
    except OSError:
        return frozenset()
    return frozenset(name for name in names if len(name) == 2)


def check_loose_object(
    repo: pygit2.Repository, oid: str | pygit2.Oid, fanout: frozenset[str] | None = None
) -> None:
    """Raise `TruncatedObject` when `oid` is stored as a loose object whose zlib stream is cut short.

    libgit2 (1.9, pygit2 1.21's) loops for ever at 100% CPU when it inflates such an object: no error,
    and no Python exception or timeout can reach it in native code. A flipped byte, a missing object and
    a damaged pack are all reported by libgit2 itself. Scoring workers read blobs under an alarm
    (`FILE_TIMEOUT_S`); the other processes (the scorer's parent walking trees, the dropped-file sampler,
    the crawler of local repositories) call this before libgit2 reads a tree, a commit or a blob, so a
    cut-short object fails its repository with this error instead of hanging the batch for good.
    An object that is not loose costs one failed `open`. A cut-short loose copy of an object that a pack
    also holds is reported too (libgit2 would read the pack's): the repository needs `git fsck` all the same.
    `fanout` (`loose_fanout`, read before the objects were): an object outside those folders is not loose.
    """
    name = str(oid)
    if fanout is not None and name[:2] not in fanout:
        return
    try:
        with open(os.path.join(repo.path, "objects", name[:2], name[2:]), "rb") as handle:
            stored = handle.read()
    except OSError:
        return  # not loose (packed, or absent), or unreadable: libgit2 reports those itself
    inflater = zlib.decompressobj()
    try:
        while stored and not inflater.eof:
            inflater.decompress(stored, _INFLATE_STEP)
            stored = inflater.unconsumed_tail
    except zlib.error:
        return  # damaged, not cut short: libgit2 fails on it with its own error
    if not inflater.eof:
        raise TruncatedObject(f"object {name} is cut short (a truncated loose object; run git fsck)")


def read_object(
    repo: pygit2.Repository, oid: str | pygit2.Oid, fanout: frozenset[str] | None = None
) -> pygit2.Object:
    """`repo[oid]`, after `check_loose_object`."""
    check_loose_object(repo, oid, fanout)
    return repo[oid]


def head_commit(repo: pygit2.Repository) -> pygit2.Commit:
    """The commit HEAD names (its loose copy checked first, see `check_loose_object`)."""
    return read_object(repo, repo.head.target).peel(pygit2.Commit)


def commit_tree(repo: pygit2.Repository, commit: pygit2.Commit) -> pygit2.Tree:
    """`commit.tree`, its loose copy checked first (see `check_loose_object`)."""
    return read_object(repo, commit.tree_id).peel(pygit2.Tree)


def entry_name(entry: pygit2.Object) -> str:
    """The entry's file name as valid UTF-8 text: undecodable bytes become backslash escapes."""
    raw = getattr(entry, "raw_name", None)
    if raw is None:  # older pygit2: name is decoded with surrogateescape
        raw = (entry.name or "").encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def walk_tree(repo: pygit2.Repository, tree: pygit2.Tree) -> Iterator[TreeBlob | SkippedEntry]:
    """Every file entry under `tree`, depth first, without reading any blob.

    Iterative (an explicit stack) so deeply nested trees cannot hit the recursion limit.
    Submodules and symlinks are yielded as skipped: a submodule's content lives in another
    repository and a symlink's target is not code of this path.
    """
    stack: list[tuple[str, pygit2.Tree]] = [("", tree)]
    fanout = loose_fanout(repo)
    while stack:
        prefix, current = stack.pop()
        for entry in current:
            path = f"{prefix}{entry_name(entry)}"
            mode = entry.filemode
            if mode == pygit2.enums.FileMode.TREE:
                stack.append((f"{path}/", read_object(repo, entry.id, fanout).peel(pygit2.Tree)))
            elif mode == pygit2.enums.FileMode.COMMIT:
                yield SkippedEntry(path, SUBMODULE)
            elif mode == pygit2.enums.FileMode.LINK:
                yield SkippedEntry(path, SYMLINK)
            else:
                yield TreeBlob(path, str(entry.id), mode)


def walk_head(repo: pygit2.Repository) -> Iterator[TreeBlob | SkippedEntry]:
    return walk_tree(repo, commit_tree(repo, head_commit(repo)))


def blob_size(repo: pygit2.Repository, oid: str) -> int:
    """Size from the object header; for packed objects libgit2 reads only the (delta) header."""
    _, size = repo.odb.read_header(pygit2.Oid(hex=oid))
    return size


def read_blob(
    repo: pygit2.Repository, blob: TreeBlob, max_bytes: int | None, size: int | None = None
) -> bytes | SkippedEntry:
    """The blob's bytes, or why it was skipped (too large from its header, or an LFS pointer).
    `size` is the header's size when the caller has read it already: the header is then not read twice."""
    if size is None and max_bytes is not None:
        size = blob_size(repo, blob.oid)
    if max_bytes is not None and size is not None and size > max_bytes:
        return SkippedEntry(blob.path, TOO_LARGE)
    data = repo.odb.read(pygit2.Oid(hex=blob.oid))[1]
    if len(data) <= _LFS_POINTER_MAX_BYTES and data.startswith(_LFS_PREFIX):
        return SkippedEntry(blob.path, LFS_POINTER)
    return data


def iter_head_files(repo_path: str, max_bytes: int | None) -> Iterator[tuple[str, bytes] | SkippedEntry]:
    """Lazily `(path, bytes)` for each file of HEAD, or a `SkippedEntry` with its reason."""
    repo = open_repository(repo_path)
    for entry in walk_head(repo):
        if isinstance(entry, SkippedEntry):
            yield entry
            continue
        data = read_blob(repo, entry, max_bytes)
        yield data if isinstance(data, SkippedEntry) else (entry.path, data)


# A licence file or package manifest larger than this is not one the licence detector needs whole.
ROOT_TEXT_MAX_BYTES = 256 * 1024


def read_root_texts(
    repo: pygit2.Repository,
    tree: pygit2.Tree,
    wanted: Callable[[str], bool],
    max_bytes: int = ROOT_TEXT_MAX_BYTES,
) -> dict[str, str]:
    """``{name: text}`` of the regular files directly in ``tree`` whose names ``wanted`` accepts.

    Only the root level is listed (no walk of the whole tree), links and submodules are left out, a
    blob over ``max_bytes`` is skipped from its header, and bytes that are not UTF-8 are replaced.
    """
    texts: dict[str, str] = {}
    for entry in tree:
        name = entry_name(entry)
        if entry.filemode not in (pygit2.enums.FileMode.BLOB, pygit2.enums.FileMode.BLOB_EXECUTABLE):
            continue
        if not wanted(name):
            continue
        check_loose_object(repo, entry.id)  # read in this process, with no alarm to end a hang
        data = read_blob(repo, TreeBlob(name, str(entry.id), entry.filemode), max_bytes)
        if isinstance(data, bytes):
            texts[name] = data.decode("utf-8", "replace")
    return texts
