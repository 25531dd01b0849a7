"""The files one batch stage hands to the next, in one place (DESIGN §4).

Under DATA_DIR:
- `batches/<batch>/cloned.json`: what `cloned_repos` cloned, in priority order, and what failed; read by
  `scored_files`. Written atomically (a temporary file renamed over the old one), so a reader never sees
  half a manifest, and a re-run of cloning replaces it whole.
- `spool/<batch>/`: the Parquet spool `scored_files` writes and `es_code_index` reads (`backends.spool`
  owns its format).

Everything that writes or reads these paths — assets, stages, tests, benches — goes through this module,
so the format is declared once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLONED_MANIFEST = "cloned.json"


def batch_dir(data_dir: str | Path, batch_id: str) -> Path:
    """The batch's own directory of hand-off files."""
    return Path(data_dir) / "batches" / batch_id


def cloned_manifest_path(data_dir: str | Path, batch_id: str) -> Path:
    return batch_dir(data_dir, batch_id) / CLONED_MANIFEST


def spool_path(data_dir: str | Path, batch_id: str) -> Path:
    return Path(data_dir) / "spool" / batch_id


@dataclass(frozen=True)
class ClonedRepo:
    """One repository on disk: where it is, the commit to read, and its repo record (`RepoRecord.to_doc`,
    whose `stars` and `license` every document of the repository carries)."""

    repo: str
    path: str
    head: str | None
    record: dict[str, Any] = field(default_factory=dict)
    status: str | None = None  # how cloning left it: cloned, updated or unchanged

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": self.path,
            "head": self.head,
            "status": self.status,
            "record": self.record,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClonedRepo:
        return cls(data["repo"], data["path"], data.get("head"), data.get("record") or {}, data.get("status"))


@dataclass(frozen=True)
class FailedClone:
    """A repository that could not be cloned, with the reason code it is counted under."""

    repo: str
    reason: str | None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "reason": self.reason, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailedClone:
        return cls(data["repo"], data.get("reason"), data.get("detail"))


@dataclass(frozen=True)
class ClonedBatch:
    """What cloned_repos wrote for a batch: the repositories on disk, in priority order."""

    batch: str
    repos: tuple[ClonedRepo, ...]
    failed: tuple[FailedClone, ...] = ()

    @classmethod
    def load(cls, path: str | Path) -> ClonedBatch:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"{path} not found: cloned_repos has not completed for this batch"
            ) from exc
        return cls(
            data["batch"],
            tuple(ClonedRepo.from_json(r) for r in data["repos"]),
            tuple(FailedClone.from_json(f) for f in data.get("failed") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "repos": [repo.to_json() for repo in self.repos],
            "failed": [failure.to_json() for failure in self.failed],
        }


def load_cloned_batch(data_dir: str | Path, batch_id: str) -> ClonedBatch:
    """The batch's `cloned.json`; FileNotFoundError says cloning has not completed."""
    return ClonedBatch.load(cloned_manifest_path(data_dir, batch_id))


def write_cloned_manifest(
    data_dir: str | Path,
    batch_id: str,
    repos: Sequence[ClonedRepo],
    failed: Sequence[FailedClone] = (),
) -> Path:
    """Write the batch's `cloned.json` atomically (temporary file + rename); returns its path."""
    path = cloned_manifest_path(data_dir, batch_id)
    manifest = ClonedBatch(batch_id, tuple(repos), tuple(failed)).to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, path)
    return path
