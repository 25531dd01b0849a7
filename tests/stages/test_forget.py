"""`codelupe forget` end to end: the issue's A/B case through the real batch stages, on both search backends.

A holds stdlib modules; B carries an exact copy of one of them and a near copy of another, both dropped as
duplicates the first time. Forgetting A must leave nothing of A in the index, queue, ledger, spools and
handoffs, and B's re-queued batch (a full re-read) must index B's copies.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from codelupe_dagster.assets.index import es_code_index
from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.dropped_samples import DroppedSample, DroppedSamples
from codelupe_dagster.backends.forget_registry import RedisForgetRegistry, parse_pattern
from codelupe_dagster.backends.redis_dedup import HANDLE_BYTES
from codelupe_dagster.backends.redis_repo_queue import RedisRepoQueue
from codelupe_dagster.backends.repo_queue import RetryPolicy
from codelupe_dagster.backends.search import Filters
from codelupe_dagster.backends.spool import SUCCESS_MARKER, iter_documents
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.minhash import DEFAULT_LSH
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.stages import forget as forget_stage
from codelupe_dagster.stages.dataset_export import export_dataset, iter_export
from codelupe_dagster.stages.forget import ForgetStores, apply_opt_out_file, forget
from codelupe_dagster.stages.handoff import load_cloned_batch
from tests.stages.test_repo_updates import Stack, digest, stacks, stdlib_modules  # noqa: F401
from tests.support.corpus import make_repo, near_copy, write_cloned_manifest

KEYS = RedisKeys()
A, B = "acme/app", "other/fork"


def queue_of(stack: Stack) -> RedisRepoQueue:
    return RedisRepoQueue(stack.client, KEYS, RetryPolicy(backoff_s=0))


def stores_of(stack: Stack) -> ForgetStores:
    client = stack.client
    return ForgetStores(
        registry=RedisForgetRegistry(client, KEYS),
        ledger=RedisDedupLedger(client, KEYS),
        queue=queue_of(stack),
        code_index=stack.search.code_index(),
        repo_index=None,
        data_dir=stack.data_dir,
    )


def run_popped(stack: Stack, repos: dict[str, tuple[str, Path, str]]) -> str:
    """Pop the queue's next batch and run it through scoring and indexing, then settle it."""
    queue = queue_of(stack)
    batch = queue.pop_batch(10)
    assert batch is not None
    stack.run(batch.batch_id, [repos[name] for name in batch.repos])
    queue.settle(batch.batch_id, succeeded=True, reason="")
    return batch.batch_id


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Any]:
    modules = stdlib_modules(4)
    names = sorted(modules)
    copied, tweaked = names[0], names[1]
    a = (A, tmp_path / "a.git", make_repo(tmp_path / "a.git", modules))
    b_files = {
        "extra/copied.py": modules[copied],
        "extra/tweaked.py": near_copy(modules[tweaked].decode()).encode(),
        **stdlib_modules(1, skip=10),
    }
    b = (B, tmp_path / "b.git", make_repo(tmp_path / "b.git", b_files))
    return {"modules": modules, "copied": copied, "a": a, "b": b, "repos": {A: a, B: b}}


def enqueue(stack: Stack, *repos: tuple[str, Path, str]) -> list[str]:
    records = [
        (RepoRecord(name, clone_url=str(path), head=head, source="local"), float(len(repos) - rank))
        for rank, (name, path, head) in enumerate(repos)  # in priority order: A's copies come first
    ]
    return queue_of(stack).enqueue(records).enqueued


def _scan_shards(client: redis.Redis, base: str) -> list[bytes]:
    """The shard hashes of one layout 2 ledger (its count and claimant registry left out)."""
    pattern = base.replace("{", "\\{").replace("}", "\\}") + "*"
    names = [name for name in client.scan_iter(match=pattern, count=10_000)]
    return [name for name in names if not name.endswith((b"count", b"claimants"))]


def _claims_of(client: redis.Redis, repo: str) -> bool:
    """Whether the exact ledger holds any claim of `repo` (raw layout 2: claimant ids per shard)."""
    registry = f"{KEYS.exact_shard_base}claimants"
    claimant_id = client.hget(registry, b"n" + repo.encode())
    shards = _scan_shards(client, KEYS.exact_shard_base)
    return claimant_id is not None and any(
        v == claimant_id for shard in shards for _, v in client.hscan_iter(shard)
    )


def _bucket_owners(client: redis.Redis, bands: int) -> set[bytes]:
    return {
        v
        for band in range(bands)
        for shard in _scan_shards(client, KEYS.lsh_shard_base(band))
        for _, v in client.hscan_iter(shard)
    }


