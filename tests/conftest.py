"""Shared fixtures: real servers only.

- Redis: every Redis-facing test runs twice, against the embedded Valkey (the default deployment) and
  against a separately started Debian `redis-server` reached through a URL (the scale-out path).
- Search: contract tests run against the SQLite FTS5 file and a real Elasticsearch node started by
  `scripts/elasticsearch.py`. On CI a missing Elasticsearch is a failure, never a skip.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
from codelupe_dagster.backends.search import open_search_index
from tests.support.search_backends import IndexFactory, backend_factory, factory

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Fixtures shared across the tree: tests/ mirrors the source tree, so their users sit in several folders.
pytest_plugins = [
    "tests.support.ingest_fixtures",  # git repositories served over smart HTTP, local sources
    "tests.support.planted",  # stdlib repositories with planted secrets, duplicates and junk
    "tests.support.tiny_model",  # the session's tiny Qwen2 model
]


@pytest.fixture(autouse=True)
def _no_dagster_definitions_state_left_over() -> Iterator[None]:
    """Each test starts with no current definitions-state storage.

    Dagster keeps the storage of the instance last entered (`with instance:`) in a context variable and
    restores the previous value on exit. Instances entered and disposed out of order across tests can
    leave it pointing at a disposed instance, and the next `dg.materialize` then fails with "Attempted to
    resolve undefined DagsterInstance weakref" — seen in full-suite runs only, depending on garbage
    collection: an instance disposed by the collector *during* a later test resets the variable to
    whatever it held when that instance was entered. So earlier tests' garbage is collected first, then the
    variable is cleared. There is no public reset, so this reaches for Dagster's own context variable.
    """
    from dagster._core.storage.defs_state.base import _current_storage

    gc.collect()
    _current_storage.set(None)
    yield


def _sigterm_ignored() -> bool:
    """Whether SIGTERM is set to ignored in this process, as the kernel sees it (a handler installed from C
    does not show in `signal.getsignal`)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


@pytest.fixture(autouse=True)
def _sigterm_not_left_ignored(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that leaves SIGTERM ignored is named, and the default action is put back.

    Processes this one spawns inherit an ignored SIGTERM, so `Pool.terminate()` can no longer stop an idle
    worker and its join waits forever: one CI run hung 600 s that way. The cause: Dagster points SIGTERM at
    SIGINT's handler around every run and leaves it there (`dagster._utils.interrupts`), and a pytest
    started as a background job has SIGINT ignored, so every test that executes a Dagster run left SIGTERM
    ignored. `codelupe run` (cli/launch.py) and the scoring workers guard against it themselves; this
    guard keeps the tests independent of how pytest was started.
    """
    before = _sigterm_ignored()
    yield
    if not before and _sigterm_ignored():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        warnings.warn(
            f"{request.node.nodeid} left SIGTERM ignored in the test process; restored the default",
            stacklevel=1,
        )


def _require(condition: bool, reason: str) -> None:
    """Skip loudly on a developer machine; on CI a missing service is a failure, never a skip."""
    if condition:
        return
    if ON_CI:
        pytest.fail(f"required service missing on CI: {reason}")
    print(f"\n*** SKIPPING: {reason} ***")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- Redis


@pytest.fixture(scope="session")
def valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded Valkey server, started exactly as the product starts it."""
    data_dir = tmp_path_factory.mktemp("valkey-data")
    url = ensure_embedded_valkey(data_dir)
    yield url
    stop_embedded_valkey(data_dir)


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A separately started Debian redis-server, reached through a URL like REDIS_URL in production."""
    binary = shutil.which("redis-server")
    _require(binary is not None, "redis-server is not installed (apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("redis-server")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["valkey", "redis-server"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Both Redis flavours, each flushed before the test."""
    url = request.getfixturevalue("valkey_url" if request.param == "valkey" else "redis_server_url")
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def valkey_client(valkey_url: str) -> Iterator[redis.Redis]:
    """The embedded Valkey only, flushed; for tests where the second server adds nothing."""
    client = redis.Redis.from_url(valkey_url)
    client.flushdb()
    yield client
    client.close()


# ---------------------------------------------------------------- data dir and Dagster resources


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DATA_DIR, also exported so code reading the environment agrees with the test. The embedded
    Valkey that the product starts in it (a resource without REDIS_URL does) is stopped afterwards."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("DATA_DIR", str(path))
    for name in ("REDIS_URL", "ELASTICSEARCH_URL", "REPOS_DIR", "CODELUPE_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    yield path
    stop_embedded_valkey(path)


@pytest.fixture
def resources_for() -> Callable[..., dict[str, Any]]:
    """Build the Dagster resources dict for `materialize()` from a data dir and a Redis URL; `extra`
    replaces or adds resources (`sources=SourcesResource(github=GitHubForge(api_url=...))`)."""

    def build(
        data_dir: Path, redis_url: str | None = None, elasticsearch_url: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        from codelupe_dagster.resources import (
            GitResource,
            PipelineResource,
            RedisResource,
            SearchIndexResource,
            SourcesResource,
        )

        resources: dict[str, Any] = {
            "pipeline": PipelineResource(data_dir=str(data_dir)),
            "redis": RedisResource(url=redis_url, data_dir=str(data_dir)),
            "search": SearchIndexResource(elasticsearch_url=elasticsearch_url, data_dir=str(data_dir)),
            "sources": SourcesResource(),
            "git": GitResource(repos_dir=str(data_dir / "repos")),
        }
        resources.update(extra)
        return resources

    return build


# ---------------------------------------------------------------- search backends


# Read once at import: fixtures such as `data_dir` remove ELASTICSEARCH_URL from the environment, and the
# session node must not depend on which test happens to ask for it first.
_CALLER_ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL")


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """A real Elasticsearch node: ELASTICSEARCH_URL when the caller started one, else one we start."""
    given = _CALLER_ELASTICSEARCH_URL or os.environ.get("ELASTICSEARCH_URL")
    if given:
        yield given
        return
    java_ok = any(Path("/usr/lib/jvm").glob("*")) or shutil.which("java") is not None
    _require(java_ok, "no Java runtime to run Elasticsearch")
    from tests.support.es_node import start_session_node

    url, stop = start_session_node()
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def sqlite_index_factory(tmp_path: Path) -> Iterator[IndexFactory]:
    yield from factory(lambda schema, name: open_search_index(schema, data_dir=tmp_path, index_name=name))


@pytest.fixture(params=["sqlite", "elasticsearch"])
def search_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """A factory of fresh indexes on each backend: `make(CODE_SCHEMA)`; indexes are deleted afterwards."""
    yield from backend_factory(request, tmp_path, request.param)
