"""The `GitRepos` contract, run on every implementation (today `Pygit2Repos`).

Real repositories only: stdlib packages committed with the git CLI and served over smart HTTP on loopback
(`served_repos`), local working repositories, and object databases written with pygit2 to hold what a
checkout cannot (symlinks, submodules, LFS pointers, a 54 MB blob). The tests speak only through the
interface, so another git joins by adding a factory to `IMPLEMENTATIONS`. The libgit2 specifics (shallow
depth, credential masking in libgit2's messages, detached sources, size limits during the transfer) are
tested in `tests/backends/test_git_clone.py` and `test_git_files.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from codelupe_dagster.backends.git import (
    LFS_POINTER,
    SUBMODULE,
    SYMLINK,
    TOO_LARGE,
    ClonePolicy,
    CommitTree,
    GitRepos,
    MissingObject,
    RepositoryUnreadable,
    SkippedEntry,
    TreeBlob,
)
from codelupe_dagster.backends.pygit2_repos import Pygit2Repos
from codelupe_dagster.core.models import RepoRecord
from tests.support.corpus import Submodule, Symlink, cut_loose_object, make_repo, stdlib_files
from tests.support.ingest_fixtures import STDLIB, commit_change, git, make_work_repo
from tests.support.stuck import exit_if_stuck

IMPLEMENTATIONS: dict[str, Callable[[ClonePolicy], GitRepos]] = {"pygit2": Pygit2Repos}

LFS_POINTER_BYTES = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
)
HUGE = b"x = 1\n" * 9_000_000  # ~54 MB that compresses to almost nothing


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def make_git(request: pytest.FixtureRequest) -> Callable[[ClonePolicy], GitRepos]:
    return IMPLEMENTATIONS[request.param]


@pytest.fixture
def repos(make_git: Callable[[ClonePolicy], GitRepos], tmp_path: Path) -> GitRepos:
    """Clones under tmp/repos from the loopback test server (plain http, allowed explicitly)."""
    policy = ClonePolicy(
        repos_dir=tmp_path / "repos",
        allowed_hosts=frozenset({"127.0.0.1"}),
        allowed_schemes=frozenset({"http"}),
    )
    return make_git(policy)


def blobs(tree: CommitTree) -> dict[str, TreeBlob]:
    return {entry.path: entry for entry in tree.entries if isinstance(entry, TreeBlob)}


def skipped(tree: CommitTree) -> dict[str, str]:
    return {entry.path: entry.reason for entry in tree.entries if isinstance(entry, SkippedEntry)}


# ------------------------------------------------------------------ clone and fetch


def test_clone_then_fetch_a_new_commit(repos: GitRepos, served_repos, tmp_path: Path) -> None:
    url, _ = served_repos.add("octo/json", "json")
    record = RepoRecord("octo/json", clone_url=url)

    first = repos.clone_or_fetch(record)
    assert (first.status, first.reason, first.ok) == ("cloned", None, True), first.detail
    assert first.path == str(repos.policy.repos_dir.resolve() / "octo" / "json")
    assert first.bytes > 0
    reader = repos.open(first.path)
    assert reader.tree().commit == first.head
    files = blobs(reader.tree())
    assert files["__init__.py"].path == "__init__.py"
    assert reader.read_blob(files["decoder.py"], None) == (STDLIB / "json" / "decoder.py").read_bytes()

    again = repos.clone_or_fetch(record)
    assert (again.status, again.head) == ("unchanged", first.head)

    new_head = served_repos.commit("octo/json")
    updated = repos.clone_or_fetch(record)
    assert (updated.status, updated.head, updated.path) == ("updated", new_head, first.path)
    tree = repos.open(updated.path).tree()
    assert tree.commit == new_head != first.head
    changelog = blobs(tree)["CHANGELOG.txt"]
    assert repos.open(updated.path).read_blob(changelog, None) == b"a change\n"


def test_local_source_is_cloned_and_fetched(
    make_git: Callable[[ClonePolicy], GitRepos], tmp_path: Path
) -> None:
    repos = make_git(ClonePolicy(repos_dir=tmp_path / "repos"))  # the default policy: https, github.com
    work = tmp_path / "src" / "html"
    head = make_work_repo(work, "html")
    record = RepoRecord("local/html", clone_url=str(work), source="local", head=head)
    first = repos.clone_or_fetch(record)
    assert (first.status, first.head) == ("cloned", head), first.detail
    new_head = commit_change(work, "NOTES.txt", "fetched\n")
    updated = repos.clone_or_fetch(record)
    assert (updated.status, updated.head) == ("updated", new_head), updated.detail
    reader = repos.open(updated.path or "")
    assert reader.read_blob(blobs(reader.tree())["NOTES.txt"], None) == b"fetched\n"


@pytest.mark.parametrize(
    ("name", "clone_url", "source", "reason"),
    [
        ("o/r", "http://evil.example.com/o/r.git", "github", "host_not_allowed"),
        ("o/r", "ssh://git@127.0.0.1/o/r.git", "github", "scheme_not_allowed"),
        ("o/r", "ext::sh -c touch% /tmp/pwned", "github", "scheme_not_allowed"),
        ("o/r", "http://user:token@127.0.0.1/o/r.git", "github", "credentials_in_url"),
        ("o/r", "/etc", "github", "local_path_not_allowed"),
        ("o/r", "", "github", "no_clone_url"),
        ("o/r", "/definitely/not/here", "local", "not_found"),
        ("../escape", "http://127.0.0.1/o/r.git", "github", "invalid_name"),
        ("o/../r", "http://127.0.0.1/o/r.git", "github", "invalid_name"),
        ("o/a b", "http://127.0.0.1/o/r.git", "github", "invalid_name"),
        ("/abs/r", "http://127.0.0.1/o/r.git", "github", "invalid_name"),
    ],
)
def test_refusals_are_outcomes_with_a_reason(
    repos: GitRepos, tmp_path: Path, name: str, clone_url: str, source: str, reason: str
) -> None:
    outcome = repos.clone_or_fetch(RepoRecord(name, clone_url=clone_url, source=source))
    assert (outcome.status, outcome.reason, outcome.ok, outcome.head) == ("failed", reason, False, None)
    assert outcome.detail
    repos_dir = repos.policy.repos_dir
    assert not repos_dir.exists() or not any(repos_dir.rglob("*"))  # nothing was written anywhere
    assert not (tmp_path / "pwned").exists()


def test_a_missing_remote_is_not_found(repos: GitRepos, served_repos) -> None:
    record = RepoRecord("octo/gone", clone_url=served_repos.server.repo_url("octo/gone.git"))
    outcome = repos.clone_or_fetch(record)
    assert (outcome.status, outcome.reason) == ("failed", "not_found"), outcome.detail


def test_a_reported_size_over_the_limit_is_refused_before_any_transfer(
    make_git: Callable[[ClonePolicy], GitRepos], served_repos, tmp_path: Path
) -> None:
    url, _ = served_repos.add("octo/http", "http")
    small = make_git(
        ClonePolicy(
            repos_dir=tmp_path / "repos",
            allowed_hosts=frozenset({"127.0.0.1"}),
            allowed_schemes=frozenset({"http"}),
            max_repo_mb=1,
        )
    )
    outcome = small.clone_or_fetch(RepoRecord("octo/http", clone_url=url, size_kb=10_000))
    assert (outcome.status, outcome.reason) == ("failed", "too_large")
    assert served_repos.server.requests["git-upload-pack"] == 0


# ------------------------------------------------------------------ reading a clone


@pytest.fixture
def crafted(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A bare repository holding real code plus what must be skipped or limited."""
    code = stdlib_files("json", prefix="src/json/")
    code["deep/a/b/c/d/e/f/g/h/leaf.py"] = b"print('leaf')\n"
    files: dict = {
        **code,
        "link.py": Symlink("src/json/decoder.py"),
        "vendor/lib": Submodule(),
        "assets/model.bin": LFS_POINTER_BYTES,
        "huge.py": HUGE,
    }
    make_repo(tmp_path / "crafted.git", files)
    return tmp_path / "crafted.git", code


