"""Real git repositories for the files tests, written with pygit2 straight into the object database.

Writing blobs and trees directly lets a fixture hold what a checkout cannot express portably: symlinks,
submodule (gitlink) entries, LFS pointers and a 50 MB blob, next to real code copied from this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pygit2

from codelupe_dagster.stages import handoff

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
GO_SRC = Path("/usr/local/go/src")


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Submodule:
    commit: str = "1" * 40


Entry = bytes | Symlink | Submodule


def _tree(repo: pygit2.Repository, files: dict[str, Entry]) -> pygit2.Oid:
    children: dict[str, dict[str, Entry]] = {}
    builder = repo.TreeBuilder()
    for path, entry in files.items():
        head, _, rest = path.partition("/")
        if rest:
            children.setdefault(head, {})[rest] = entry
        elif isinstance(entry, Symlink):
            builder.insert(head, repo.create_blob(entry.target.encode()), pygit2.enums.FileMode.LINK)
        elif isinstance(entry, Submodule):
            builder.insert(head, pygit2.Oid(hex=entry.commit), pygit2.enums.FileMode.COMMIT)
        else:
            builder.insert(head, repo.create_blob(entry), pygit2.enums.FileMode.BLOB)
    for name, sub in children.items():
        builder.insert(name, _tree(repo, sub), pygit2.enums.FileMode.TREE)
    return builder.write()


def make_repo(path: Path, files: dict[str, Entry], bare: bool = True, message: str = "import") -> str:
    """A repository whose HEAD commit holds exactly `files`; returns the commit sha."""
    repo = pygit2.init_repository(str(path), bare=bare, initial_head="main")
    signature = pygit2.Signature("Fixture", "fixture@example.invalid", 1_700_000_000, 0)
    parents = [] if repo.head_is_unborn else [repo.head.target]
    commit = repo.create_commit("HEAD", signature, signature, message, _tree(repo, files), parents)
    return str(commit)


def stdlib_files(package: str, prefix: str = "") -> dict[str, bytes]:
    """The .py files of one stdlib package, as real code for fixtures."""
    root = STDLIB / package
    return {
        f"{prefix}{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts and "test" not in p.parts
    }


def write_cloned_manifest(
    data_dir: Path, batch_id: str, repos: list[tuple[str, Path, str]], stars: int = 10
) -> Path:
    """DATA_DIR/batches/<id>/cloned.json as cloned_repos would write it for these local repositories."""
    cloned = [
        handoff.ClonedRepo(
            name,
            str(path),
            head,
            {
                "full_name": name,
                "clone_url": str(path),
                "stars": stars,
                "license": "mit",
                "source": "local",
                "head": head,
            },
        )
        for name, path, head in repos
    ]
    return handoff.write_cloned_manifest(data_dir, batch_id, cloned)


def near_copy(text: str, every: int = 25) -> str:
    """The same file with one line in `every` changed (>= 90% of lines shared), as a fork would edit it."""
    lines = text.splitlines()
    for i in range(0, len(lines), every):
        if lines[i].strip():
            lines[i] = lines[i] + "  # tweaked"
    return "\n".join(lines) + "\n"


def cut_loose_object(repo: Path, oid: str) -> None:
    """Cut the loose object `oid` of the repository at `repo` to half its bytes, as a crash or a full disk
    mid-write leaves it (libgit2 spins for ever inflating such an object)."""
    loose = repo / "objects" / oid[:2] / oid[2:]
    stored = loose.read_bytes()
    loose.chmod(0o644)
    loose.write_bytes(stored[: len(stored) // 2])
