"""`codelupe retry` writes (a Lua script re-queues parked repositories), so it connects through redis-py,
not the reading commands' `RespReader`: run as a user runs it, against the embedded Valkey's URL."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from tests.cli.cli_process import codelupe

DEAD = "pipeline:repos:dead"
QUEUE = "pipeline:repos"


def test_retry_requeues_a_parked_repository(
    tmp_path: Path, valkey_url: str, valkey_client: redis.Redis
) -> None:
    valkey_client.hset(
        DEAD, "a/x", json.dumps({"attempts": 3, "crashes": 0, "reason": "boom", "priority": 6})
    )
    (tmp_path / "data").mkdir()
    result = codelupe("retry", "a/x", "a/not-parked", DATA_DIR=str(tmp_path / "data"), REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    assert "re-queued a/x" in result.stdout
    assert "not parked: a/not-parked" in result.stderr
    assert valkey_client.hlen(DEAD) == 0
    assert valkey_client.zscore(QUEUE, "a/x") == 6.0