def test_head_tree_lists_files_with_sizes_and_skips(repos: GitRepos, crafted) -> None:
    path, code = crafted
    reader = repos.open(str(path))
    assert reader.path == str(path)
    tree = reader.tree()
    assert len(tree.commit) == 40
    assert skipped(tree) == {"link.py": SYMLINK, "vendor/lib": SUBMODULE}
    files = blobs(tree)
    assert set(files) == {*code, "assets/model.bin", "huge.py"}
    assert len(tree.entries) == len(files) + 2  # every entry exactly once
    for name, content in code.items():
        assert reader.blob_size(files[name].oid) == len(content)
        assert reader.read_blob(files[name], max_bytes=1_000_000) == content
    assert reader.blob_size(files["huge.py"].oid) == len(HUGE)


def test_blob_reads_skip_large_blobs_and_lfs_pointers(repos: GitRepos, crafted) -> None:
    path, _ = crafted
    reader = repos.open(str(path))
    files = blobs(reader.tree())
    assert reader.read_blob(files["huge.py"], max_bytes=1000) == SkippedEntry("huge.py", TOO_LARGE)
    assert reader.read_blob(files["assets/model.bin"], None) == SkippedEntry("assets/model.bin", LFS_POINTER)
    assert reader.read_blob(files["huge.py"], max_bytes=None) == HUGE  # no limit: read whole


