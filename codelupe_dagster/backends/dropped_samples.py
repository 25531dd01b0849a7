"""A bounded sample of the files scoring dropped, per reason: which files were `minified`, not just how many.

The counts per reason live in `backends.corpus_stats`; this keeps, for each reason, the latest
`SAMPLE_SIZE` dropped files with what a person needs to look one up: repository, path, commit, blob id,
size, a detail (an error text) and a short excerpt. Every text field was redacted (secrets and personal
data) by whoever built the sample (`stages.dropped_sampling`); this module stores what it is given.

Layout, beside the other `<prefix>` keys:
- `<prefix>dropped:<reason>`: LIST of JSON samples, newest first, trimmed to the bound on every write;
- `<prefix>dropped:reasons`: SET of the reasons that have a list.

A batch's samples are written in one pipeline (one round trip per batch, never one per file). A sample's
JSON is deterministic (no clock), so a re-run of the same batch removes its identical earlier entries
(`LREM`) before pushing them again: the lists hold each dropped file once and never exceed the bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final

from codelupe_dagster.backends.git import LFS_POINTER, SUBMODULE, SYMLINK
from codelupe_dagster.core.drop_reasons import REASONS
from codelupe_dagster.core.keys import RedisKeys

if TYPE_CHECKING:  # redis-py is only named: readers pass `resp_reader.RespReader`
    import redis

SAMPLE_SIZE: Final = 50  # files kept per reason
# Every reason scoring drops a file for, besides `error:<ExceptionType>` (see `known_reasons`): the filters',
# the tree walk's, and the scorer's own (`stages.score_batch`, `stages.file_processing`,
# `stages.scoring_pool`). Files dropped as `forgotten` are counted, never sampled.
STAGE_REASONS: Final = ("processing_error", "missing_object", "worker_crash", "forgotten")
KNOWN_REASONS: Final[tuple[str, ...]] = (*REASONS, SYMLINK, SUBMODULE, LFS_POINTER, *STAGE_REASONS)


@dataclass(frozen=True)
class DroppedSample:
    """One dropped file. `path`, `detail` and `excerpt` are redacted; `blob` and `size` are None when
    the file had no blob to read (a submodule, a symlink) or it could not be read."""

    reason: str
    batch: str
    repo: str
    path: str
    commit: str | None = None
    blob: str | None = None
    size: int | None = None
    detail: str | None = None
    excerpt: str | None = None

    def to_json(self) -> str:
        values = {name: getattr(self, name) for name in _FIELDS}  # asdict() deep-copies: slower
        return json.dumps(values, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> DroppedSample:
        data: dict[str, Any] = json.loads(raw)
        values = {name: data.get(name) for name in _FIELDS}
        return cls(**values)  # type: ignore[arg-type]


_FIELDS: Final[tuple[str, ...]] = tuple(field.name for field in fields(DroppedSample))


def samples_key(keys: RedisKeys, reason: str) -> str:
    """LIST of one reason's samples, newest first (at most the bound)."""
    return f"{keys.prefix}dropped:{reason}"


def reasons_key(keys: RedisKeys) -> str:
    """SET of the reasons that have samples."""
    return f"{keys.prefix}dropped:reasons"


class DroppedSamples:
    """The per-reason samples in Redis (see the module docstring)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, per_reason: int = SAMPLE_SIZE):
        if per_reason < 1:
            raise ValueError("per_reason must be at least 1")
        self._client = client
        self._keys = keys
        self.per_reason = per_reason

    def record(self, samples: Sequence[DroppedSample]) -> None:
        """Push a batch's samples (oldest first; the last pushed is listed first) in one round trip."""
        if not samples:
            return
        by_reason: dict[str, list[str]] = {}
        for sample in samples:
            by_reason.setdefault(sample.reason, []).append(sample.to_json())
        pipe = self._client.pipeline(transaction=False)
        for reason, values in by_reason.items():
            key = samples_key(self._keys, reason)
            kept = values[-self.per_reason :]  # the rest would be trimmed away at once
            for value in kept:
                pipe.lrem(key, 0, value)  # a re-run's identical entry: the file is listed once
            pipe.lpush(key, *kept)
            pipe.ltrim(key, 0, self.per_reason - 1)
            pipe.sadd(reasons_key(self._keys), reason)
        pipe.execute()

    def reasons(self) -> dict[str, int]:
        """Samples held per reason, sorted by reason."""
        members: set[bytes] = self._client.smembers(reasons_key(self._keys))  # type: ignore[assignment]
        reasons = sorted(member.decode() for member in members)
        pipe = self._client.pipeline(transaction=False)
        for reason in reasons:
            pipe.llen(samples_key(self._keys, reason))
        return {reason: int(n) for reason, n in zip(reasons, pipe.execute(), strict=True) if n}

    def samples(self, reason: str, limit: int | None = None) -> list[DroppedSample]:
        """The reason's samples, newest first; at most `limit`."""
        end = -1 if limit is None else max(limit, 1) - 1
        raw: list[bytes] = self._client.lrange(samples_key(self._keys, reason), 0, end)  # type: ignore[assignment]
        return [DroppedSample.from_json(value) for value in raw]

    def forget(self, forgotten: Callable[[str, str], bool]) -> int:
        """Remove every sample for which `forgotten(repo, path)` is true (`codelupe forget`: a pattern's
        `matches_repo`, or its `matches_file` for a glob); how many were removed."""
        removed = 0
        for reason in self.reasons():
            key = samples_key(self._keys, reason)
            raw: list[bytes] = self._client.lrange(key, 0, -1)  # type: ignore[assignment]
            for value in raw:
                sample = DroppedSample.from_json(value)
                if forgotten(sample.repo, sample.path):
                    removed += int(self._client.lrem(key, 0, value))  # type: ignore[arg-type]
        return removed
