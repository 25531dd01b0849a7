"""`remove_rows`: a finished spool rewritten without a forgotten repository's rows, crash-safe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codelupe_dagster.backends import spool
from codelupe_dagster.backends.spool import ShardWriter, iter_documents, read_manifest, remove_rows


def doc(i: int, repo: str) -> dict[str, Any]:
    return {
        "id": f"{i:032x}",
        "content": f"def f{i}():\n    return {i}\n",
        "path": f"pkg/m{i}.py",
        "repo": repo,
        "quality_score": 0.5,
        "quality_signals": {"lines": 2},
        "batch": "b1",
    }


@pytest.fixture
def written(tmp_path: Path) -> Path:
    """7 rows in parts of 3: acme/beta holds rows 1 and 2 (part 0) and 6 (part 2, alone)."""
    repos = ["acme/alpha", "acme/beta", "acme/beta", "acme/alpha", "acme/alpha", "acme/alpha", "acme/beta"]
    with ShardWriter(tmp_path / "s", rows_per_part=3) as writer:
        writer.write_many(doc(i, repo) for i, repo in enumerate(repos))
        writer.commit({"commits": {"acme/alpha": "a1", "acme/beta": "b1"}, "failed_repos": {}})
    return tmp_path / "s"


def rows(directory: Path) -> list[tuple[str, str]]:
    return [(d["repo"], d["path"]) for chunk in iter_documents(directory) for d in chunk]


def test_rows_of_a_repository_go_and_the_marker_stays_consistent(written: Path) -> None:
    removed = remove_rows(written, lambda repo, _path: repo == "acme/beta", repos_gone=["acme/beta"])
    assert removed == 3
    manifest = read_manifest(written)
    assert manifest.rows == 4 and manifest.parts == ("part-00000.r1.parquet", "part-00001.parquet")
    assert manifest.info["commits"] == {"acme/alpha": "a1"} and manifest.info["forgotten_rows"] == 3
    assert {repo for repo, _ in rows(written)} == {"acme/alpha"} and len(rows(written)) == 4
    assert sorted(p.name for p in written.glob("part-*")) == ["part-00000.r1.parquet", "part-00001.parquet"]
    assert remove_rows(written, lambda repo, _path: repo == "acme/beta", repos_gone=["acme/beta"]) == 0


def test_a_crash_before_the_marker_leaves_the_old_spool_and_a_rerun_finishes(
    written: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = rows(written)

    def crash(path: Path, data: bytes) -> None:
        raise OSError("killed")

    with monkeypatch.context() as patched:
        patched.setattr(spool, "_atomic_write_bytes", crash)
        with pytest.raises(OSError):
            remove_rows(written, lambda _repo, path: path == "pkg/m1.py")
    assert rows(written) == before  # the old marker still lists the old, complete parts
    assert remove_rows(written, lambda _repo, path: path == "pkg/m1.py") == 1
    assert ("acme/beta", "pkg/m1.py") not in rows(written) and len(rows(written)) == 6
    assert read_manifest(written).parts[0] == "part-00000.r2.parquet"  # the crash's r1 was left aside
    assert sorted(p.name for p in written.glob("*part-*")) == [
        "part-00000.r2.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]  # and is gone now, with the old part 0
