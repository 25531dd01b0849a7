"""Fixtures for the ingest tests: real git repositories built from real code on this machine, served over
git's smart HTTP protocol on loopback."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.git_http import GitHttpServer, start_git_http_server

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
# Small real packages (a few dozen KB each), so fixtures stay fast.
STDLIB_PACKAGES = ("json", "wsgiref", "urllib", "html", "http", "xmlrpc", "dbm", "concurrent")

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Fixture",
    "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
    "GIT_COMMITTER_NAME": "Fixture",
    "GIT_COMMITTER_EMAIL": "fixture@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=_GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_work_repo(path: Path, package: str) -> str:
    """A non-bare repository holding a copy of one stdlib package, committed; returns HEAD."""
    shutil.copytree(STDLIB / package, path, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"import {package}")
    return git(path, "rev-parse", "HEAD")


def commit_change(work: Path, filename: str = "CHANGELOG.txt", text: str = "a change\n") -> str:
    with (work / filename).open("a") as handle:
        handle.write(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"edit {filename}")
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    """A directory of a few non-bare git repositories: the shape of a local source."""
    root = tmp_path / "source"
    root.mkdir()
    for package in STDLIB_PACKAGES[:3]:
        make_work_repo(root / package, package)
    return root


class ServedRepos:
    """Bare repos under ``root/<owner>/<name>.git`` served over HTTP; ``commit`` publishes a new commit."""

    def __init__(self, root: Path, server: GitHttpServer) -> None:
        self.root = root
        self.server = server

    def add(self, full_name: str, package: str) -> tuple[str, str]:
        """Publish a stdlib package as ``full_name``; returns (clone URL, HEAD)."""
        work = self.root.parent / "work" / full_name
        work.parent.mkdir(parents=True, exist_ok=True)
        head = make_work_repo(work, package)
        bare = self.root / f"{full_name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        git(self.root, "clone", "-q", "--bare", str(work), str(bare))
        return self.server.repo_url(f"{full_name}.git"), head

    def commit(self, full_name: str) -> str:
        """A new commit on the published repo's main branch; returns the new HEAD."""
        work = self.root.parent / "work" / full_name
        head = commit_change(work)
        git(work, "push", "-q", str(self.root / f"{full_name}.git"), "main")
        return head


@pytest.fixture
def served_repos(tmp_path: Path) -> Iterator[ServedRepos]:
    root = tmp_path / "served"
    root.mkdir()
    server = start_git_http_server(root)
    yield ServedRepos(root, server)
    server.stop()


@pytest.fixture
def make_served() -> Callable[[Path], GitHttpServer]:
    servers: list[GitHttpServer] = []

    def start(root: Path) -> GitHttpServer:
        server = start_git_http_server(root)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
