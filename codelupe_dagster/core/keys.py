"""Every Redis key the pipeline uses, in one place.

The old pipeline's names (`pipeline:repos`, `pipeline:processed:repos`, `pipeline:processed:files`) are kept
because operators already watch them. Keys are plain strings with a configurable prefix. The queue's pop
and requeue are Lua scripts over several keys (queue, in-flight hash, batch record), which a Redis Cluster
only runs when those keys share a hash slot: on a cluster, set a hash-tagged prefix such as
`REDIS_KEY_PREFIX={pipeline}:`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "pipeline:"
"""The key prefix when REDIS_KEY_PREFIX is unset: the old pipeline's, which operators already watch."""


@dataclass(frozen=True)
class RedisKeys:
    prefix: str = DEFAULT_PREFIX

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
        """HASH repo -> JSON {"batch", "since", "priority"}: the repos batches hold; each is leased."""
        return f"{self.prefix}repos:inflight"

    @property
    def leases(self) -> str:
        """ZSET repo -> lease expiry epoch; a live run renews it, an expired one returns the repo."""
        return f"{self.prefix}repos:leases"

    @property
    def attempts(self) -> str:
        """HASH repo -> JSON {"attempts", "reason", "priority", "at"}: failures since the last success."""
        return f"{self.prefix}repos:attempts"

    @property
    def delayed(self) -> str:
        """ZSET repo -> epoch before which a failed repo is not retried (back-off)."""
        return f"{self.prefix}repos:delayed"

    @property
    def dead(self) -> str:
        """HASH repo -> JSON {"attempts", "reason", "at", "priority"}: parked after MAX_REPO_ATTEMPTS."""
        return f"{self.prefix}repos:dead"

    def batch_failures(self, batch_id: str) -> str:
        """HASH repo -> reason: repos of a batch that failed alone inside a run that succeeded."""
        return f"{self.prefix}batches:{batch_id}:failed"

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
        """Layout 1's exact-dedup ledger, one HASH 16-byte digest -> claiming repository. Layout 2 keeps
        the name only as the label of the exact ledger (`codelupe status`) and for the migration that
        reads it (`backends.dedup_ledger.migrate_layout`); its claims live in `exact_shard_base`."""
        return f"{self.prefix}processed:files"

    @property
    def dedup_layout(self) -> str:
        """HASH: the dedup ledger's recorded layout (version and shard shape), written once when the
        ledger is created so every writer shards the same way (`backends.redis_dedup.LedgerShape`)."""
        return f"{self.prefix}dedup:layout"

    @property
    def exact_shard_base(self) -> str:
        """Prefix of the exact ledger's keys (layout 2): `<base><hex shard>` are small HASHes digest tail ->
        claimant id, `<base>count` the number of claims, `<base>claimants` the claimant ids. The hash tag
        puts them all in one Redis Cluster slot, so one script call may touch any of them."""
        return f"{self.prefix}{{processed:files}}:"

    def lsh_shard_base(self, band: int) -> str:
        """Prefix of one LSH band's keys (layout 2): `<base><hex shard>` are small HASHes bucket tail ->
        owner, `<base>count` the band's bucket count; one Redis Cluster slot per band (hash tag)."""
        return f"{self.prefix}{{lsh:{band}}}:"

    def repo_claims(self, repo: str) -> str:
        """The 16-byte digests a repository holds in the exact-dedup ledger (its current generation), so
        an update or a removal can release exactly what that repository claimed. Layout 2: a STRING of
        concatenated digests (layout 1: a SET)."""
        return f"{self.prefix}claims:{repo}"

    def repo_claims_next(self, repo: str, batch_id: str) -> str:
        """The digests a repository claimed while batch ``batch_id`` scored it (the next generation);
        the same type as `repo_claims`."""
        return f"{self.prefix}claims:{repo}:next:{batch_id}"

    def lsh(self, band: int) -> str:
        """Layout 1's LSH band, one HASH bucket key -> owning document's 16-byte digest; read only by the
        layout migration (layout 2 shards a band under `lsh_shard_base`)."""
        return f"{self.prefix}lsh:{band}"

    @property
    def forget_patterns(self) -> str:
        """HASH forget pattern -> JSON {"at", "reason", "source", "state", "removed"}: the forget registry
        (`codelupe forget` and OPT_OUT_FILE share it)."""
        return f"{self.prefix}forget:patterns"

    @property
    def forget_prefixes(self) -> str:
        """SET of lower-cased repository names and owners forgotten whole: a repository whose name equals
        one or lies under one (`owner/...`) is never enqueued, crawled or scored again."""
        return f"{self.prefix}forget:prefixes"

    @property
    def forget_globs(self) -> str:
        """SET of lower-cased path globs over `owner/name/path`: matching files are never scored again."""
        return f"{self.prefix}forget:globs"

    def forget_ids(self, pattern: str) -> str:
        """SET of the 16-byte content ids a forget pattern removed, so `codelupe status` can name the
        checkpoints trained on them."""
        return f"{self.prefix}forget:ids:{pattern}"

    @property
    def carriers(self) -> str:
        """HASH content digest (16 raw bytes) -> newline-separated repositories (at most a few) that also
        carried it and were dropped as its exact or near duplicate: who takes over when its holder is
        forgotten."""
        return f"{self.prefix}carriers"

    def stats(self, name: str) -> str:
        return f"{self.prefix}stats:{name}"