def test_a_named_commit_is_read_not_head(repos: GitRepos, tmp_path: Path) -> None:
    path = tmp_path / "history.git"
    old = make_repo(path, {"a.py": b"a = 1\n"})
    new = make_repo(path, {"a.py": b"a = 2\n", "b.py": b"b = 1\n"})
    reader = repos.open(str(path))
    assert reader.tree().commit == new
    old_tree = reader.tree(old)
    assert old_tree.commit == old
    assert set(blobs(old_tree)) == {"a.py"}
    assert reader.read_blob(blobs(old_tree)["a.py"], None) == b"a = 1\n"
    assert reader.read_blob(blobs(reader.tree(new))["a.py"], None) == b"a = 2\n"


def test_a_worktree_is_never_read(repos: GitRepos, tmp_path: Path) -> None:
    work = tmp_path / "work"
    make_repo(work, {"a.py": b"a = 1\n"}, bare=False)
    (work / "uncommitted.py").write_text("not in HEAD\n")
    assert set(blobs(repos.open(str(work)).tree())) == {"a.py"}


def test_unreadable_repositories_and_missing_objects(repos: GitRepos, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(RepositoryUnreadable, match="nothing"):
        repos.open(str(tmp_path / "nothing"))
    with pytest.raises(RepositoryUnreadable):
        repos.open(str(tmp_path / "absent"))
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "unborn.git"))
    with pytest.raises(RepositoryUnreadable):  # nothing committed: there is no HEAD tree
        repos.open(str(tmp_path / "unborn.git")).tree()

    make_repo(tmp_path / "r.git", {"a.py": b"a = 1\n"})
    reader = repos.open(str(tmp_path / "r.git"))
    for commit in ("0" * 40, "not-a-sha"):
        with pytest.raises(MissingObject):
            reader.tree(commit)
    ghost = TreeBlob("ghost.py", "f" * 40, 0o100644)
    with pytest.raises(KeyError):  # MissingObject is a KeyError, as callers treat a missing blob
        reader.blob_size(ghost.oid)
    with pytest.raises(MissingObject):
        reader.read_blob(ghost, None)


@pytest.mark.parametrize("cut", ["commit", "tree", "blob"])
def test_a_cut_short_object_makes_the_repository_unreadable(
    repos: GitRepos, tmp_path: Path, cut: str
) -> None:
    """A loose object truncated mid-write (libgit2 would spin on it for ever) is reported, never waited on."""
    head = make_repo(tmp_path / "r.git", {"pkg/a.py": b"a = 1\n" * 40, "LICENSE": b"MIT\n" * 40})
    reader = repos.open(str(tmp_path / "r.git"))
    tree = reader.tree(head)
    oids = {"commit": head, "tree": _tree_id(tmp_path / "r.git", head), "blob": blobs(tree)["pkg/a.py"].oid}
    cut_loose_object(tmp_path / "r.git", oids[cut])
    reader = repos.open(str(tmp_path / "r.git"))
    with exit_if_stuck(120), pytest.raises(RepositoryUnreadable, match=f"object {oids[cut]} is cut short"):
        if cut == "blob":
            reader.read_blob(blobs(tree)["pkg/a.py"], None)
        else:
            reader.tree(head)
    if cut != "blob":
        with exit_if_stuck(120), pytest.raises(RepositoryUnreadable, match="cut short"):
            reader.root_texts(None, lambda name: name == "LICENSE")


def _tree_id(repo: Path, commit: str) -> str:
    return git(repo, "rev-parse", f"{commit}^{{tree}}")
