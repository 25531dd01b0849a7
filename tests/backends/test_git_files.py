from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from codelupe_dagster.backends import git_files
from tests.support.corpus import Submodule, Symlink, cut_loose_object, make_repo, stdlib_files

LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
)


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    files: dict = stdlib_files("json", prefix="src/json/")
    files.update(
        {
            "link.py": Symlink("src/json/decoder.py"),
            "vendor/lib": Submodule(),
            "assets/model.bin": LFS_POINTER,
            "deep/a/b/c/d/e/f/g/h/leaf.py": b"print('leaf')\n",
            "huge.py": b"x = 1\n" * 9_000_000,  # ~54 MB, compresses to almost nothing
        }
    )
    make_repo(tmp_path / "repo.git", files)
    return tmp_path / "repo.git"


def test_head_files_with_skip_reasons(repo_path: Path) -> None:
    items = list(git_files.iter_head_files(str(repo_path), max_bytes=1_000_000))
    skipped = {i.path: i.reason for i in items if isinstance(i, git_files.SkippedEntry)}
    read = {i[0]: i[1] for i in items if not isinstance(i, git_files.SkippedEntry)}

    assert skipped == {
        "link.py": git_files.SYMLINK,
        "vendor/lib": git_files.SUBMODULE,
        "assets/model.bin": git_files.LFS_POINTER,
        "huge.py": git_files.TOO_LARGE,
    }
    expected = stdlib_files("json", prefix="src/json/")
    assert {p: read[p] for p in expected} == expected
    assert read["deep/a/b/c/d/e/f/g/h/leaf.py"] == b"print('leaf')\n"


def test_size_comes_from_header_without_reading(repo_path: Path) -> None:
    repo = git_files.open_repository(str(repo_path))
    huge = next(e for e in git_files.walk_head(repo) if e.path == "huge.py")
    assert git_files.blob_size(repo, huge.oid) == len(b"x = 1\n") * 9_000_000
    assert git_files.read_blob(repo, huge, max_bytes=1000) == git_files.SkippedEntry("huge.py", "too_large")


def test_non_bare_repository_reads_committed_tree_not_worktree(tmp_path: Path) -> None:
    path = tmp_path / "work"
    make_repo(path, {"a.py": b"a = 1\n"}, bare=False)
    (path / "uncommitted.py").write_text("not in HEAD\n")
    assert [i[0] for i in git_files.iter_head_files(str(path), None)] == ["a.py"]


