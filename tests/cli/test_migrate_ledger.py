"""`codelupe migrate-ledger`: a ledger written in the old layout is refused by the pipeline with the
command to run, and the command moves it to layout 2 with every claim kept (real Redis/Valkey)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from codelupe_dagster.backends.dedup_ledger import LegacyLayoutError, RedisDedupLedger
from codelupe_dagster.backends.redis_dedup import LedgerShape
from codelupe_dagster.cli import _register, cli
from codelupe_dagster.core.keys import RedisKeys
from tests.support.dedup_layout_v1 import RedisDedupLedgerV1


def test_old_ledger_is_refused_then_migrated_by_the_command(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = RedisKeys()  # the product's default prefix, as the command reads REDIS_KEY_PREFIX
    digests = [os.urandom(16) for _ in range(50)]
    RedisDedupLedgerV1(client, keys).claim_exact([("acme/a", digests[:30]), ("acme/b", digests[30:])])
    with pytest.raises(LegacyLayoutError, match="codelupe migrate-ledger"):
        RedisDedupLedger(client, keys)

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DEDUP_EXPECTED_FILES", raising=False)
    _register()
    result = CliRunner().invoke(cli, ["migrate-ledger", "--expected-files", "5000"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "done:" in result.output

    ledger = RedisDedupLedger(client, keys)
    assert ledger.shape == LedgerShape.for_files(5000)
    claimants = ledger.claimants(digests)
    assert [claimants[d] for d in digests] == ["acme/a"] * 30 + ["acme/b"] * 20
    again = CliRunner().invoke(cli, ["migrate-ledger"], catch_exceptions=False)
    assert again.exit_code == 0 and ledger.claimants(digests) == claimants  # a re-run changes nothing


def test_unreachable_redis_is_one_line_and_exit_69(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    _register()
    result = CliRunner().invoke(cli, ["migrate-ledger"])
    assert result.exit_code == 69
    assert result.stderr.startswith("state: ") and len(result.stderr.strip().splitlines()) == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: Redis at redis://127.0.0.1:")
