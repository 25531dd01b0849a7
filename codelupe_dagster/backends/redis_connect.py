"""A checked Redis client: REDIS_URL when given, else the DATA_DIR's embedded Valkey (started on demand).

Here rather than in the Dagster resource so commands that only read (`codelupe status`) reach Redis
without importing Dagster.
"""

from __future__ import annotations

import time

import redis

from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey
from codelupe_dagster.backends.resp_reader import CONNECT_ATTEMPTS, RedisUnavailable
from codelupe_dagster.core.masking import mask_url

__all__ = ["CONNECT_ATTEMPTS", "RedisUnavailable", "connect_redis"]


def connect_redis(url: str | None, data_dir: str, attempts: int = CONNECT_ATTEMPTS) -> redis.Redis:
    """A checked client: REDIS_URL when given, else this DATA_DIR's embedded Valkey (started on demand).

    Bounded retries with backoff ride out a server that is restarting; after that the error is clear and
    names the (masked) URL, so a typo in REDIS_URL is not mistaken for a pipeline bug.
    """
    target = url or ensure_embedded_valkey(data_dir)
    client = redis.Redis.from_url(
        target, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30
    )
    delay = 0.2
    for attempt in range(attempts):
        try:
            client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if attempt == attempts - 1:
                raise RedisUnavailable(f"Redis at {mask_url(target)} is unreachable: {exc}") from exc
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
