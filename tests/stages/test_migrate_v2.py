"""`codelupe migrate` against real servers: Redis state exactly as data_pipeline_v2.py left it (both
Valkey and redis-server), and an old-style code index on a real Elasticsearch node."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.search import CODE_SCHEMA, open_search_index
from codelupe_dagster.cli import _register, cli
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_priority import repo_priority
from codelupe_dagster.stages.file_processing import ProcessedFile, ProcessingConfig, process_file
from codelupe_dagster.stages.migrate_v2 import parse_repo_job, read_old_document
from tests.support.planted import GITHUB_TOKEN

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")

# Jobs as crawler_to_redis.py pushed them: JSON with GitHub metadata, or plain names.
POPULAR = {
    "full_name": "pallets/flask",
    "name": "flask",
    "url": "https://github.com/pallets/flask",
    "clone_url": "https://github.com/pallets/flask.git",
    "stars": 66000,
    "forks": 16000,
    "language": "Python",
    "license": "bsd-3-clause",
    "size": 9000,
    "pushed_at": "2026-11-01T10:00:00Z",
}
SMALL = {"full_name": "someone/tiny", "url": "https://github.com/someone/tiny", "stars": 3, "language": "Go"}
API_STYLE = {"name": "widget", "url": "https://api.github.com/repos/acme/widget", "stargazers_count": 40}
PLAIN = "octo/plain"
UNPARSEABLE = "{not json at all"
INVALID_NAME = {"full_name": "bad owner/x y", "stars": 1}
OLD_FILE_JOBS = [
    json.dumps({"repo": "pallets/flask", "file_path": f"/app/repos/flask/src/{i}.py"}) for i in range(3)
]
PROCESSED_REPOS = {"old/done-one", "old/done-two"}
PROCESSED_MD5 = {hashlib.md5(f"file {i}".encode()).hexdigest() for i in range(4)}


def seed_old_state(client: redis.Redis) -> list[bytes]:
    """What data_pipeline_v2.py left behind; returns the job list in its Redis order."""
    jobs = [POPULAR, SMALL, API_STYLE, PLAIN, UNPARSEABLE, INVALID_NAME, POPULAR]  # POPULAR twice
    for job in jobs:
        client.lpush("pipeline:repos", job if isinstance(job, str) else json.dumps(job))
    client.lpush("pipeline:files", *OLD_FILE_JOBS)
    client.sadd("pipeline:processed:repos", *PROCESSED_REPOS)
    client.sadd("pipeline:processed:files", *PROCESSED_MD5)
    return client.lrange("pipeline:repos", 0, -1)


def snapshot(client: redis.Redis) -> dict[bytes, tuple[bytes, Any]]:
    """Every key with its type and content, to prove that a run changed nothing."""
    state: dict[bytes, tuple[bytes, Any]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        value: Any = {
            b"list": lambda k: client.lrange(k, 0, -1),
            b"set": lambda k: sorted(client.smembers(k)),
            b"zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            b"hash": lambda k: sorted(client.hgetall(k).items()),
            b"string": client.get,
        }[kind](key)
        state[key] = (kind, value)
    return state


def run_cli(*args: str, env: dict[str, str], expect: int = 0) -> Result:
    _register()
    result = CliRunner().invoke(cli, ["migrate", *args], env=env, catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def run_json(*args: str, env: dict[str, str]) -> dict[str, Any]:
    return json.loads(run_cli(*args, "--json", env=env).stdout)


@pytest.fixture
def env(redis_url: str, data_dir: Path) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "DATA_DIR": str(data_dir), "ELASTICSEARCH_URL": ""}


# ---------------------------------------------------------------------------------------------- Redis


def test_migrates_old_queue_and_backs_up_everything(redis_client: redis.Redis, env: dict[str, str]) -> None:
    old_jobs = seed_old_state(redis_client)
    result = run_cli(env=env)
    assert "unparseable" in result.output and "MD5" in result.output

    # The queue: a ZSET scored with our priority, metadata to clone each repo.
    assert redis_client.type("pipeline:repos") == b"zset"
    queued = {
        name.decode(): score for name, score in redis_client.zrange("pipeline:repos", 0, -1, withscores=True)
    }
    assert set(queued) == {"pallets/flask", "someone/tiny", "acme/widget", "octo/plain"}
    now = datetime.now(UTC)
    for job in (POPULAR, SMALL, API_STYLE, PLAIN):
        record = parse_repo_job(job if isinstance(job, str) else json.dumps(job))
        assert record is not None
        assert queued[record.full_name] == pytest.approx(repo_priority(record, now), abs=1e-3)
    assert max(queued, key=queued.__getitem__) == "pallets/flask"
    meta = {
        k.decode(): RepoRecord.from_doc(json.loads(v))
        for k, v in redis_client.hgetall("pipeline:repos:meta").items()
    }
    assert set(meta) == set(queued)
    assert meta["pallets/flask"].clone_url == "https://github.com/pallets/flask.git"
    assert meta["pallets/flask"].stars == 66000 and meta["pallets/flask"].language == "Python"
    assert meta["acme/widget"].clone_url == "https://github.com/acme/widget.git"  # never the API URL
    assert meta["acme/widget"].stars == 40

    # Every old key survives, renamed, untouched.
    assert redis_client.lrange("pipeline:v2:repos", 0, -1) == old_jobs
    assert redis_client.lrange("pipeline:v2:files", 0, -1) == list(
        reversed([j.encode() for j in OLD_FILE_JOBS])
    )
    assert redis_client.smembers("pipeline:v2:processed:repos") == {n.encode() for n in PROCESSED_REPOS}
    assert redis_client.smembers("pipeline:v2:processed:files") == {m.encode() for m in PROCESSED_MD5}
    # Names without a HEAD sha and MD5s of raw content are not carried into the new ledgers.
    assert not redis_client.exists("pipeline:processed:repos", "pipeline:processed:files", "pipeline:files")

    # A second run changes nothing and says so.
    before = snapshot(redis_client)
    second = run_json(env=env)["redis"]
    assert snapshot(redis_client) == before
    assert second["changed"] is False and second["enqueued"] == 0 and second["repo_jobs_read"] == 0
    assert {k["key"]: k["action"] for k in second["keys"]} == {
        "pipeline:repos": "new_format",
        "pipeline:files": "absent",
        "pipeline:processed:repos": "absent",
        "pipeline:processed:files": "absent",
    }
    assert second["backups"]["file_jobs"] == {"pipeline:v2:files": 3}
    assert "nothing to migrate" in run_cli(env=env).output


def test_counts_every_job_it_does_not_enqueue(redis_client: redis.Redis, env: dict[str, str]) -> None:
    seed_old_state(redis_client)
    report = run_json(env=env)["redis"]
    assert report["repo_jobs_read"] == 7
    assert report["enqueued"] == 4
    assert report["skipped"] == {"already_queued": 1, "invalid_name": 1, "unparseable": 1}
    assert report["unparseable_samples"] == [repr(UNPARSEABLE.encode())]
    actions = {k["key"]: (k["action"], k["backup"], k["items"]) for k in report["keys"]}
    assert actions["pipeline:repos"] == ("backed_up", "pipeline:v2:repos", 7)
    assert actions["pipeline:files"] == ("backed_up", "pipeline:v2:files", 3)
    assert actions["pipeline:processed:files"] == ("backed_up", "pipeline:v2:processed:files", 4)


def test_dry_run_changes_nothing_and_predicts_the_run(redis_client: redis.Redis, env: dict[str, str]) -> None:
    seed_old_state(redis_client)
    before = snapshot(redis_client)
    dry = run_json("--dry-run", env=env)["redis"]
    assert snapshot(redis_client) == before
    assert dry["dry_run"] is True and {k["action"] for k in dry["keys"]} == {"would_back_up"}
    assert "Dry run: nothing was changed." in run_cli("--dry-run", env=env).output
    assert snapshot(redis_client) == before

    real = run_json(env=env)["redis"]
    assert (dry["repo_jobs_read"], dry["enqueued"], dry["skipped"]) == (
        real["repo_jobs_read"],
        real["enqueued"],
        real["skipped"],
    )


def test_new_format_keys_are_left_alone(redis_client: redis.Redis, env: dict[str, str]) -> None:
    redis_client.zadd("pipeline:repos", {"new/one": 5.0})
    redis_client.hset("pipeline:processed:repos", "new/one", "a" * 40)
    redis_client.hset("pipeline:processed:files", b"\x01" * 16, "b20260101T000000-abcdef")
    redis_client.set("pipeline:files", "something else")  # neither the old type nor ours
    before = snapshot(redis_client)
    report = run_json(env=env)["redis"]
    assert snapshot(redis_client) == before
    assert {k["key"]: k["action"] for k in report["keys"]} == {
        "pipeline:repos": "new_format",
        "pipeline:files": "unexpected_type",
        "pipeline:processed:repos": "new_format",
        "pipeline:processed:files": "new_format",
    }


def test_resumes_a_migration_interrupted_after_the_rename(
    redis_client: redis.Redis, env: dict[str, str]
) -> None:
    """A crash between RENAME and the last ZADD leaves an unconverted backup: the next run converts it."""
    seed_old_state(redis_client)
    redis_client.rename("pipeline:repos", "pipeline:v2:repos")
    redis_client.zadd("pipeline:repos", {"pallets/flask": 1.0})  # enqueued before the crash
    batch = {"batch": "b20260101T000000-abcdef", "since": 0, "priority": "2.0"}
    redis_client.hset("pipeline:repos:inflight", "someone/tiny", json.dumps(batch))  # popped since
    dry = run_json("--dry-run", env=env)["redis"]
    report = run_json(env=env)["redis"]
    assert report["converted_backups"] == ["pipeline:v2:repos"]
    # The half-done one and the duplicate job; the repo in flight is not queued twice.
    assert report["skipped"] == {"already_queued": 2, "in_flight": 1, "invalid_name": 1, "unparseable": 1}
    assert report["enqueued"] == 2
    assert (dry["enqueued"], dry["skipped"]) == (report["enqueued"], report["skipped"])
    assert set(redis_client.zrange("pipeline:repos", 0, -1)) == {
        b"pallets/flask",
        b"acme/widget",
        b"octo/plain",
    }
    assert redis_client.zscore("pipeline:repos", "pallets/flask") == 1.0  # not overwritten


def test_old_pipeline_writing_again_gets_a_second_backup(
    redis_client: redis.Redis, env: dict[str, str]
) -> None:
    """A backup is never overwritten: old jobs that reappear later go to `<backup>:1`."""
    redis_client.lpush("pipeline:repos", UNPARSEABLE)  # nothing enqueued, so the key becomes free again
    assert run_json(env=env)["redis"]["skipped"] == {"unparseable": 1}
    redis_client.lpush("pipeline:repos", PLAIN)
    report = run_json(env=env)["redis"]
    assert report["converted_backups"] == ["pipeline:v2:repos:1"]
    assert redis_client.lrange("pipeline:v2:repos", 0, -1) == [UNPARSEABLE.encode()]
    assert redis_client.zrange("pipeline:repos", 0, -1) == [PLAIN.encode()]


def test_backup_prefix_option(redis_client: redis.Redis, env: dict[str, str]) -> None:
    seed_old_state(redis_client)
    run_cli("--backup-prefix", "legacy:", env=env)
    assert redis_client.llen("legacy:repos") == 7 and redis_client.scard("legacy:processed:files") == 4
    assert not redis_client.exists("pipeline:v2:repos")
    result = run_cli("--backup-prefix", "pipeline:", env=env, expect=1)
    assert "must differ" in result.output


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (json.dumps(POPULAR), "pallets/flask"),
        ("octo/plain", "octo/plain"),
        ('"octo/quoted"', "octo/quoted"),
        ("https://github.com/a/b.git", "a/b"),
        ("git@github.com:a/b.git", "a/b"),
        (json.dumps({"owner": {"login": "o"}, "name": "n"}), "o/n"),
        ("42wim/matterbridge", "42wim/matterbridge"),
        ("42", None),
        ("[1, 2]", None),
        ("{broken", None),
        ("just-a-name", None),
        (b"\xff\xfe", None),
        (json.dumps({"stars": 3}), None),
    ],
)
def test_parse_repo_job(raw: str | bytes, expected: str | None) -> None:
    record = parse_repo_job(raw)
    assert (record.full_name if record else None) == expected


@pytest.mark.parametrize(
    ("source", "path", "repo", "stars"),
    [
        (
            {"file_path": "/app/repos/acme/alpha/src/x.py", "repo_name": "acme/alpha", "stars": 7},
            "src/x.py",
            "acme/alpha",
            7,
        ),
        ({"file_path": "/app/repos/alpha/src/x.py", "repo": "acme/alpha"}, "src/x.py", "acme/alpha", 0),
        ({"path": "lib/y.go", "repository": "o/r", "repo_stars": "12"}, "lib/y.go", "o/r", 12),
        ({"file_path": "/elsewhere/z.py"}, "elsewhere/z.py", None, 0),
        ({}, "old-id", None, 0),
    ],
)
def test_read_old_document(source: dict[str, Any], path: str, repo: str | None, stars: int) -> None:
    old = read_old_document("old-id", {**source, "content": "x = 1\n"})
    assert (old.path, old.repo, old.stars, old.content) == (path, repo, stars, "x = 1\n")


# ---------------------------------------------------------------------------------------------- index


def _stdlib(name: str) -> str:
    return (STDLIB / name).read_text()


@pytest.fixture
def old_index(elasticsearch_url: str) -> Iterator[tuple[Any, str, dict[str, dict[str, Any]]]]:
    """An index as data_pipeline_v2.py built it: dynamic mapping, no id/indexed_at, absolute file paths."""
    from elasticsearch import Elasticsearch

    es = Elasticsearch(elasticsearch_url)
    name = f"codelupe-code-old-{uuid.uuid4().hex[:10]}"
    with_key = _stdlib("bisect.py").replace(
        '"""Bisection algorithms."""',
        '"""Bisection algorithms."""\nAWS_ACCESS_KEY_ID = "AKIAQ3XR7ZK2M9TB4WLP"\n',
    )
    docs = {
        "1": {
            "content": _stdlib("colorsys.py"),
            "file_path": "/app/repos/acme/alpha/colorsys.py",
            "repo_name": "acme/alpha",
        },
        "2": {
            "content": with_key,
            "file_path": "/app/repos/acme/alpha/bisect.py",
            "repo_name": "acme/alpha",
            "stars": 12,
        },
        # The same file in a fork, with Windows line endings: the same normalized content.
        "3": {
            "content": _stdlib("colorsys.py").replace("\n", "\r\n"),
            "path": "lib/colorsys.py",
            "repo": "fork/alpha",
        },
        "4": {
            "content": "var a=function(b){return b*2};" * 400,
            "file_path": "/app/repos/acme/web/src/app.js",
            "repo_name": "acme/web",
        },
        "5": {"file_path": "/app/repos/acme/alpha/empty.py", "repo_name": "acme/alpha"},
    }
    for doc_id, doc in docs.items():
        es.index(index=name, id=doc_id, document={**doc, "language": "python", "quality_score": 0.8})
    es.indices.refresh(index=name)
    yield es, name, docs
    es.indices.delete(index=name, ignore_unavailable=True)
    es.close()


def test_migrates_old_code_index(
    old_index: tuple[Any, str, dict[str, dict[str, Any]]],
    elasticsearch_url: str,
    valkey_url: str,
    valkey_client: redis.Redis,
    data_dir: Path,
) -> None:
    es, old_name, _ = old_index
    new_name = f"codelupe-code-new-{uuid.uuid4().hex[:10]}"
    env = {
        "REDIS_URL": valkey_url,
        "DATA_DIR": str(data_dir),
        "ELASTICSEARCH_URL": elasticsearch_url,
        "ES_CODE_INDEX": new_name,
    }
    new = open_search_index(
        CODE_SCHEMA, data_dir=data_dir, elasticsearch_url=elasticsearch_url, index_name=new_name
    )
    try:
        # Dry run: counts, but no index, no claims.
        dry = run_json("--from-index", old_name, "--dry-run", env=env)["index"]
        assert (dry["read"], dry["kept"], dry["exact_duplicates"]) == (5, 2, 1)
        assert not es.indices.exists(index=new_name)
        assert RedisDedupLedger(valkey_client, RedisKeys()).exact_size() == 0

        result = run_cli("--from-index", old_name, env=env)
        assert "indexed: 2" in result.output and "dropped (minified): 1" in result.output
        report = run_json("--from-index", old_name, env=env)["index"]  # the re-run: idempotent
        assert report["read"] == report["total"] == 5
        assert report["dropped"] == {"minified": 1, "no_content": 1}
        assert report["exact_duplicates"] == 1 and report["near_duplicates"] == 0
        assert report["kept"] == report["indexed"] == 2 and report["error_count"] == 0

        assert new.count() == 2
        docs = {doc["path"]: doc for doc in new.iter_documents()}
        assert set(docs) == {"colorsys.py", "bisect.py"}  # relative to the repo, not the old disk
        bisect, colorsys = docs["bisect.py"], docs["colorsys.py"]
        assert "AKIAQ3XR7ZK2M9TB4WLP" not in bisect["content"]
        assert "<SECRET:aws_access_key_id>" in bisect["content"]
        assert bisect["secrets_redacted"] == 1 and bisect["repo_stars"] == 12
        assert colorsys["repo"] == "acme/alpha"  # the first copy read wins
        assert {d["batch"] for d in docs.values()} == {"migrate-v2"}
        assert all(
            d["language"] == "python" and d["indexed_at"] and d["quality_score"] >= 0.3 for d in docs.values()
        )
        assert not new.search("AKIAQ3XR7ZK2M9TB4WLP")

        # The exact ledger holds the migrated digests, claimed by migrate-v2: the new pipeline skips them.
        ledger = RedisDedupLedger(valkey_client, RedisKeys())
        claimants = ledger.claimants([bytes.fromhex(d["id"]) for d in docs.values()])
        assert set(claimants.values()) == {"migrate-v2"} and ledger.exact_size() == len(docs)
    finally:
        new.delete()


def test_from_index_refuses_the_new_index_name_and_missing_indexes(
    old_index: tuple[Any, str, dict[str, dict[str, Any]]],
    elasticsearch_url: str,
    valkey_url: str,
    data_dir: Path,
) -> None:
    _, old_name, _ = old_index
    env = {
        "REDIS_URL": valkey_url,
        "DATA_DIR": str(data_dir),
        "ELASTICSEARCH_URL": elasticsearch_url,
        "ES_CODE_INDEX": old_name,
    }
    assert "cannot share an index" in run_cli("--from-index", old_name, env=env, expect=2).output
    env["ES_CODE_INDEX"] = f"codelupe-code-new-{uuid.uuid4().hex[:10]}"
    assert "does not exist" in run_cli("--from-index", "no-such-index", env=env, expect=2).output
    env["ELASTICSEARCH_URL"] = ""
    assert "set ELASTICSEARCH_URL" in run_cli("--from-index", old_name, env=env, expect=2).output


def test_content_the_new_pipeline_already_indexed_is_a_duplicate(
    old_index: tuple[Any, str, dict[str, dict[str, Any]]],
    elasticsearch_url: str,
    valkey_url: str,
    valkey_client: redis.Redis,
    data_dir: Path,
) -> None:
    """A digest claimed by a batch of the new pipeline wins over the migrated copy, and keeps its claimant."""
    _, old_name, docs = old_index
    claimed = process_file("colorsys.py", docs["1"]["content"].encode(), ProcessingConfig())
    assert isinstance(claimed, ProcessedFile)
    RedisDedupLedger(valkey_client, RedisKeys()).claim_exact([("b20260101T000000-abcdef", [claimed.digest])])
    new_name = f"codelupe-code-new-{uuid.uuid4().hex[:10]}"
    env = {
        "REDIS_URL": valkey_url,
        "DATA_DIR": str(data_dir),
        "ELASTICSEARCH_URL": elasticsearch_url,
        "ES_CODE_INDEX": new_name,
    }
    new = open_search_index(
        CODE_SCHEMA, data_dir=data_dir, elasticsearch_url=elasticsearch_url, index_name=new_name
    )
    try:
        dry = run_json("--from-index", old_name, "--dry-run", env=env)["index"]
        report = run_json("--from-index", old_name, env=env)["index"]
        assert dry["exact_duplicates"] == report["exact_duplicates"] == 2  # the fork's copy and ours
        assert report["indexed"] == 1 and new.count() == 1
        assert [d["path"] for d in new.iter_documents()] == ["bisect.py"]
        ledger = RedisDedupLedger(valkey_client, RedisKeys())
        assert ledger.claimants([claimed.digest])[claimed.digest] == "b20260101T000000-abcdef"
    finally:
        new.delete()


# ------------------------------------------------------------------------------------------ redaction

ADDRESS = "alice.smith@corp-mail.com"
PUBLIC_IP = "93.184.216.34"
LEAKY = {
    "full_name": "acme/leaky",
    "stars": 9,
    "description": f"CI token {GITHUB_TOKEN}, write to {ADDRESS}",
    "topics": ["python", f"mirror at {PUBLIC_IP}"],
}
LEAKY_UNPARSEABLE = '{"full_name": "broken' + f" {GITHUB_TOKEN} {ADDRESS}"


def test_repo_jobs_reach_the_queue_redacted_with_the_configured_kinds(
    redis_client: redis.Redis, env: dict[str, str]
) -> None:
    redis_client.lpush("pipeline:repos", json.dumps(LEAKY), LEAKY_UNPARSEABLE)
    dry = run_json("--dry-run", env={**env, "PII_REDACT": "ip"})["redis"]
    report = run_json(env={**env, "PII_REDACT": "ip"})["redis"]

    meta = RepoRecord.from_doc(json.loads(redis_client.hget("pipeline:repos:meta", "acme/leaky")))
    assert meta.description == f"CI token <SECRET:github_pat>, write to {ADDRESS}"  # email not configured
    assert meta.topics == ("python", "mirror at <IP_ADDRESS>")
    # The unparseable job is quoted redacted (whole, then cut), and counted with the rest.
    assert GITHUB_TOKEN not in str(report) and "<SECRET:github_pat>" in report["unparseable_samples"][0]
    assert report["records_redacted"] == 1
    assert report["secrets_redacted"] == {"github_pat": 2}
    assert report["pii_redacted"] == {"ip": 1}
    assert {k: dry[k] for k in ("secrets_redacted", "pii_redacted", "records_redacted")} == {
        k: report[k] for k in ("secrets_redacted", "pii_redacted", "records_redacted")
    }


def test_the_migrate_command_prints_what_it_redacted_and_refuses_unknown_kinds(
    redis_client: redis.Redis, env: dict[str, str]
) -> None:
    redis_client.lpush("pipeline:repos", json.dumps(LEAKY))
    output = run_cli("--dry-run", env=env).output  # PII_REDACT's default: every kind
    assert "repo jobs with a description or topic redacted: 1" in output
    assert "secrets redacted (github_pat): 1" in output
    assert "personal data redacted (email): 1" in output and "personal data redacted (ip): 1" in output
    assert GITHUB_TOKEN not in output and ADDRESS not in output

    output = run_cli(env={**env, "PII_REDACT": "phone"}, expect=2).output
    assert "PII_REDACT: unknown PII kind(s) ['phone']" in output
    assert redis_client.type("pipeline:repos") == b"list"  # nothing was touched


def test_old_index_documents_are_redacted_with_the_configured_kinds(
    elasticsearch_url: str, valkey_url: str, data_dir: Path
) -> None:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(elasticsearch_url)
    old_name, new_name = (f"codelupe-code-{age}-{uuid.uuid4().hex[:10]}" for age in ("old", "new"))
    content = _stdlib("colorsys.py") + f'\nMAINTAINER = "{ADDRESS}"\nMIRROR = "{PUBLIC_IP}"\n'
    es.index(
        index=old_name,
        id="1",
        document={
            "content": content,
            "file_path": f"/app/repos/acme/alpha/{ADDRESS}/colorsys.py",
            "repo": "acme/alpha",
        },
        refresh=True,
    )
    env = {
        "REDIS_URL": valkey_url,
        "DATA_DIR": str(data_dir),
        "ELASTICSEARCH_URL": elasticsearch_url,
        "ES_CODE_INDEX": new_name,
        "PII_REDACT": "email",
    }
    new = open_search_index(
        CODE_SCHEMA, data_dir=data_dir, elasticsearch_url=elasticsearch_url, index_name=new_name
    )
    try:
        result = run_cli("--from-index", old_name, env=env)
        assert "personal data redacted (email): 2" in result.output  # content and path
        assert "(ip)" not in result.output
        [doc] = new.iter_documents()
        assert doc["path"] == "<EMAIL>/colorsys.py"
        assert ADDRESS not in doc["content"] and 'MAINTAINER = "<EMAIL>"' in doc["content"]
        assert PUBLIC_IP in doc["content"]  # ip is not configured here
        report = run_json("--from-index", old_name, "--dry-run", env=env)["index"]
        assert report["pii_redacted"] == {"email": 2}
    finally:
        new.delete()
        es.indices.delete(index=old_name, ignore_unavailable=True)
        es.close()
