"""What leaves the scorer besides documents is redacted too: a token or an e-mail address in a file NAME
never reaches a log line, the batch's counts (`failed_repos`, Dagster metadata, the queue's failure
reasons) or the spool's `_SUCCESS` info, whether the file is kept, dropped or kills its worker."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pygit2
import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.spool import SUCCESS_MARKER, iter_documents, read_manifest
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.stages.file_processing import TEST_CRASH_ENV, FileFailure, ProcessingConfig
from codelupe_dagster.stages.handoff import ClonedBatch, ClonedRepo, cloned_manifest_path, spool_path
from codelupe_dagster.stages.score_batch import PII_KINDS_INFO, BatchCounts, BatchScorer
from tests.support.corpus import STDLIB, make_repo, stdlib_files, write_cloned_manifest
from tests.support.planted import GITHUB_TOKEN

KEYS = RedisKeys("pipeline:")
ADDRESS = "alice.smith@corp-mail.com"
# A directory named for a person and a file named for a token, as a pasted credentials dump would be.
LEAKY_DIR = f"people/{ADDRESS}/{GITHUB_TOKEN}"
RAW = (GITHUB_TOKEN, ADDRESS)


def _loose_object(repo: Path, oid: str) -> Path:
    return repo / "objects" / oid[:2] / oid[2:]


def leaky_repo(path: Path, file_name: str) -> str:
    """json's modules plus one at LEAKY_DIR/file_name whose blob is then deleted from the object database
    (a clone cut short): the file is dropped as `missing_object` and its repository fails by the path."""
    files = stdlib_files("json", prefix="pkg/")
    files[f"{LEAKY_DIR}/{file_name}"] = (STDLIB / "colorsys.py").read_bytes() + b"\n# leaky\n"
    head = make_repo(path, files)
    repo = pygit2.Repository(str(path))
    blob = repo.revparse_single(f"HEAD:{LEAKY_DIR}/{file_name}")
    _loose_object(path, str(blob.id)).unlink()
    return head


def score(data_dir: Path, batch_id: str, client: redis.Redis, config: ProcessingConfig, workers: int = 0):
    scorer = BatchScorer(RedisDedupLedger(client, KEYS), config, workers=workers)
    batch = ClonedBatch.load(cloned_manifest_path(data_dir, batch_id))
    counts = scorer.run(batch, spool_path(data_dir, batch_id))
    docs = [d for chunk in iter_documents(spool_path(data_dir, batch_id)) for d in chunk]
    return counts, docs


def assert_no_raw(*texts: str) -> None:
    for text in texts:
        for raw in RAW:
            assert raw not in text, f"{raw!r} leaked in {text[:300]!r}"


def test_a_missing_object_under_a_leaky_name_fails_its_repo_with_a_redacted_reason(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head = leaky_repo(tmp_path / "leaky.git", "creds.py")
    write_cloned_manifest(data_dir, "b-leaky", [("acme/leaky", tmp_path / "leaky.git", head)])
    with caplog.at_level(logging.DEBUG):
        counts, docs = score(data_dir, "b-leaky", valkey_client, ProcessingConfig())

    reason = counts.failed_repos["acme/leaky"]
    assert "people/<EMAIL>/<SECRET:github_pat>/creds.py" in reason  # still says which file
    assert counts.dropped["missing_object"] == 1
    success = (spool_path(data_dir, "b-leaky") / SUCCESS_MARKER).read_text()
    assert_no_raw(reason, caplog.text, success, json.dumps(counts.to_dict()))
    assert "missing the object of people/<EMAIL>/<SECRET:github_pat>/creds.py" in caplog.text
    assert docs  # the repository's other files were still scored


def test_the_configured_pii_kinds_decide_what_a_log_line_keeps(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PII_REDACT=none keeps addresses in the batch's messages, as in its documents; secrets always go.
    The kinds are recorded in the spool's `_SUCCESS` info, for the index's sample check."""
    head = leaky_repo(tmp_path / "leaky.git", "creds.py")
    write_cloned_manifest(data_dir, "b-none", [("acme/leaky", tmp_path / "leaky.git", head)])
    with caplog.at_level(logging.WARNING):
        counts, _ = score(data_dir, "b-none", valkey_client, ProcessingConfig(pii_kinds=frozenset()))
    assert f"people/{ADDRESS}/<SECRET:github_pat>/creds.py" in counts.failed_repos["acme/leaky"]
    assert GITHUB_TOKEN not in caplog.text
    assert read_manifest(spool_path(data_dir, "b-none")).info[PII_KINDS_INFO] == []


def test_a_file_that_kills_its_worker_is_logged_under_its_redacted_name(
    data_dir: Path,
    valkey_client: redis.Redis,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = stdlib_files("json", prefix="pkg/")
    files[f"{LEAKY_DIR}/crashme.py"] = (STDLIB / "colorsys.py").read_bytes()
    head = make_repo(tmp_path / "crash.git", files)
    write_cloned_manifest(data_dir, "b-crash", [("acme/crash", tmp_path / "crash.git", head)])
    monkeypatch.setenv(TEST_CRASH_ENV, "crashme.py")  # its worker dies every time it reads it
    with caplog.at_level(logging.WARNING):
        counts, _ = score(data_dir, "b-crash", valkey_client, ProcessingConfig(), workers=2)

    assert counts.dropped["worker_crash"] == 1
    assert "people/<EMAIL>/<SECRET:github_pat>/crashme.py" in caplog.text
    assert_no_raw(caplog.text)


def test_a_processing_error_is_logged_with_path_and_error_redacted(caplog: pytest.LogCaptureFixture) -> None:
    scorer = BatchScorer(ledger=None, config=ProcessingConfig(), workers=0)  # type: ignore[arg-type]
    counts = BatchCounts()
    failure = FileFailure(f"{LEAKY_DIR}/a.py", f"OSError: cannot read {LEAKY_DIR}/a.py for {ADDRESS}")
    repo = ClonedRepo("acme/leaky", "/nonexistent", None, {})
    with caplog.at_level(logging.WARNING):
        scorer._count_skip(failure, repo, counts)
    assert counts.dropped["processing_error"] == 1
    assert caplog.text.count("<SECRET:github_pat>") == 2 and caplog.text.count("<EMAIL>") == 3
    assert_no_raw(caplog.text)


def test_a_kept_file_counts_secrets_and_pii_in_its_document(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path
) -> None:
    """CodeDocument.secrets_redacted is documented as "secrets and PII redacted": both, path included."""
    body = (STDLIB / "bisect.py").read_text()
    body += f'\nMAINTAINER = "carol@corp-mail.com"\nTOKEN = "{GITHUB_TOKEN}"\n'
    head = make_repo(tmp_path / "kept.git", {"contrib/bob.jones@corp-mail.com/util.py": body.encode()})
    write_cloned_manifest(data_dir, "b-kept", [("acme/kept", tmp_path / "kept.git", head)])
    counts, docs = score(data_dir, "b-kept", valkey_client, ProcessingConfig())

    (doc,) = docs
    assert doc["path"] == "contrib/<EMAIL>/util.py" and doc["filename"] == "util.py"
    assert doc["secrets_redacted"] == 3  # the token, the address in the file and the one in its path
    assert dict(counts.secrets_redacted) == {"github_pat": 1}
    assert dict(counts.pii_redacted) == {PiiKind.EMAIL.value: 2}