def test_broken_repository_names_its_path(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(pygit2.GitError, match="nothing"):
        git_files.open_repository(str(tmp_path / "nothing"))


def _loose_object(repo_path: Path, oid: str) -> Path:
    return repo_path / "objects" / oid[:2] / oid[2:]


def test_an_object_read_is_not_hashed_again(tmp_path: Path) -> None:
    """Reads trust the object's name (the clone's fetch hashed every object once): a loose object whose
    bytes belong to another blob is read as stored. libgit2's default would refuse it as a hash mismatch;
    this test fails if the reader goes back to re-hashing every read (issue 12: half of a blob read's CPU)."""
    make_repo(tmp_path / "r.git", {"a.py": b"a = 1\n", "b.py": b"b = 2\n"})
    repo = git_files.open_repository(str(tmp_path / "r.git"))
    blobs = {e.path: e for e in git_files.walk_head(repo) if isinstance(e, git_files.TreeBlob)}
    a, b = (_loose_object(tmp_path / "r.git", blobs[name].oid) for name in ("a.py", "b.py"))
    a.chmod(0o644)
    a.write_bytes(b.read_bytes())
    reopened = git_files.open_repository(str(tmp_path / "r.git"))
    assert git_files.read_blob(reopened, blobs["a.py"], max_bytes=None) == b"b = 2\n"


def test_damaged_object_fails_its_read(tmp_path: Path) -> None:
    """Without the re-hash, zlib still checks every object's bytes: damage on disk is an error (the scorer
    counts the file as failed), never content read wrong."""
    make_repo(tmp_path / "r.git", {"a.py": b"def f():\n    return 'x' * 40\n" * 50})
    repo = git_files.open_repository(str(tmp_path / "r.git"))
    blob = next(e for e in git_files.walk_head(repo) if isinstance(e, git_files.TreeBlob))
    loose = _loose_object(tmp_path / "r.git", blob.oid)
    stored = loose.read_bytes()
    loose.chmod(0o644)
    # zlib's trailer is the Adler-32 of the inflated bytes: flipping it leaves a stream that inflates
    # completely, to the right bytes, and is refused only by its checksum.
    loose.write_bytes(stored[:-1] + bytes([stored[-1] ^ 0xFF]))
    reopened = git_files.open_repository(str(tmp_path / "r.git"))
    with pytest.raises(pygit2.GitError, match="incorrect data check"):
        git_files.read_blob(reopened, blob, max_bytes=None)


# A child process reads the repository, so that on a reader that hangs (libgit2 spinning on a cut-short
# object, where no Python timeout reaches) only this test fails, after CHILD_TIMEOUT_S, not the whole run.
CHILD_TIMEOUT_S = 60
_READ_IN_CHILD = """
import sys
from codelupe_dagster.backends import git_files
repo = git_files.open_repository(sys.argv[1])
try:
    if sys.argv[2] == "walk":
        list(git_files.walk_head(repo))
    else:
        git_files.read_root_texts(repo, git_files.commit_tree(repo, git_files.head_commit(repo)), str.isupper)
except git_files.TruncatedObject as exc:
    print("TruncatedObject:", exc)
"""


def _read_in_child(repo: Path, how: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _READ_IN_CHILD, str(repo), how],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("cut", ["subtree", "root tree", "commit", "root text"])
def test_a_cut_short_loose_object_is_an_error_not_a_hang(tmp_path: Path, cut: str) -> None:
    """libgit2 spins for ever inflating a truncated loose object; the readers that run outside the scoring
    workers' alarm (the scorer's walk, root texts, the local crawler) check a loose object first."""
    head = make_repo(tmp_path / "r.git", {**stdlib_files("json", prefix="pkg/"), "LICENSE": b"MIT\n" * 50})
    repo = pygit2.Repository(str(tmp_path / "r.git"))
    commit = repo[head].peel(pygit2.Commit)
    oid = {
        "subtree": commit.tree["pkg"].id,
        "root tree": commit.tree_id,
        "commit": commit.id,
        "root text": commit.tree["LICENSE"].id,
    }[cut]
    cut_loose_object(tmp_path / "r.git", str(oid))

    out = _read_in_child(tmp_path / "r.git", "texts" if cut == "root text" else "walk")
    assert out.startswith("TruncatedObject:") and f"object {oid} is cut short" in out


def test_healthy_and_packed_objects_pass_the_check(tmp_path: Path) -> None:
    head = make_repo(tmp_path / "r.git", stdlib_files("json", prefix="pkg/"))
    repo = git_files.open_repository(str(tmp_path / "r.git"))
    loose = [e.oid for e in git_files.walk_head(repo) if isinstance(e, git_files.TreeBlob)]
    for oid in [head, *loose]:
        git_files.check_loose_object(repo, oid)  # complete loose objects: no error
    subprocess.run(["git", "-C", str(tmp_path / "r.git"), "repack", "-adq"], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "r.git"), "prune-packed"], check=True)
    packed = git_files.open_repository(str(tmp_path / "r.git"))
    assert not any((tmp_path / "r.git" / "objects" / oid[:2] / oid[2:]).exists() for oid in loose)
    assert git_files.loose_fanout(packed) == frozenset()  # a walk of a packed clone checks nothing
    for oid in [head, *loose]:
        git_files.check_loose_object(packed, oid)
    assert len(list(git_files.walk_head(packed))) == len(loose)