def a_traces(stack: Stack) -> list[str]:
    """Every place something of A is left, named; empty when A is gone."""
    client: redis.Redis = stack.client
    found = []
    index = stack.search.code_index()
    index.refresh()
    if index.count(Filters(repos=(A,))):
        found.append("code index")
    if A in queue_of(stack).known_repos():
        found.append("queue")
    if _claims_of(client, A):
        found.append("exact ledger")
    if list(client.scan_iter(match=KEYS.repo_claims(A) + "*")):
        found.append("generations")
    if any(A.encode() in v for _, v in client.hscan_iter(KEYS.carriers)):
        found.append("carriers")
    for batch in client.zrange(KEYS.batches, 0, -1):
        if A in queue_of(stack).batch_record(batch.decode())["repos"]:
            found.append("batch record")
    for spool in (stack.data_dir / "spool").glob("*"):
        if any(doc["repo"] == A for chunk in iter_documents(spool) for doc in chunk):
            found.append(f"spool {spool.name}")
    for manifest in (stack.data_dir / "batches").glob("*/cloned.json"):
        if any(r.repo == A for r in load_cloned_batch(stack.data_dir, manifest.parent.name).repos):
            found.append(f"handoff {manifest.parent.name}")
    return found


def test_forgetting_a_lets_bs_copies_in_and_leaves_nothing_of_a(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
) -> None:
    stack = stacks("main")
    assert enqueue(stack, corpus["a"], corpus["b"]) == [A, B]
    run_popped(stack, corpus["repos"])
    assert sorted(stack.docs(B).values()) == sorted(stdlib_modules(1, skip=10))  # both copies dropped
    copied = digest(corpus["modules"][corpus["copied"]])
    assert stack.client.hget(KEYS.carriers, copied) == B.encode()

    export = stack.data_dir.parent / "export"
    export_dataset(stack.search.code_index(), export, data_dir=stack.data_dir)
    assert {d["repo"] for _, d in iter_export(export)} == {A, B}

    [report] = forget([A], stores_of(stack), reason="owner asked")
    assert report.repos == [A] and report.removed["index"] == 4
    assert report.removed["export_rows"] == 4 and {d["repo"] for _, d in iter_export(export)} == {B}
    a_ids = {digest(data) for data in corpus["modules"].values()}
    owners = _bucket_owners(stack.client, DEFAULT_LSH.bands)  # stored whole or as 8-byte handles
    a_owners = a_ids | {d[-HANDLE_BYTES:] for d in a_ids}
    assert report.removed["lsh_buckets"] > 0 and not owners & a_owners  # A's buckets are free, not just stale
    assert report.requeued == [B]
    assert a_traces(stack) == []
    assert stack.client.hget(KEYS.processed_repos, B) is None  # a full re-read, not skipped as unchanged

    run_popped(stack, corpus["repos"])
    b_docs = stack.docs(B)
    assert {"extra/copied.py", "extra/tweaked.py"} <= set(b_docs.values())
    assert RedisDedupLedger(stack.client, KEYS).claimants([copied])[copied] == B
    hits = stack.search.code_index().search("def", Filters(repos=(B,)), size=10)
    assert {hit.id for hit in hits} & set(b_docs)
    assert a_traces(stack) == []

    # Never crawled or queued again; a second forget changes nothing.
    assert enqueue(stack, corpus["a"]) == []
    assert queue_of(stack).enqueue([(RepoRecord(A, clone_url="x"), 1.0)]).skipped == {"forgotten": 1}
    [again] = forget([A], stores_of(stack))
    assert again.removed["index"] == 0 and again.removed["claims_released"] == 0
    assert stack.docs(B) == b_docs


def test_a_batch_in_flight_drops_the_forgotten_repos_files(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
) -> None:
    """Forgotten after cloning: the handoff loses A, so scoring never reads it."""
    stack = stacks("main")
    enqueue(stack, corpus["a"], corpus["b"])
    batch = queue_of(stack).pop_batch(10)
    assert batch is not None
    write_cloned_manifest(stack.data_dir, batch.batch_id, [corpus["a"], corpus["b"]])
    [report] = forget(["ACME/*"], stores_of(stack))  # an owner pattern, matched case-insensitively
    assert report.repos == [A] and report.removed["handoff_entries"] == 1
    stack.materialize(batch.batch_id, [scored_files, es_code_index])
    assert stack.docs(A) == {}
    assert {"extra/copied.py", "extra/tweaked.py"} <= set(stack.docs(B).values())
    assert a_traces(stack) == []


def test_the_scorer_drops_files_forgotten_while_it_runs(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
) -> None:
    """A forget registered while the batch is being scored (the state right after step 1): the scorer
    drops A's files, A is not marked processed and keeps no generation; the forget then finishes."""
    stack = stacks("main")
    enqueue(stack, corpus["a"], corpus["b"])
    batch = queue_of(stack).pop_batch(10)
    assert batch is not None
    RedisForgetRegistry(stack.client, KEYS).register(parse_pattern(A), reason="", source="cli")
    result = stack.run(batch.batch_id, [corpus["a"], corpus["b"]])
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    assert scored["dropped"].data.get("forgotten") == 4 and scored["unaccounted"].value == 0
    assert stack.docs(A) == {} and stack.client.hget(KEYS.processed_repos, A) is None
    assert {"extra/copied.py", "extra/tweaked.py"} <= set(stack.docs(B).values())
    forget([A], stores_of(stack))
    assert a_traces(stack) == []


