"""`stages.index_spool` without Dagster: a real spool, the local SQLite code index and a real ledger on
the embedded Valkey. Indexing keeps the threshold, keeps `indexed_at` on a re-run, swaps generations only
for repositories scored completely, marks repositories processed last, refuses an incomplete spool; the
checks pass on a clean batch and fail on the faults they exist for."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import NearCandidate, RedisDedupLedger
from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex, open_search_index
from codelupe_dagster.backends.spool import ShardWriter, SpoolIncomplete
from codelupe_dagster.core.documents import CodeDocument
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.stages.index_spool import (
    CHECK_NAMES,
    NO_DOCUMENT_BELOW_THRESHOLD,
    NO_DUPLICATES_IN_BATCH,
    NO_SECRETS_IN_SAMPLE,
    IndexedBatch,
    batch_checks,
    count_check,
    duplicates_check,
    index_batch,
    secrets_check,
    threshold_check,
)
from codelupe_dagster.stages.score_batch import PII_KINDS_INFO

THRESHOLD = 0.3
GITHUB_TOKEN = "ghp_" + "Zq7XkP2mW9vR4tY6uB8nC1dF3gH5jL2anSTR"


def digest(n: int) -> bytes:
    return n.to_bytes(16, "big")


def document(n: int, repo: str, batch: str, quality: float = 0.8, content: str | None = None) -> dict:
    return CodeDocument(
        id=digest(n).hex(),
        content=content or f"def f{n}():\n    return {n}\n",
        path=f"src/f{n}.py",
        filename=f"f{n}.py",
        extension="py",
        language="python",
        repo=repo,
        repo_stars=3,
        license="mit",
        commit="c" * 40,
        quality_score=quality,
        quality_signals={"lines": 2},
        size_bytes=30,
        lines=2,
        batch=batch,
    ).to_record()


def spool(root: Path, batch: str, docs: list[dict], info: dict, complete: bool = True) -> Path:
    directory = root / "spool" / batch
    writer = ShardWriter(directory)
    writer.write_many(docs)
    if complete:
        writer.commit(info)
    else:
        writer.abort()
    return directory


def score(ledger: RedisDedupLedger, batch: str, claims: Mapping[str, list[int]]) -> None:
    """The ledger state scoring leaves: each repository's generation for the batch, its digests claimed."""
    ledger.begin_generation(batch, list(claims))
    ledger.claim_exact([(repo, [digest(n) for n in ns]) for repo, ns in claims.items()])
    candidates = [NearCandidate(repo, digest(n), []) for repo, ns in claims.items() for n in ns]
    ledger.claim_near(candidates, batch_id=batch, current={c.digest for c in candidates})


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SearchIndex]:
    code = open_search_index(CODE_SCHEMA, data_dir=tmp_path, index_name="test-code")
    code.ensure()
    yield code
    code.delete()


@pytest.fixture
def ledger(valkey_client: redis.Redis) -> RedisDedupLedger:
    return RedisDedupLedger(valkey_client, RedisKeys("stage:"))


class Marks:
    """Records `mark_processed` calls, and what the index held when each came."""

    def __init__(self, index: SearchIndex):
        self.index = index
        self.calls: list[dict[str, str]] = []
        self.indexed_then: list[int] = []

    def __call__(self, commits: Mapping[str, str]) -> None:
        self.calls.append(dict(commits))
        self.indexed_then.append(self.index.count())


def run(
    index: SearchIndex, ledger: RedisDedupLedger, directory: Path, batch: str, marks: Marks
) -> IndexedBatch:
    return index_batch(
        index, ledger, directory, batch, threshold=THRESHOLD, bulk_size=2, mark_processed=marks
    )


