"""Redis/Valkey: the priority queue and the dedup state (DESIGN §4).

The resource hands out domain objects (`queue()`; the dedup ledger beside it), so stages never speak raw
Redis; `get_client()` stays for the constructors of those objects.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import dagster as dg
import redis
from pydantic import Field, PrivateAttr

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.redis_connect import CONNECT_ATTEMPTS, RedisUnavailable, connect_redis
from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.backends.repo_queue import RetryPolicy
from codelupe_dagster.backends.sources.state import RedisHashStore
from codelupe_dagster.core.keys import DEFAULT_PREFIX, RedisKeys

__all__ = ["CONNECT_ATTEMPTS", "RedisResource", "RedisUnavailable", "connect_redis"]


class RedisResource(dg.ConfigurableResource):
    """Queue and dedup state. Unset `url` means the embedded Valkey server of `data_dir`."""

    url: str | None = None
    data_dir: str = ".codelupe"
    key_prefix: str = Field(default=DEFAULT_PREFIX, description="REDIS_KEY_PREFIX: prefix of every key.")
    lease_ttl_s: float = Field(default=120.0, description="LEASE_TTL: seconds a dead run holds its repos.")
    max_repo_attempts: int = Field(default=3, description="MAX_REPO_ATTEMPTS: failures before parking.")
    max_repo_crashes: int = Field(default=10, description="MAX_REPO_CRASHES: dead runs before parking.")
    retry_backoff_s: float = Field(default=60.0, description="REPO_RETRY_BACKOFF: first retry delay (s).")
    dedup_expected_files: int | None = Field(
        default=None,
        description="DEDUP_EXPECTED_FILES: corpus size a new dedup ledger is sharded for.",
    )
    connect_attempts: int = Field(
        default=CONNECT_ATTEMPTS,
        description="Connection attempts (with backoff) before Redis counts as down.",
    )

    _client: redis.Redis | None = PrivateAttr(default=None)

    def get_client(self) -> redis.Redis:
        if self._client is None:
            self._client = connect_redis(self.url, self.data_dir, attempts=self.connect_attempts)
        return self._client

    @property
    def redis_keys(self) -> RedisKeys:
        return RedisKeys(self.key_prefix)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            lease_ttl_s=self.lease_ttl_s,
            max_attempts=self.max_repo_attempts,
            max_crashes=self.max_repo_crashes,
            backoff_s=self.retry_backoff_s,
        )

    def queue(self) -> RedisRepoQueue:
        """The repository queue with this resource's keys and retry policy."""
        return RedisRepoQueue(self.get_client(), self.redis_keys, self.retry_policy())

    def ledger(self) -> RedisDedupLedger:
        """The dedup ledger (exact and near-duplicate claims, claim generations) under this key prefix."""
        return RedisDedupLedger(self.get_client(), self.redis_keys, expected_files=self.dedup_expected_files)

    def source_state(self, name: str) -> RedisHashStore:
        """A source's persistent state (watermarks, ETags, cursors) as the hash `<prefix>stats:<name>`."""
        return RedisHashStore(self.get_client(), self.redis_keys.stats(name))

    def keep_leased(self, batch_id: str) -> AbstractContextManager[object]:
        """Renew the batch's leases while a stage works on it (a heartbeat thread); a stage whose process
        dies stops renewing, and its repos go back on the queue within `lease_ttl_s`."""
        return self.queue().keep_leased(batch_id)
