"""Forget patterns and rules (pure), and the registry, queue and carrier ledger on both Redis flavours."""

from __future__ import annotations

import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.forget_registry import ForgetRules, RedisForgetRegistry, parse_pattern
from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord

KEYS = RedisKeys()


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("Acme/App", "prefix", "acme/app"),
        ("acme", "prefix", "acme"),
        ("acme/*", "prefix", "acme"),
        ("/group/sub/project/", "prefix", "group/sub/project"),
        ("acme/app/secrets/*.pem", "glob", "acme/app/secrets/*.pem"),
        ("*/config/credentials.json", "glob", "*/config/credentials.json"),
    ],
)
def test_patterns_parse(text: str, kind: str, key: str) -> None:
    pattern = parse_pattern(text)
    assert (pattern.kind, pattern.key) == (kind, key)


@pytest.mark.parametrize("text", ["", "  ", "*", "/", "*.pem"])
def test_patterns_that_name_nothing_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_pattern(text)


def test_rules_match_names_under_a_prefix_case_insensitively_and_globs_by_path() -> None:
    rules = ForgetRules(frozenset({"acme", "other/app"}), ("*/secrets/*.pem",))
    assert rules.repo_forgotten("ACME/anything") and rules.repo_forgotten("acme/sub/deep")
    assert rules.repo_forgotten("Other/App") and not rules.repo_forgotten("other/application")
    assert not rules.repo_forgotten("acmecorp/app")
    assert rules.file_forgotten("x/y", "deploy/secrets/key.pem") and not rules.file_forgotten(
        "x/y", "key.pem"
    )
    glob = parse_pattern("acme/app/src/*.py")
    assert glob.may_hold_files_of("Acme/App") and not glob.may_hold_files_of("acme/application")
    assert glob.matches_file("acme/app", "src/deep/x.py") and not glob.matches_file("acme/app", "x.py")


def test_register_refuses_at_once_and_undo_keeps_a_rule_another_entry_needs(
    redis_client: redis.Redis,
) -> None:
    registry = RedisForgetRegistry(redis_client, KEYS)
    queue = RedisRepoQueue(redis_client, KEYS)
    assert registry.register(parse_pattern("acme"), reason="asked", source="cli", now=1.0)
    assert not registry.register(parse_pattern("acme"), reason="again", source="opt-out")
    assert registry.entry("acme") == {
        "at": 1.0, "kind": "prefix", "pattern": "acme", "reason": "asked", "source": "cli", "state": "started"
    }  # fmt: skip
    report = queue.enqueue(
        [(RepoRecord("Acme/x", clone_url="u"), 1.0), (RepoRecord("b/y", clone_url="u"), 1.0)]
    )
    assert report.enqueued == ["b/y"] and report.skipped == {"forgotten": 1}

    registry.register(parse_pattern("acme/*"), reason="", source="cli")
    assert registry.undo(parse_pattern("acme/*"))
    assert registry.rules().repo_forgotten("acme/x")  # `acme` still holds it
    assert registry.undo(parse_pattern("acme")) and not registry.rules()
    assert queue.enqueue([(RepoRecord("acme/x", clone_url="u"), 1.0)]).enqueued == ["acme/x"]


def test_forget_repos_clears_every_queue_store_and_requeue_full_forces_a_re_read(
    redis_client: redis.Redis,
) -> None:
    queue = RedisRepoQueue(redis_client, KEYS)
    records = [(RepoRecord(name, clone_url="u", head="h1"), p) for name, p in (("a/x", 3.0), ("b/y", 2.0))]
    queue.enqueue(records)
    batch = queue.pop_batch(5)
    assert batch is not None and set(batch.repos) == {"a/x", "b/y"}
    queue.settle(batch.batch_id, succeeded=True, reason="")
    queue.mark_processed({"a/x": "h1", "b/y": "h1"})
    assert queue.enqueue(records).skipped == {"unchanged": 2}

    removed = queue.forget_repos(["a/x"])
    assert removed["metadata"] == 1 and removed["processed"] == 1 and removed["batch_records"] == 1
    assert queue.known_repos() == {"b/y"} and queue.batch_record(batch.batch_id)["repos"] == ["b/y"]

    assert queue.requeue_full({"b/y": 2.0, "a/x": 3.0, "never/seen": 1.0}) == ["b/y"]
    assert queue.top(5) == [("b/y", 2.0)]
    assert redis_client.hget(KEYS.processed_repos, "b/y") is None


def test_carriers_are_bounded_and_forgotten_carriers_leave(redis_client: redis.Redis) -> None:
    ledger = RedisDedupLedger(redis_client, KEYS)
    digest = b"d" * 16
    ledger.record_carriers([(digest, f"o/r{i}") for i in range(6)] + [(digest, "o/r0")])
    assert ledger.carriers([digest, b"e" * 16]) == {digest: ["o/r0", "o/r1", "o/r2", "o/r3"]}
    assert ledger.forget_carrier(lambda name: name in {"o/r0", "o/r2"}) == 1
    assert ledger.carriers([digest]) == {digest: ["o/r1", "o/r3"]}
    assert ledger.forget_carrier(lambda name: True) == 1 and ledger.carriers([digest]) == {}