def test_a_batch_is_indexed_swapped_and_marked_processed_last(
    tmp_path: Path, index: SearchIndex, ledger: RedisDedupLedger
) -> None:
    score(ledger, "b1", {"acme/a": [1, 2, 3], "acme/b": [4, 5]})
    docs = [
        document(1, "acme/a", "b1"),
        document(2, "acme/a", "b1", quality=0.1),  # below the threshold: spooled, never indexed
        document(3, "acme/a", "b1"),
        document(4, "acme/b", "b1"),
        document(5, "acme/b", "b1"),
    ]
    commits = {"acme/a": "a" * 40, "acme/b": "b" * 40}
    directory = spool(tmp_path, "b1", docs, {"commits": commits, "failed_repos": {"acme/b": "broken"}})
    marks = Marks(index)

    result = run(index, ledger, directory, "b1", marks)

    assert result.indexed == 4 and result.spooled == 5 and result.written.low_quality == 1
    assert set(result.written.ids) == {digest(n).hex() for n in (1, 3, 4, 5)}
    assert marks.calls == [commits] and marks.indexed_then == [4]  # marked once, after every document
    assert [swap.repo for swap in result.swaps] == ["acme/a"]  # acme/b failed: its generation waits
    assert ledger.stale_claims("acme/a", "b1") is None  # swapped
    assert ledger.stale_claims("acme/b", "b1") == []  # not swapped
    outcomes = batch_checks(index, ledger, result)
    assert [o.name for o in outcomes] == list(CHECK_NAMES)
    assert all(o.passed for o in outcomes), outcomes


def test_a_rerun_keeps_indexed_at(tmp_path: Path, index: SearchIndex, ledger: RedisDedupLedger) -> None:
    score(ledger, "b1", {"acme/a": [1, 2]})
    directory = spool(tmp_path, "b1", [document(1, "acme/a", "b1"), document(2, "acme/a", "b1")], {})
    marks = Marks(index)
    run(index, ledger, directory, "b1", marks)
    first = {d["id"]: d["indexed_at"] for d in index.iter_documents(fields=["id", "indexed_at"])}
    run(index, ledger, directory, "b1", marks)
    again = {d["id"]: d["indexed_at"] for d in index.iter_documents(fields=["id", "indexed_at"])}
    assert first == again and len(first) == 2 and all(first.values())
    assert marks.calls == []  # a spool without commits marks nothing


def test_a_new_commit_removes_what_it_no_longer_holds(
    tmp_path: Path, index: SearchIndex, ledger: RedisDedupLedger
) -> None:
    score(ledger, "b1", {"acme/a": [1, 2, 3]})
    info = {"commits": {"acme/a": "a" * 40}}
    run(
        index,
        ledger,
        spool(tmp_path, "b1", [document(n, "acme/a", "b1") for n in (1, 2, 3)], info),
        "b1",
        Marks(index),
    )
    score(ledger, "b2", {"acme/a": [1, 3]})  # file 2 was deleted upstream
    result = run(
        index,
        ledger,
        spool(tmp_path, "b2", [document(n, "acme/a", "b2") for n in (1, 3)], info),
        "b2",
        Marks(index),
    )
    assert result.stale_removed == 1 and result.claims_released == 1
    assert {d["id"] for d in index.iter_documents(fields=["id"])} == {digest(1).hex(), digest(3).hex()}
    assert ledger.claimants([digest(2)]) == {digest(2): None}  # free for a copy elsewhere


def test_an_incomplete_spool_is_refused_and_nothing_is_marked(
    tmp_path: Path, index: SearchIndex, ledger: RedisDedupLedger
) -> None:
    directory = spool(tmp_path, "b1", [document(1, "acme/a", "b1")], {}, complete=False)
    marks = Marks(index)
    with pytest.raises(SpoolIncomplete):
        run(index, ledger, directory, "b1", marks)
    assert marks.calls == [] and index.count() == 0


def test_checks_fail_on_the_faults_they_guard(index: SearchIndex, ledger: RedisDedupLedger) -> None:
    ledger.claim_exact([("acme/a", [digest(1)]), ("acme/other", [digest(2)])])
    docs = [
        document(1, "acme/a", "b1"),
        document(2, "acme/a", "b1"),  # another repository holds this content: a duplicate got through
        document(3, "acme/a", "b1", quality=0.1, content=f'TOKEN = "{GITHUB_TOKEN}"\n'),
    ]
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    ids = [d["id"] for d in docs]

    duplicates = duplicates_check(ledger, ids, ["acme/a"] * 3)
    assert duplicates.name == NO_DUPLICATES_IN_BATCH and not duplicates.passed
    assert duplicates.metadata == {"repeated_ids": 0, "claimed_elsewhere": 2}  # 2: claimed, 3: unclaimed
    assert not duplicates_check(ledger, [ids[0], ids[0]], ["acme/a", "acme/a"]).passed  # an id twice
    assert duplicates_check(ledger, [ids[0]], ["acme/a"]).passed

    below = threshold_check(index, ["acme/a"], THRESHOLD)
    assert below.name == NO_DOCUMENT_BELOW_THRESHOLD and not below.passed
    assert below.metadata["below_threshold"] == 1
    assert threshold_check(index, [], THRESHOLD).passed

    secrets = secrets_check(index, ids)
    assert secrets.name == NO_SECRETS_IN_SAMPLE and not secrets.passed
    assert secrets.metadata["documents"] == [ids[2]]

    assert count_check(index, ids, "b1").passed
    missing = count_check(index, [*ids, digest(9).hex()], "b1")
    assert not missing.passed and missing.metadata == {"kept": 4, "indexed_for_batch": 3}
    assert not count_check(index, ids, "b-other").passed  # the documents are another batch's


