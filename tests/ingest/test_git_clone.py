from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from codelupe_dagster.core.git_clone import ClonePolicy, CloneRefused, clone_or_fetch, repo_path
from codelupe_dagster.core.models import RepoRecord
from tests.ingest.conftest import commit_change, git, make_work_repo

LOOPBACK = frozenset({"127.0.0.1"})


def policy(tmp_path: Path, **overrides) -> ClonePolicy:
    return ClonePolicy(repos_dir=tmp_path / "repos", **{"allowed_hosts": LOOPBACK, **overrides})


def test_shallow_clone_over_http_then_fetch_new_commit(served_repos, tmp_path):
    url, head = served_repos.add("octo/json", "json")
    served_repos.commit("octo/json")  # two commits upstream: the clone must still hold only one
    record = RepoRecord("octo/json", clone_url=url)

    first = clone_or_fetch(record, policy(tmp_path))
    assert first.status == "cloned", first.detail
    assert first.path == str(tmp_path / "repos" / "octo" / "json")
    repo = pygit2.Repository(first.path)
    assert repo.is_bare and repo.is_shallow
    assert str(repo.head.target) == first.head != head
    assert len(repo[repo.head.target].parents) == 0 or repo.is_shallow  # history cut at depth 1
    assert "__init__.py" in {entry.name for entry in repo[repo.head.target].tree}
    assert first.bytes > 0
    assert served_repos.server.requests["git-upload-pack"] >= 1

    again = clone_or_fetch(record, policy(tmp_path))
    assert again.status == "unchanged" and again.head == first.head

    new_head = served_repos.commit("octo/json")
    updated = clone_or_fetch(record, policy(tmp_path))
    assert updated.status == "updated"
    assert updated.head == new_head
    assert str(pygit2.Repository(updated.path).head.target) == new_head


@pytest.mark.parametrize(
    ("clone_url", "source", "reason"),
    [
        ("https://evil.example.com/o/r.git", "github", "host_not_allowed"),
        ("ssh://git@github.com/o/r.git", "github", "scheme_not_allowed"),
        ("ext::sh -c touch% /tmp/pwned", "github", "scheme_not_allowed"),
        ("https://user:token@127.0.0.1/o/r.git", "github", "credentials_in_url"),
        ("/etc", "github", "local_path_not_allowed"),
        ("file:///etc", "github", "local_path_not_allowed"),
        ("", "github", "no_clone_url"),
        ("/definitely/not/here", "local", "not_found"),
    ],
)
def test_refused_sources(tmp_path, clone_url, source, reason):
    outcome = clone_or_fetch(RepoRecord("o/r", clone_url=clone_url, source=source), policy(tmp_path))
    assert (outcome.status, outcome.reason) == ("failed", reason)
    assert not (tmp_path / "repos" / "o" / "r").exists()


def test_loopback_needs_explicit_allow_list(served_repos, tmp_path):
    url, _ = served_repos.add("octo/html", "html")
    default = ClonePolicy(repos_dir=tmp_path / "repos")  # github.com only
    assert clone_or_fetch(RepoRecord("octo/html", clone_url=url), default).reason == "host_not_allowed"


@pytest.mark.parametrize("name", ["../x", "o/..", "o/r/extra", "/abs/r", "o", "o/", "o/r\n", "o/a b", ".."])
def test_unsafe_names_are_refused(tmp_path, name):
    with pytest.raises(CloneRefused) as info:
        repo_path(tmp_path, name)
    assert info.value.reason == "invalid_name"
    outcome = clone_or_fetch(RepoRecord(name, clone_url="https://github.com/o/r.git"), policy(tmp_path))
    assert outcome.reason == "invalid_name"


def test_size_limits_before_and_after(served_repos, tmp_path):
    url, _ = served_repos.add("octo/http", "http")
    reported = clone_or_fetch(
        RepoRecord("octo/http", clone_url=url, size_kb=10_000), policy(tmp_path, max_repo_mb=1)
    )
    assert reported.reason == "too_large"
    assert served_repos.server.requests["git-upload-pack"] == 0  # refused before any network traffic
    measured = clone_or_fetch(RepoRecord("octo/http", clone_url=url), policy(tmp_path, max_repo_mb=0.05))
    assert measured.reason == "too_large"
    assert not (tmp_path / "repos" / "octo" / "http").exists()


def test_missing_remote_repo_fails_with_reason(served_repos, tmp_path):
    record = RepoRecord("octo/gone", clone_url=served_repos.server.repo_url("octo/gone.git"))
    outcome = clone_or_fetch(record, policy(tmp_path))
    assert outcome.status == "failed" and outcome.reason == "not_found", outcome.detail
    assert not (tmp_path / "repos" / "octo").exists() or not any((tmp_path / "repos" / "octo").iterdir())


def test_lfs_pointers_stay_pointers_and_submodules_are_not_fetched(tmp_path, served_repos):
    work = tmp_path / "lfs-work"
    make_work_repo(work, "dbm")
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 123456\n"
    (work / "model.bin").write_text(pointer)
    (work / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (work / ".gitmodules").write_text(
        '[submodule "dep"]\n\tpath = dep\n\turl = https://github.com/o/dep.git\n'
    )
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "lfs and submodule")
    bare = served_repos.root / "octo" / "lfs.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))

    outcome = clone_or_fetch(
        RepoRecord("octo/lfs", clone_url=served_repos.server.repo_url("octo/lfs.git")), policy(tmp_path)
    )
    assert outcome.status == "cloned", outcome.detail
    repo = pygit2.Repository(outcome.path)
    tree = repo[repo.head.target].tree
    assert tree["model.bin"].data.decode() == pointer  # no smudge: the pointer, not a download
    assert not (Path(outcome.path) / "modules").exists()  # no submodule was initialised


def test_local_source_clones_local_paths(tmp_path):
    work = tmp_path / "src" / "wsgiref"
    head = make_work_repo(work, "wsgiref")
    record = RepoRecord("local/wsgiref", clone_url=str(work), source="local", head=head)
    first = clone_or_fetch(record, ClonePolicy(repos_dir=tmp_path / "repos"))
    assert (first.status, first.head) == ("cloned", head), first.detail
    assert clone_or_fetch(record, ClonePolicy(repos_dir=tmp_path / "repos")).status == "unchanged"
    new_head = commit_change(work)
    updated = clone_or_fetch(record, ClonePolicy(repos_dir=tmp_path / "repos"))
    assert (updated.status, updated.head) == ("updated", new_head)


def test_corrupt_leftover_directory_is_recloned(served_repos, tmp_path):
    url, _ = served_repos.add("octo/xmlrpc", "xmlrpc")
    leftover = tmp_path / "repos" / "octo" / "xmlrpc"
    leftover.mkdir(parents=True)
    (leftover / "junk").write_text("half a clone")
    outcome = clone_or_fetch(RepoRecord("octo/xmlrpc", clone_url=url), policy(tmp_path))
    assert outcome.status == "cloned", outcome.detail
    assert not (leftover / "junk").exists()