def test_a_path_glob_forgets_matching_files_only(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
) -> None:
    stack = stacks("main")
    enqueue(stack, corpus["a"], corpus["b"])
    run_popped(stack, corpus["repos"])
    target = corpus["copied"]
    [report] = forget([f"acme/app/{target}"[:-3] + ".p?"], stores_of(stack))
    assert report.kind == "glob" and report.files == 1 and report.requeued == [B]
    assert target not in stack.docs(A).values() and len(stack.docs(A)) == 3
    run_popped(stack, corpus["repos"])
    assert "extra/copied.py" in stack.docs(B).values()


def test_forget_removes_the_dropped_file_samples_it_names(
    stacks: Callable[[str], Stack],  # noqa: F811
) -> None:
    """Samples of dropped files (`codelupe dropped`) name repositories and paths: forgotten ones go."""
    stack = stacks("main")
    dropped = DroppedSamples(stack.client, KEYS)
    dropped.record(
        [
            DroppedSample("minified", "b1", A, "static/app.min.js"),
            DroppedSample("minified", "b1", B, "static/app.min.js"),
            DroppedSample("minified", "b1", B, "src/lib.min.js"),
            DroppedSample("lock_file", "b1", A, "poetry.lock"),
        ]
    )
    stores = dataclasses.replace(stores_of(stack), dropped=dropped)
    [report] = forget([A], stores)
    assert report.removed["dropped_samples"] == 2
    [glob] = forget([f"{B}/static/*.js"], stores)
    assert glob.removed["dropped_samples"] == 1
    left = [(s.repo, s.path) for reason in dropped.reasons() for s in dropped.samples(reason)]
    assert left == [(B, "src/lib.min.js")]


def test_crash_midway_then_rerun_finishes(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash after the index deletion and before the claims are released: the re-run finishes."""
    stack = stacks("main")
    enqueue(stack, corpus["a"], corpus["b"])
    run_popped(stack, corpus["repos"])

    def crash(*_args: Any) -> None:
        raise RuntimeError("killed")

    with monkeypatch.context() as patched:
        patched.setattr(forget_stage, "_requeue_carriers", crash)
        with pytest.raises(RuntimeError):
            forget([A], stores_of(stack))
    assert stack.docs(A) == {}
    assert RedisForgetRegistry(stack.client, KEYS).entry(A)["state"] == "started"  # type: ignore[index]
    # The next crawl or queue run finishes what the crash left (no opt-out file configured).
    [report] = apply_opt_out_file(None, stores_of(stack))
    assert report.pattern == A and report.requeued == [B] and report.removed["claims_released"] == 4
    assert a_traces(stack) == []
    assert apply_opt_out_file(None, stores_of(stack)) == []


def test_opt_out_file_is_reread_and_removed_lines_stay_forgotten(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
    tmp_path: Path,
) -> None:
    stack = stacks("main")
    enqueue(stack, corpus["a"], corpus["b"])
    run_popped(stack, corpus["repos"])
    opt_out = tmp_path / "opt-out.txt"
    opt_out.write_text("# owners who asked\n\n")
    assert apply_opt_out_file(opt_out, stores_of(stack)) == []
    opt_out.write_text("# owners who asked\nacme   # ticket 12\n")
    [report] = apply_opt_out_file(opt_out, stores_of(stack))
    assert report.repos == [A]
    assert apply_opt_out_file(opt_out, stores_of(stack)) == []  # done: not redone every run
    opt_out.write_text("")
    assert apply_opt_out_file(opt_out, stores_of(stack)) == []
    assert queue_of(stack).enqueue([(RepoRecord(A, clone_url="x"), 1.0)]).skipped == {"forgotten": 1}
    entry = RedisForgetRegistry(stack.client, KEYS).entry("acme")
    assert entry is not None and entry["source"] == "opt-out" and entry["state"] == "done"


def test_a_spool_being_written_is_finished_by_the_next_run(
    stacks: Callable[[str], Stack],  # noqa: F811
    corpus: dict[str, Any],
) -> None:
    """A spool without its marker yet (scoring still writing) cannot be rewritten: the entry stays
    `incomplete`, and the next crawl or queue run removes A's rows once the marker is there."""
    stack = stacks("main")
    enqueue(stack, corpus["a"], corpus["b"])
    batch = run_popped(stack, corpus["repos"])
    live = stack.data_dir / "spool" / "b-live"
    shutil.copytree(stack.data_dir / "spool" / batch, live)
    marker = (live / SUCCESS_MARKER).read_bytes()
    (live / SUCCESS_MARKER).unlink()

    [report] = forget([A], stores_of(stack))
    assert report.unfinished and any("b-live" in note for note in report.notes)
    assert RedisForgetRegistry(stack.client, KEYS).entry(A)["state"] == "incomplete"  # type: ignore[index]
    (live / SUCCESS_MARKER).write_bytes(marker)  # the batch finished
    [again] = apply_opt_out_file(None, stores_of(stack))
    assert again.removed["spool_rows"] == 4 and not again.unfinished
    assert a_traces(stack) == []