def test_the_count_check_counts_the_batch_documents_on_both_backends(
    search_backend: Callable[..., SearchIndex],
) -> None:
    """More ids than one counted chunk: every one present as this batch's document passes; one written by
    another batch, or one missing, is not counted."""
    index = search_backend(CODE_SCHEMA)
    docs = [document(n, "acme/a", "b1") for n in range(1, 1201)]
    docs[700] = document(701, "acme/a", "b0")  # e.g. a batch that was never re-indexed
    assert index.bulk_upsert(docs).errors == []
    index.refresh()
    ids = [d["id"] for d in docs]
    assert count_check(index, ids[:700], "b1").passed
    failed = count_check(index, [*ids, digest(5000).hex()], "b1")
    assert not failed.passed and failed.metadata == {"kept": 1201, "indexed_for_batch": 1199}
    assert count_check(index, [ids[700]], "b0").passed and count_check(index, [], "b1").passed


# ------------------------------------------------------------------ PII in the sample check

ADDRESS = "alice.smith@corp-mail.com"
PUBLIC_IP = "93.184.216.34"


def test_the_sample_check_finds_personal_data_in_content_and_path(
    search_backend: Callable[..., SearchIndex],
) -> None:
    """An address the scorer did not redact (a corpus indexed before PII redaction, a detector bug) fails
    the check on either backend; placeholders never count, so a redacted document passes."""
    index = search_backend(CODE_SCHEMA)
    clean = document(1, "acme/a", "b1", content='OWNER = "<EMAIL>"  # <SECRET:github_pat> <IP_ADDRESS>\n')
    in_content = document(2, "acme/a", "b1", content=f'OWNER = "{ADDRESS}"\nHOST = "{PUBLIC_IP}"\n')
    in_path = {**document(3, "acme/a", "b1"), "path": f"people/{ADDRESS}/f3.py"}
    index.bulk_upsert([clean, in_content, in_path]).raise_for_errors()
    index.refresh()
    ids = [clean["id"], in_content["id"], in_path["id"]]

    assert secrets_check(index, [clean["id"]]).passed
    outcome = secrets_check(index, ids)
    assert outcome.name == NO_SECRETS_IN_SAMPLE and not outcome.passed
    assert outcome.metadata["pii"] == {"email": 2, "ip": 1} and outcome.metadata["secrets"] == {}
    assert sorted(outcome.metadata["documents"]) == sorted(ids[1:])
    # Only the batch's kinds count: with PII redaction off, addresses are the corpus as configured.
    assert secrets_check(index, ids, frozenset()).passed
    only_ip = secrets_check(index, ids, frozenset({PiiKind.IP_ADDRESS}))
    assert not only_ip.passed and only_ip.metadata["documents"] == [ids[1]]


@pytest.mark.parametrize(
    ("info", "passes"),
    [({}, False), ({PII_KINDS_INFO: ["email", "ip"]}, False), ({PII_KINDS_INFO: []}, True)],
    ids=["no-kinds-recorded-means-defaults", "kinds-recorded", "pii-redaction-off"],
)
def test_the_batch_check_uses_the_kinds_its_spool_was_redacted_with(
    tmp_path: Path, index: SearchIndex, ledger: RedisDedupLedger, info: dict, passes: bool
) -> None:
    score(ledger, "b1", {"acme/a": [1]})
    docs = [document(1, "acme/a", "b1", content=f'OWNER = "{ADDRESS}"\n')]
    directory = spool(tmp_path, "b1", docs, {"commits": {"acme/a": "a" * 40}, **info})
    result = run(index, ledger, directory, "b1", Marks(index))
    (sample,) = [o for o in batch_checks(index, ledger, result) if o.name == NO_SECRETS_IN_SAMPLE]
    assert sample.passed is passes, sample
