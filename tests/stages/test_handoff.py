"""The batch hand-off files: `cloned.json` round-trips, is replaced atomically, and says clearly when
cloning has not completed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codelupe_dagster.stages.handoff import (
    ClonedBatch,
    ClonedRepo,
    FailedClone,
    cloned_manifest_path,
    load_cloned_batch,
    spool_path,
    write_cloned_manifest,
)


def test_cloned_manifest_round_trips(tmp_path: Path) -> None:
    repos = [
        ClonedRepo("acme/a", "/repos/acme/a", "a" * 40, {"full_name": "acme/a", "stars": 5}, "cloned"),
        ClonedRepo("acme/b", "/repos/acme/b", None, {}, "unchanged"),
    ]
    failed = [FailedClone("acme/gone", "not_found", "404")]
    path = write_cloned_manifest(tmp_path, "b-1", repos, failed)

    assert path == cloned_manifest_path(tmp_path, "b-1") == tmp_path / "batches" / "b-1" / "cloned.json"
    batch = load_cloned_batch(tmp_path, "b-1")
    assert batch == ClonedBatch("b-1", tuple(repos), tuple(failed))
    assert [repo.repo for repo in batch.repos] == ["acme/a", "acme/b"]  # priority order kept
    # The on-disk format other tools read (and older manifests wrote).
    data = json.loads(path.read_text())
    assert data["repos"][0] == {
        "repo": "acme/a",
        "path": "/repos/acme/a",
        "head": "a" * 40,
        "status": "cloned",
        "record": {"full_name": "acme/a", "stars": 5},
    }
    assert data["failed"] == [{"repo": "acme/gone", "reason": "not_found", "detail": "404"}]


def test_a_manifest_without_optional_fields_loads(tmp_path: Path) -> None:
    path = cloned_manifest_path(tmp_path, "b-old")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"batch": "b-old", "repos": [{"repo": "x/y", "path": "/p"}]}))
    assert ClonedBatch.load(path) == ClonedBatch("b-old", (ClonedRepo("x/y", "/p", None, {}, None),), ())


def test_rewriting_replaces_the_manifest_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_cloned_manifest(tmp_path, "b-1", [ClonedRepo(f"acme/r{i}", f"/r{i}", None) for i in range(50)])
    write_cloned_manifest(tmp_path, "b-1", [ClonedRepo("acme/only", "/only", None)])
    assert [r.repo for r in load_cloned_batch(tmp_path, "b-1").repos] == ["acme/only"]
    assert [p.name for p in cloned_manifest_path(tmp_path, "b-1").parent.iterdir()] == ["cloned.json"]


def test_missing_manifest_says_cloning_has_not_completed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cloned_repos has not completed"):
        load_cloned_batch(tmp_path, "b-none")


def test_spool_path_is_per_batch(tmp_path: Path) -> None:
    assert spool_path(tmp_path, "b-1") == tmp_path / "spool" / "b-1"
    assert spool_path(str(tmp_path), "b-1") != spool_path(tmp_path, "b-2")
