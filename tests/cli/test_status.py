"""`codelupe status` on a fresh DATA_DIR and with unreachable servers, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord


def _status(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
    environ.update(DATA_DIR=str(data_dir), **env)
    return subprocess.run(
        [sys.executable, "-m", "codelupe_dagster.cli", "status", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_fresh_data_dir_reports_zeros_as_json(
    tmp_path: Path, valkey_client: redis.Redis, valkey_url: str
) -> None:
    """A state directory that exists (here with an empty queue server) reports zeros, not errors."""
    data = tmp_path / "data"
    data.mkdir()
    result = _status(data, "--json", REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert next(iter(status)) == "state"
    assert status["queue"] == {
        "pipeline:repos": 0,
        "pipeline:repos:inflight": 0,
        "pipeline:repos:delayed": 0,
        "pipeline:repos:dead": 0,
    }
    assert status["batches"] == {"in_progress": 0, "pipeline:batches": 0}
    assert status["dead_letters"] == {}
    assert status["processed"] == {"pipeline:processed:repos": 0, "pipeline:processed:files": 0}
    assert status["index"]["backend"] == "sqlite"
    assert status["index"]["codelupe-code"] == 0
    assert status["index"]["github-coding-repos"] == 0
    assert status["index"]["quality"] == {"<0.3": 0, "0.3-0.5": 0, "0.5-0.7": 0, ">=0.7": 0}


def test_counts_follow_the_configured_redis(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.zadd("pipeline:repos", {"a/b": 1, "c/d": 2})
    ledger = RedisDedupLedger(client, RedisKeys())
    ledger.claim_exact([("b1", [b"x" * 16, b"y" * 16]), ("b2", [b"z" * 16])])
    client.hset("pipeline:processed:repos", mapping={"a/b": "c0ffee"})
    (tmp_path / "data").mkdir()
    result = _status(tmp_path / "data", "--json", REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["queue"]["pipeline:repos"] == 2
    assert status["processed"] == {"pipeline:processed:repos": 1, "pipeline:processed:files": 3}


def test_batch_records_are_counted_apart_from_the_queue(
    tmp_path: Path, valkey_client: redis.Redis, valkey_url: str
) -> None:
    """Batch records are kept for every batch ever started: they are no work waiting, so they are not a
    queue line; the batches still holding leased repos are counted on their own."""
    queue = RedisRepoQueue(valkey_client, RedisKeys())
    queue.enqueue([(RepoRecord(f"o/r{i}", clone_url="u"), float(i)) for i in range(5)])
    done = queue.pop_batch(2)
    running = queue.pop_batch(2)
    assert done is not None and running is not None
    queue.settle(done.batch_id, succeeded=True, reason="")
    (tmp_path / "data").mkdir()
    result = _status(tmp_path / "data", "--json", REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["queue"] == {
        "pipeline:repos": 1,
        "pipeline:repos:inflight": 2,
        "pipeline:repos:delayed": 0,
        "pipeline:repos:dead": 0,
    }
    assert status["batches"] == {"in_progress": 1, "pipeline:batches": 2}

    table = _status(tmp_path / "data", REDIS_URL=valkey_url, COLUMNS="200")
    assert table.returncode == 0, table.stderr
    rows = {" ".join(line.replace("│", " ").split()) for line in table.stdout.splitlines()}
    assert "batches in progress (holding leased repos) 1" in rows
    assert "batches pipeline:batches (records of every batch started) 2" in rows
    assert not any(row.startswith("queue pipeline:batches") for row in rows)


def test_status_reads_the_dedup_ledger_without_creating_it(
    tmp_path: Path, valkey_client: redis.Redis, valkey_url: str
) -> None:
    """A reader never writes: status on a server with no ledger reports 0 and leaves no layout record."""
    (tmp_path / "data").mkdir()
    result = _status(tmp_path / "data", "--json", REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["processed"]["pipeline:processed:files"] == 0
    assert valkey_client.keys("*") == []


def test_an_older_ledger_layout_is_counted_by_its_size(
    tmp_path: Path, valkey_client: redis.Redis, valkey_url: str
) -> None:
    """Before `codelupe migrate-ledger` (layout 1's HASH) or `codelupe migrate` (the v2 pipeline's SET),
    `pipeline:processed:files` is counted as the old pipeline counted it, not shown as 0."""
    (tmp_path / "data").mkdir()
    valkey_client.sadd("pipeline:processed:files", "d1", "d2", "d3")
    result = _status(tmp_path / "data", "--json", REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["processed"]["pipeline:processed:files"] == 3

    valkey_client.delete("pipeline:processed:files")
    valkey_client.hset("pipeline:processed:files", mapping={"d1": "a/b", "d2": "a/b"})
    result = _status(tmp_path / "data", "--json", REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["processed"]["pipeline:processed:files"] == 2


def test_wrong_redis_url_fails_with_one_masked_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = _status(tmp_path / "data", "--json", REDIS_URL="redis://ops:s3cret@127.0.0.1:9/0")
    assert result.returncode == 69
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("state: "), result.stderr
    assert "redis://ops:***@127.0.0.1:9/0" in lines[1]
    assert "s3cret" not in result.stderr + result.stdout


def test_wrong_elasticsearch_url_fails_with_one_masked_line(tmp_path: Path, valkey_url: str) -> None:
    (tmp_path / "data").mkdir()
    result = _status(
        tmp_path / "data",
        "--json",
        REDIS_URL=valkey_url,
        ELASTICSEARCH_URL="http://elastic:changeme@127.0.0.1:9/",
    )
    assert result.returncode == 69
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("state: "), result.stderr
    assert "127.0.0.1:9" in lines[1]
    assert "changeme" not in result.stderr + result.stdout


def test_data_dir_and_everything_in_it_is_private_to_its_owner(tmp_path: Path) -> None:
    """DESIGN §9: DATA_DIR holds code, clones and the Valkey password; other local users get nothing."""
    import stat

    from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

    fresh = tmp_path / "fresh" / "data"
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)  # a DATA_DIR made before this rule, readable by everyone
    try:
        for data_dir in (fresh, loose):
            # `forget --dry-run` opens the stores as a writer would (starting the embedded Valkey).
            environ = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ELASTICSEARCH_URL"}}
            result = subprocess.run(
                [sys.executable, "-m", "codelupe_dagster.cli", "forget", "--dry-run", "some/repo"],
                capture_output=True,
                text=True,
                env={**environ, "DATA_DIR": str(data_dir)},
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
            found = [path for path in data_dir.rglob("*")]
            assert any(path.name == "password" for path in found)
            exposed = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in found if p.stat().st_mode & 0o077}
            assert exposed == {}
    finally:
        stop_embedded_valkey(fresh)
        stop_embedded_valkey(loose)
