"""cloned_repos' records carry a licence: the forge's id, else the clone's licence files at its head."""

from __future__ import annotations

from pathlib import Path

import pygit2

from codelupe_dagster.assets.clone import clone_batch, handoff_entries
from codelupe_dagster.backends.git import ClonePolicy
from codelupe_dagster.backends.pygit2_repos import Pygit2Repos
from codelupe_dagster.core.license_detection import wanted_file
from codelupe_dagster.core.models import RepoRecord
from tests.support.corpus import Symlink, make_repo

MIT = (Path(__file__).parents[1] / "core" / "data" / "licenses" / "MIT.txt").read_bytes()
CODE = b"def add(a, b):\n    return a + b\n"


def _records(tmp_path: Path) -> list[RepoRecord]:
    make_repo(tmp_path / "src" / "mit", {"LICENSE": MIT, "lib/add.py": CODE})
    make_repo(tmp_path / "src" / "none", {"lib/add.py": CODE, "docs/LICENSE": MIT})
    make_repo(tmp_path / "src" / "forge", {"LICENSE": MIT, "add.py": CODE})
    make_repo(tmp_path / "src" / "cargo", {"Cargo.toml": b'[package]\nlicense = "MIT OR Apache-2.0"\n'})
    return [
        RepoRecord("local/mit", clone_url=str(tmp_path / "src" / "mit"), source="local"),
        RepoRecord("local/none", clone_url=str(tmp_path / "src" / "none"), source="local"),
        # A record that came with a licence id, as a forge's does (a local path, so it clones here).
        RepoRecord("octo/forge", str(tmp_path / "src" / "forge"), license="Apache-2.0", source="local"),
        RepoRecord("local/cargo", clone_url=str(tmp_path / "src" / "cargo"), source="local"),
    ]


def test_records_get_the_forge_id_or_the_detected_licence(tmp_path: Path) -> None:
    repos = Pygit2Repos(ClonePolicy(tmp_path / "clones"))
    results = clone_batch(_records(tmp_path), repos, workers=2)
    assert all(outcome.ok for _, outcome in results), [o.detail for _, o in results]
    cloned, failed = handoff_entries(results, repos)
    assert not failed
    got = {c.repo: (c.record["license"], c.record["license_source"]) for c in cloned}
    assert got == {
        "local/mit": ("MIT", "license-file"),
        "local/none": (None, None),  # a licence file below the root is not the repository's
        "octo/forge": ("Apache-2.0", "api"),
        "local/cargo": ("MIT OR Apache-2.0", "license-file"),
    }


def test_licence_is_read_at_the_commit_the_clone_reads(tmp_path: Path) -> None:
    source = tmp_path / "src" / "changed"
    first = make_repo(source, {"LICENSE": MIT, "add.py": CODE})
    make_repo(source, {"add.py": CODE}, message="drop the licence")
    reader = Pygit2Repos(ClonePolicy(tmp_path / "clones")).open(str(source))
    assert set(reader.root_texts(first, wanted_file)) == {"LICENSE"}
    assert reader.root_texts(None, wanted_file) == {}


def test_root_texts_skip_links_and_other_files(tmp_path: Path) -> None:
    source = tmp_path / "src" / "links"
    make_repo(source, {"LICENSE": Symlink("/etc/passwd"), "COPYING": b"caf\xe9 licence\n", "main.py": CODE})
    reader = Pygit2Repos(ClonePolicy(tmp_path / "clones")).open(str(source))
    assert reader.root_texts(None, wanted_file) == {"COPYING": "caf\ufffd licence\n"}
    assert pygit2.Repository(str(source)).head_is_unborn is False
