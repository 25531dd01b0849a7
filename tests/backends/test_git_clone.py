from __future__ import annotations

import shutil
from pathlib import Path

import pygit2
import pytest

from codelupe_dagster.backends.git_clone import (
    ClonePolicy,
    CloneRefused,
    _classify,
    clone_or_fetch,
    repo_path,
)
from codelupe_dagster.backends.sources.local import repo_record_from_path
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.resources import git_from_env
from codelupe_dagster.resources.git import GitResource
from tests.support.ingest_fixtures import commit_change, git, make_work_repo

LOOPBACK = frozenset({"127.0.0.1"})
HTTP = frozenset({"http"})  # the test git server is plain http: allowed explicitly, never by default


def policy(tmp_path: Path, **overrides) -> ClonePolicy:
    return ClonePolicy(
        repos_dir=tmp_path / "repos", **{"allowed_hosts": LOOPBACK, "allowed_schemes": HTTP, **overrides}
    )


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
        ("http://user:token@127.0.0.1/o/r.git", "github", "credentials_in_url"),
        ("http://ghp_abc@127.0.0.1/o/r.git", "github", "credentials_in_url"),
        ("http://127.0.0.1/o/r.git?private_token=glpat-1", "github", "credentials_in_url"),
        ("ftp://127.0.0.1/o/r.git", "github", "scheme_not_allowed"),
        ("/etc", "github", "local_path_not_allowed"),
        ("file:///etc", "github", "local_path_not_allowed"),
        ("", "github", "no_clone_url"),
        ("/definitely/not/here", "local", "not_found"),
    ],
)
def test_refused_sources(tmp_path, clone_url, source, reason):
    both = policy(tmp_path, allowed_schemes=frozenset({"http", "https"}))
    outcome = clone_or_fetch(RepoRecord("o/r", clone_url=clone_url, source=source), both)
    assert (outcome.status, outcome.reason) == ("failed", reason)
    assert not (tmp_path / "repos" / "o" / "r").exists()


def test_loopback_needs_explicit_allow_list(served_repos, tmp_path):
    url, _ = served_repos.add("octo/html", "html")
    default = ClonePolicy(repos_dir=tmp_path / "repos", allowed_schemes=HTTP)  # github.com only
    assert clone_or_fetch(RepoRecord("octo/html", clone_url=url), default).reason == "host_not_allowed"


def test_plain_http_needs_explicit_allow_list(served_repos, tmp_path):
    url, _ = served_repos.add("octo/html", "html")
    https_only = ClonePolicy(repos_dir=tmp_path / "repos", allowed_hosts=LOOPBACK)
    assert https_only.allowed_schemes == frozenset({"https"})
    outcome = clone_or_fetch(RepoRecord("octo/html", clone_url=url), https_only)
    assert (outcome.status, outcome.reason) == ("failed", "scheme_not_allowed")
    assert served_repos.server.requests["git-upload-pack"] == 0


def test_git_resource_is_filled_from_the_environment_once(monkeypatch, tmp_path):
    """The environment reaches the resource's fields through `git_from_env` only: a resource built by
    hand keeps its defaults whatever the variables say."""
    for name in ("CLONE_ALLOWED_SCHEMES", "CLONE_ALLOWED_HOSTS", "REPOS_DIR", "REPO_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    plain = git_from_env(str(tmp_path), ["github.com"])
    assert plain.policy().allowed_schemes == frozenset({"https"})
    assert plain.policy().repos_dir == tmp_path / "repos"  # under the shared DATA_DIR
    assert plain.worker_count() == 4

    monkeypatch.setenv("CLONE_ALLOWED_SCHEMES", "https, HTTP")
    monkeypatch.setenv("CLONE_ALLOWED_HOSTS", "git.example.org,github.com")
    monkeypatch.setenv("REPOS_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("REPO_WORKERS", "9")
    configured = git_from_env(str(tmp_path), ["github.com", "gitlab.com"])
    assert configured.allowed_hosts == ["github.com", "gitlab.com", "git.example.org"]
    policy = configured.policy()
    assert policy.allowed_schemes == frozenset({"https", "http"})
    assert policy.repos_dir == tmp_path / "elsewhere" and configured.worker_count() == 9

    by_hand = GitResource(repos_dir=str(tmp_path))
    assert by_hand.policy().allowed_schemes == frozenset({"https"}) and by_hand.worker_count() == 4
    assert by_hand.policy().allowed_hosts == frozenset({"github.com", "gitlab.com"})

    monkeypatch.setenv("REPO_WORKERS", "many")
    with pytest.raises(ValueError, match="REPO_WORKERS must be an integer"):
        git_from_env(str(tmp_path), [])


def test_failure_details_never_show_credentials(tmp_path):
    """A refused URL is named masked, and so is any URL libgit2 quotes in its own error messages."""
    record = RepoRecord("o/r", clone_url="http://127.0.0.1:9/o/r.git?ref=main&access_token=tok-123")
    outcome = clone_or_fetch(record, policy(tmp_path))
    assert (outcome.status, outcome.reason) == ("failed", "credentials_in_url")
    assert "tok-123" not in outcome.detail and "access_token=***" in outcome.detail
    libgit2 = _classify(pygit2.GitError("failed to send request: 'https://bob:hunter2@h.example/o/r.git'"))
    assert (libgit2.reason, libgit2.detail) == (
        "git_error",
        "failed to send request: 'https://bob:***@h.example/o/r.git'",
    )


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "o/..",
        "o/../r",
        "a//b",
        "/abs/r",
        "o",
        "o/",
        "o/r\n",
        "o/a b",
        "..",
        "a/b+c",
        "/".join("g" * 22),
    ],
)
def test_unsafe_names_are_refused(tmp_path, name):
    with pytest.raises(CloneRefused) as info:
        repo_path(tmp_path, name)
    assert info.value.reason == "invalid_name"
    outcome = clone_or_fetch(RepoRecord(name, clone_url="https://github.com/o/r.git"), policy(tmp_path))
    assert outcome.reason == "invalid_name"


