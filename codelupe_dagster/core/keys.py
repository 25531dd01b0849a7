"""Every Redis key the pipeline uses, in one place.

The old pipeline's names (`pipeline:repos`, `pipeline:processed:repos`, `pipeline:processed:files`) are kept
because operators already watch them. Keys are plain strings with a configurable prefix. The queue's pop
and requeue are Lua scripts over several keys (queue, in-flight hash, batch record), which a Redis Cluster
only runs when those keys share a hash slot: on a cluster, set a hash-tagged prefix such as
`REDIS_KEY_PREFIX={pipeline}:`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "pipeline:"

    @property
    def repos(self) -> str:
        """Priority queue: ZSET member=owner/name, score=priority (highest popped first)."""
        return f"{self.prefix}repos"

    @property
    def repo_meta(self) -> str:
        """HASH repo -> JSON RepoRecord, so a batch knows how to clone what it popped."""
        return f"{self.prefix}repos:meta"

    @property
    def inflight(self) -> str:
        """HASH repo -> JSON {"batch": id, "since": epoch}; acked on success, re-queued on failure/timeout."""
        return f"{self.prefix}repos:inflight"

    @property
    def batches(self) -> str:
        """ZSET batch id -> creation epoch, the index of batch records."""
        return f"{self.prefix}batches"

    def batch(self, batch_id: str) -> str:
        """STRING JSON {"repos": [...], "created": epoch} for one batch."""
        return f"{self.prefix}batches:{batch_id}"

    @property
    def processed_repos(self) -> str:
        """HASH repo -> HEAD sha last processed, for incremental re-processing."""
        return f"{self.prefix}processed:repos"

    @property
    def processed_files(self) -> str:
        """HASH content digest (16 raw bytes) -> claiming repository: the exact-dedup ledger."""
        return f"{self.prefix}processed:files"

    def lsh(self, band: int) -> str:
        """HASH bucket key -> owning document's raw 16-byte digest, one hash per LSH band."""
        return f"{self.prefix}lsh:{band}"

    def stats(self, name: str) -> str:
        return f"{self.prefix}stats:{name}"
