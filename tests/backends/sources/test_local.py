"""Local sources read from real git repositories built from CPython's own files."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pygit2
import pytest

from codelupe_dagster.backends.sources.local import load_local_source, name_from_url, read_source_list
from tests.support.corpus import cut_loose_object
from tests.support.stuck import exit_if_stuck

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
SIGNATURE_TIME = 1_780_000_000  # a fixed commit time, so pushed_at is known exactly


def make_repo(path: Path, sources: list[str], *, commits: int = 1, branch: str = "main") -> str:
    """A work tree holding copies of stdlib files, committed `commits` times; returns HEAD."""
    path.mkdir(parents=True)
    repo = pygit2.init_repository(str(path), initial_head=branch)
    for number in range(commits):
        for source in sources:
            shutil.copy(STDLIB / source, path / Path(source).name)
        (path / "NOTES.txt").write_text(f"revision {number}\n")
        repo.index.add_all()
        repo.index.write()
        tree = repo.index.write_tree()
        author = pygit2.Signature("Fixture", "fixture@example.invalid", SIGNATURE_TIME + number, 0)
        parents = [] if repo.head_is_unborn else [repo.head.target]
        repo.create_commit("HEAD", author, author, f"revision {number}", tree, parents)
    return str(repo.head.target)


@pytest.fixture
def source_root(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """alpha, beta (2 commits), org/gamma, a bare delta.git, an empty repo, a plain dir and a stray file."""
    root = tmp_path / "source"
    heads = {
        "local/alpha": make_repo(root / "alpha", ["json/decoder.py", "json/encoder.py"]),
        "local/beta": make_repo(root / "beta", ["textwrap.py", "shlex.py"], commits=2),
        "org/gamma": make_repo(root / "org" / "gamma", ["colorsys.py", "html/parser.py"], branch="trunk"),
    }
    pygit2.clone_repository(str(root / "alpha"), str(root / "delta.git"), bare=True)
    heads["local/delta"] = heads["local/alpha"]
    pygit2.init_repository(str(root / "empty"))
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a repository\n")
    (root / "README.md").write_text("a stray file\n")
    (root / ".cache").mkdir()  # hidden: not a source entry at all
    make_repo(root / "deep" / "a" / "b" / "too-deep", ["abc.py"])
    return root, heads


def test_directory_scan_reads_heads_and_skips_with_reasons(source_root):
    root, heads = source_root
    scan = load_local_source(root, max_depth=3)

    records = {record.full_name: record for record in scan.records}
    assert {name: record.head for name, record in records.items()} == heads
    alpha = records["local/alpha"]
    assert alpha.clone_url == str((root / "alpha").resolve())
    assert alpha.source == "local" and alpha.stars == 0 and alpha.language == "python"
    assert alpha.pushed_at == datetime.fromtimestamp(SIGNATURE_TIME, UTC).isoformat()
    assert records["local/beta"].pushed_at == datetime.fromtimestamp(SIGNATURE_TIME + 1, UTC).isoformat()
    assert records["org/gamma"].default_branch == "trunk"
    assert records["local/delta"].clone_url.endswith("delta.git") and alpha.size_kb >= 1
    assert scan.skipped_by_reason == {"empty_repository": 1, "not_a_git_repository": 2, "not_a_directory": 1}
    assert {Path(entry.entry).name for entry in scan.skipped if entry.reason == "not_a_git_repository"} == {
        "notes",
        "deep",
    }


def test_deeper_scan_finds_nested_repositories(source_root):
    root, _ = source_root
    names = {record.full_name for record in load_local_source(root, max_depth=4).records}
    assert "deep/a-b-too-deep" in names


def test_a_single_repository_is_a_source_of_one(source_root):
    root, heads = source_root
    scan = load_local_source(root / "beta")
    assert [(r.full_name, r.head) for r in scan.records] == [("local/beta", heads["local/beta"])]


def test_source_list_reads_urls_and_paths(source_root, tmp_path):
    root, heads = source_root
    listing = tmp_path / "lists" / "repos.txt"
    listing.parent.mkdir()
    listing.write_text(
        "\n".join(
            [
                "# repositories for the demo",
                "",
                "https://github.com/psf/requests.git",
                "  git@github.com:pallets/flask.git  ",
                "https://github.com/psf/requests",  # same repository again
                f"{root / 'alpha'}",
                "../source/beta",  # relative to the list file
                f"file://{root / 'org' / 'gamma'}",
                "../source/missing",
                f"{root / 'notes'}",
                "https://example.com/just-a-host",
            ]
        )
    )
    scan = read_source_list(listing)
    records = {record.full_name: record for record in scan.records}
    assert set(records) == {"psf/requests", "pallets/flask", "local/alpha", "local/beta", "local/gamma"}
    assert records["pallets/flask"].clone_url == "git@github.com:pallets/flask.git"
    assert records["psf/requests"].head is None and records["psf/requests"].source == "local"
    assert records["local/beta"].head == heads["local/beta"]
    assert records["local/gamma"].head == heads["org/gamma"]
    assert scan.skipped_by_reason == {
        "duplicate_name": 1,
        "path_not_found": 1,
        "not_a_git_repository": 1,
        "unrecognised_url": 1,
    }
    assert [entry.entry for entry in scan.skipped if entry.reason == "duplicate_name"] == ["repos.txt:5"]


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a directory nor a file"):
        load_local_source(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/psf/requests.git", "psf/requests"),
        ("https://github.com/psf/requests/", "psf/requests"),
        ("ssh://git@github.com/owner/repo.git", "owner/repo"),
        ("git@gitlab.com:group/sub/project.git", "group/sub/project"),  # nested groups keep every segment
        ("https://gitlab.com/" + "/".join(["g"] * 22) + "/p.git", None),  # deeper than any forge allows
        ("http://127.0.0.1:8080/octo/json.git", "octo/json"),
        ("https://example.com/alone", None),
    ],
)
def test_name_from_url(url, name):
    assert name_from_url(url) == name


def _tree_object_file(repo_dir: Path) -> Path:
    repo = pygit2.Repository(str(repo_dir))
    tree_id = str(repo[repo.head.target].tree_id)
    return Path(repo.path) / "objects" / tree_id[:2] / tree_id[2:]


def test_a_corrupt_repository_is_a_counted_skip_not_a_crash(source_root):
    root, heads = source_root
    _tree_object_file(root / "beta").unlink()  # HEAD's root tree is gone: reading the tree raises
    scan = load_local_source(root)
    assert {record.full_name for record in scan.records} == set(heads) - {"local/beta"}
    [broken] = [entry for entry in scan.skipped if entry.reason == "unreadable_repository"]
    assert Path(broken.entry).name == "beta" and "local/beta" in broken.detail


def test_a_cut_short_tree_is_a_counted_skip_not_a_hang(source_root):
    """libgit2 spins for ever on a truncated loose object: the crawler checks a loose tree first."""
    root, heads = source_root
    repo = pygit2.Repository(str(root / "beta"))
    cut_loose_object(Path(repo.path), str(repo[repo.head.target].tree_id))
    with exit_if_stuck(120):
        scan = load_local_source(root)
    assert {record.full_name for record in scan.records} == set(heads) - {"local/beta"}
    [broken] = [entry for entry in scan.skipped if entry.reason == "unreadable_repository"]
    assert Path(broken.entry).name == "beta" and "cut short" in broken.detail


def test_detached_head_is_read(tmp_path):
    path = tmp_path / "source" / "det"
    make_repo(path, ["colorsys.py"], commits=2)
    repo = pygit2.Repository(str(path))
    first = repo[repo.head.target].parents[0].id
    repo.set_head(first)
    [record] = load_local_source(tmp_path / "source").records
    assert (record.head, record.default_branch, record.language) == (str(first), None, "python")


def _outside_repo(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere" / "secret"
    make_repo(outside, ["shlex.py"])
    return outside


def test_git_links_out_of_the_source_are_not_followed(tmp_path):
    outside = _outside_repo(tmp_path)
    root = tmp_path / "source"
    make_repo(root / "inside", ["textwrap.py"])
    (root / "symlinked").mkdir()
    (root / "symlinked" / ".git").symlink_to(outside / ".git")
    (root / "gitfile").mkdir()
    (root / "gitfile" / ".git").write_text(f"gitdir: {outside / '.git'}\n")
    (root / "relative").mkdir()
    (root / "relative" / ".git").write_text("gitdir: ../../elsewhere/secret/.git\n")
    make_repo(root / "borrower", ["colorsys.py"])
    alternates = root / "borrower" / ".git" / "objects" / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    alternates.write_text(f"{outside / '.git' / 'objects'}\n")
    (root / "linked-objects").mkdir()
    make_repo(root / "linked-objects" / "r", ["abc.py"])
    objects = root / "linked-objects" / "r" / ".git" / "objects"
    shutil.rmtree(objects)
    objects.symlink_to(outside / ".git" / "objects")
    (root / "repo-link").symlink_to(outside)  # a repository reached through a symlink: skipped as before

    scan = load_local_source(root)
    assert [record.full_name for record in scan.records] == ["local/inside"]
    escaped = {Path(entry.entry).name for entry in scan.skipped if entry.reason == "git_link_outside_source"}
    assert escaped == {"symlinked", "gitfile", "relative", "borrower", "r"}
    assert scan.skipped_by_reason == {"git_link_outside_source": 5, "symlink": 1}


def test_a_worktree_whose_git_dir_stays_inside_the_source_is_read(tmp_path):
    root = tmp_path / "source"
    head = make_repo(root / "main-repo", ["textwrap.py"])
    git_dir = root / "main-repo" / ".git" / "worktrees" / "wt"
    git_dir.mkdir(parents=True)
    (git_dir / "HEAD").write_text(f"{head}\n")
    (git_dir / "commondir").write_text("../..\n")
    (git_dir / "gitdir").write_text(f"{root / 'wt' / '.git'}\n")
    (root / "wt").mkdir()
    (root / "wt" / ".git").write_text(f"gitdir: {git_dir}\n")
    scan = load_local_source(root)
    assert {(record.full_name, record.head) for record in scan.records} == {
        ("local/main-repo", head),
        ("local/wt", head),
    }, scan.skipped


def test_listed_paths_must_keep_their_git_data_inside_themselves(tmp_path):
    outside = _outside_repo(tmp_path)
    lists = tmp_path / "lists"
    make_repo(lists / "ok", ["textwrap.py"])
    (lists / "linked").mkdir()
    (lists / "linked" / ".git").write_text(f"gitdir: {outside / '.git'}\n")
    listing = lists / "repos.txt"
    listing.write_text("ok\nlinked\n")
    scan = read_source_list(listing)
    assert [record.full_name for record in scan.records] == ["local/ok"]
    assert scan.skipped_by_reason == {"git_link_outside_source": 1}


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("https://bob:hunter2@git.example/o/r.git", "https://bob:***@git.example/o/r.git"),
        ("https://ghp_s3cr3t@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://gitlab.example/o/r.git?private_token=glpat-s3cr3t", "https://gitlab.example/o/r.git?private_token=***"),
        ("https://h.example/o/r.git?access_token=s3cr3t", "https://h.example/o/r.git?access_token=***"),
        ("https://h.example/o/r.git?password=s3cr3t", "https://h.example/o/r.git?password=***"),
        ("https://h.example/o/r.git?token=s3cr3t", "https://h.example/o/r.git?token=***"),
    ],
)  # fmt: skip
def test_credential_urls_in_a_list_are_refused_and_shown_masked(tmp_path, line, masked):
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{line}\nssh://git@github.com/o/kept.git\n")
    scan = read_source_list(listing)
    assert [record.full_name for record in scan.records] == ["o/kept"]
    [skipped] = scan.skipped
    assert (skipped.entry, skipped.reason, skipped.detail) == ("repos.txt:1", "credentials_in_url", masked)
    assert "s3cr3t" not in repr(scan) and "hunter2" not in repr(scan)