def test_nested_group_names_get_their_own_directories(served_repos, tmp_path):
    """GitLab's `group/sub/project` and a two-segment `group/sub` are different repositories: neither
    clone may land in, or inside, the other's directory."""
    assert repo_path(tmp_path, "grp/sub/proj") == tmp_path.resolve() / "grp" / "sub+proj"
    assert repo_path(tmp_path, "grp/sub") == tmp_path.resolve() / "grp" / "sub"
    outer_url, outer_head = served_repos.add("grp/sub", "json")
    nested_url, nested_head = served_repos.add("grp/sub/proj", "html")
    nested = clone_or_fetch(RepoRecord("grp/sub/proj", clone_url=nested_url), policy(tmp_path))
    outer = clone_or_fetch(RepoRecord("grp/sub", clone_url=outer_url), policy(tmp_path))
    assert (nested.status, outer.status) == ("cloned", "cloned"), (nested.detail, outer.detail)
    assert nested.path == str(tmp_path / "repos" / "grp" / "sub+proj")
    assert not Path(nested.path).is_relative_to(outer.path)
    assert str(pygit2.Repository(nested.path).head.target) == nested_head
    assert str(pygit2.Repository(outer.path).head.target) == outer_head


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


def _detach(work: Path) -> str:
    git(work, "checkout", "-q", "--detach", "HEAD")
    return git(work, "rev-parse", "HEAD")


def test_detached_local_source_is_cloned_and_then_fetched(tmp_path):
    work = tmp_path / "src" / "html"
    make_work_repo(work, "html")
    head = _detach(work)
    record = repo_record_from_path(work, "local/html")
    assert (record.head, record.default_branch) == (head, None)

    first = clone_or_fetch(record, policy(tmp_path))
    assert (first.status, first.head) == ("cloned", head), first.detail
    assert clone_or_fetch(record, policy(tmp_path)).status == "unchanged"

    git(work, "checkout", "-q", "main")
    commit_change(work)
    newer = _detach(work)  # the source moves on, still detached: the queued record is now older
    updated = clone_or_fetch(record, policy(tmp_path))
    assert (updated.status, updated.head, updated.reason) == ("updated", newer, None), updated.detail
    repo = pygit2.Repository(updated.path)
    assert repo.head_is_detached and str(repo.head.target) == newer

    again = clone_or_fetch(repo_record_from_path(work, "local/html"), policy(tmp_path))
    assert (again.status, again.head) == ("unchanged", newer)


def test_rewritten_source_fails_with_head_mismatch(tmp_path):
    work = tmp_path / "src" / "json"
    make_work_repo(work, "json")
    commit_change(work)
    record = repo_record_from_path(work, "local/json")
    assert clone_or_fetch(record, policy(tmp_path)).status == "cloned"

    git(work, "reset", "-q", "--hard", "HEAD~1")  # the crawled commit is no longer the source's history
    outcome = clone_or_fetch(record, policy(tmp_path))
    assert (outcome.status, outcome.reason) == ("failed", "head_mismatch"), outcome.detail
    assert record.head in outcome.detail


def test_a_failing_fetch_is_a_failed_outcome(served_repos, tmp_path):
    url, _ = served_repos.add("octo/dbm", "dbm")
    record = RepoRecord("octo/dbm", clone_url=url)
    assert clone_or_fetch(record, policy(tmp_path)).status == "cloned"
    shutil.rmtree(served_repos.root / "octo" / "dbm.git")  # the upstream is gone after the clone
    outcome = clone_or_fetch(record, policy(tmp_path))
    assert (outcome.status, outcome.head) == ("failed", None)
    assert outcome.reason == "not_found", outcome.detail
