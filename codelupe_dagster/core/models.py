"""Plain records passed between stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class RepoRecord:
    """One repository as crawled; also the document of the repo index (id = full_name)."""

    full_name: str
    clone_url: str
    stars: int = 0
    forks: int = 0
    language: str | None = None
    license: str | None = None
    size_kb: int = 0
    pushed_at: str | None = None
    archived: bool = False
    fork: bool = False
    default_branch: str | None = None
    topics: tuple[str, ...] = ()
    description: str | None = None
    source: str = "github"
    head: str | None = None

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["topics"] = list(self.topics)
        doc["id"] = self.full_name
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RepoRecord:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        values["topics"] = tuple(values.get("topics") or ())
        return cls(**values)
