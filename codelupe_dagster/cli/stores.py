"""The stores a reading command needs (Redis, the indexes), opened from the environment without Dagster.

The same variables as `resources.default_resources()` (REDIS_URL, REDIS_KEY_PREFIX, ELASTICSEARCH_URL and
its credentials, ES_CODE_INDEX, ES_REPO_INDEX), so a command reads what a run wrote; but importing Dagster
costs seconds, and `codelupe status` or `search` should answer in a fraction of one. A reader never starts
a first, empty Valkey: with no REDIS_URL and no server ever started in DATA_DIR it says there is no data.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, cast

from codelupe_dagster import settings
from codelupe_dagster.backends.search import (
    CODE_SCHEMA,
    DEFAULT_INDEX_NAMES,
    REPO_SCHEMA,
    IndexSchema,
    SearchIndex,
    open_search_index,
)
from codelupe_dagster.cli.errors import NoState
from codelupe_dagster.core.keys import DEFAULT_PREFIX, RedisKeys

if TYPE_CHECKING:
    import redis

    from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue

# redis-py imports this package, when it is installed, for metrics it sends only once an application turns
# them on (CodeLupe never does); wandb depends on it, so it usually is.
OPENTELEMETRY_SDK = "opentelemetry.sdk"

INDEX_NAME_VARIABLES = {CODE_SCHEMA.name: "ES_CODE_INDEX", REPO_SCHEMA.name: "ES_REPO_INDEX"}


def redis_keys() -> RedisKeys:
    return RedisKeys(settings.env_str("REDIS_KEY_PREFIX") or DEFAULT_PREFIX)


def load_redis_py() -> None:
    """Import redis-py without the OpenTelemetry SDK: the SDK is ~0.1 s of CPU, a quarter of what
    `codelupe status` costs. It is hidden only while redis-py imports (which then keeps its optional
    metrics off, as CodeLupe leaves them), so a later `import opentelemetry.sdk` (wandb's) works as usual.
    Does nothing where redis-py or the SDK is already imported; this module imports redis-py only here,
    so a reading command's first Redis connection comes through it."""
    if "redis" in sys.modules or OPENTELEMETRY_SDK in sys.modules:
        return
    sys.modules[OPENTELEMETRY_SDK] = None  # type: ignore[assignment]  # "import halted": an ImportError
    try:
        import redis  # noqa: F401
    finally:
        if sys.modules.get(OPENTELEMETRY_SDK, False) is None:
            del sys.modules[OPENTELEMETRY_SDK]


def _redis_target() -> str:
    """REDIS_URL, else DATA_DIR's embedded Valkey's URL — restarted if stopped, never created."""
    from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, has_embedded_valkey

    url = settings.env_str("REDIS_URL", "")
    data_dir = settings.data_dir()
    if not url and not has_embedded_valkey(data_dir):
        raise NoState(str(data_dir / "valkey"), "or set REDIS_URL")
    return url or ensure_embedded_valkey(data_dir)


def read_redis(attempts: int = 3) -> redis.Redis:
    """A client for reading REDIS_URL's server, else DATA_DIR's embedded Valkey (never created).

    A `RespReader` where the URL allows (plain, TLS or unix-socket URLs without query options): it answers
    the read commands the reading stores call as redis-py does, without redis-py's import (most of what
    `codelupe status` once cost). Other URLs get redis-py. Only for reading, hence the cast: a command
    that writes takes `redis_client`."""
    from codelupe_dagster.backends.resp_reader import RespReader, supports_url

    target = _redis_target()
    if not supports_url(target):
        return _redis_py(target, attempts)
    try:
        return cast("redis.Redis", RespReader.from_url(target, attempts=attempts))
    except ValueError as exc:  # a part that does not parse (a port or database that is not a number)
        raise settings.ConfigurationError(f"REDIS_URL: {exc}") from exc


def redis_client(attempts: int = 3) -> redis.Redis:
    """A redis-py client of the same server as `read_redis`, for a command that writes (`retry`)."""
    return _redis_py(_redis_target(), attempts)


def _redis_py(target: str, attempts: int) -> redis.Redis:
    load_redis_py()
    from codelupe_dagster.backends.redis_connect import connect_redis

    try:
        return connect_redis(target, str(settings.data_dir()), attempts=attempts)
    except ValueError as exc:  # redis-py's "Redis URL must specify one of the following schemes ..."
        raise settings.ConfigurationError(f"REDIS_URL: {exc}") from exc


def repo_queue(client: redis.Redis) -> RedisRepoQueue:
    from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
    from codelupe_dagster.backends.repo_queue import RetryPolicy

    policy = RetryPolicy(
        lease_ttl_s=settings.env_float("LEASE_TTL"),
        max_attempts=settings.env_int("MAX_REPO_ATTEMPTS"),
        max_crashes=settings.env_int("MAX_REPO_CRASHES"),
        backoff_s=settings.env_float("REPO_RETRY_BACKOFF"),
    )
    return RedisRepoQueue(client, redis_keys(), policy)


def elasticsearch_url() -> str | None:
    return settings.env_str("ELASTICSEARCH_URL", "") or None


def open_index(schema: IndexSchema) -> SearchIndex:
    """The index of ``schema`` this environment points at (ELASTICSEARCH_URL, else DATA_DIR's file)."""
    name = settings.env_str(INDEX_NAME_VARIABLES[schema.name], "") or DEFAULT_INDEX_NAMES[schema.name]
    return open_search_index(
        schema,
        data_dir=settings.data_dir(),
        elasticsearch_url=elasticsearch_url(),
        index_name=name,
        api_key=settings.env_str("ELASTICSEARCH_API_KEY", "") or None,
        username=settings.env_str("ELASTICSEARCH_USERNAME", "") or None,
        password=settings.env_str("ELASTICSEARCH_PASSWORD", "") or None,
    )
