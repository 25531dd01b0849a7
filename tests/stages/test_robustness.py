"""Unattended operation of the file stage: a dead worker, a poison file, odd names and broken clones never
hang or fail the batch, and every file of every tree is accounted for."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pygit2
import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.git_files import TreeBlob, walk_head
from codelupe_dagster.backends.spool import is_complete, iter_documents
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.file_processing import TEST_CRASH_ENV, ProcessingConfig
from codelupe_dagster.stages.handoff import ClonedBatch, cloned_manifest_path, spool_path
from codelupe_dagster.stages.score_batch import BatchScorer
from codelupe_dagster.stages.scoring_pool import ScoringPool, WorkerPoolError
from tests.support.corpus import STDLIB, cut_loose_object, make_repo, stdlib_files, write_cloned_manifest
from tests.support.planted import PlantedCorpus
from tests.support.result_crash import die_while_writing_first_result
from tests.support.stuck import exit_if_stuck

KEYS = RedisKeys("pipeline:")


def score(
    data_dir: Path, batch_id: str, client: redis.Redis, scorer: BatchScorer | None = None, workers: int = 0
) -> tuple:
    scorer = scorer or BatchScorer(RedisDedupLedger(client, KEYS), ProcessingConfig(), workers=workers)
    batch = ClonedBatch.load(cloned_manifest_path(data_dir, batch_id))
    counts = scorer.run(batch, spool_path(data_dir, batch_id))
    docs = {d["id"]: d for chunk in iter_documents(spool_path(data_dir, batch_id)) for d in chunk}
    return counts, docs


def paths(docs: dict) -> set[tuple[str, str]]:
    return {(d["repo"], d["path"]) for d in docs.values()}


def pool_workers() -> list[psutil.Process]:
    """The scoring workers: children of the forkserver, itself a child of this process."""
    servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    return [child for server in servers for child in server.children()]


# ------------------------------------------------------------------ C: dead workers


class _KillOneWorker(BatchScorer):
    """SIGKILLs one of *its own* pool's workers the first time the parent claims a chunk, with tasks still
    to run. Workers alive before it started (a previous pool's, still exiting) are never the victim: the
    forkserver is shared by every pool of this process, so its children are not all this pool's."""

    killed: int | None = None
    not_ours: frozenset[int] = frozenset()

    def run(self, *args, **kwargs):
        self.not_ours = frozenset(worker.pid for worker in pool_workers())
        return super().run(*args, **kwargs)

    def _claim_and_write(self, *args, **kwargs):
        if self.killed is None:
            victim = next(worker for worker in pool_workers() if worker.pid not in self.not_ours)
            self.killed = victim.pid
            os.kill(victim.pid, signal.SIGKILL)
        return super()._claim_and_write(*args, **kwargs)


def test_sigkilled_worker_is_replaced_and_the_batch_completes(
    planted: PlantedCorpus, valkey_client: redis.Redis
) -> None:
    reference, expected = score(planted.data_dir, planted.batch_id, valkey_client)
    scorer = _KillOneWorker(
        RedisDedupLedger(valkey_client, KEYS), ProcessingConfig(), workers=2, task_files=2, claim_files=4
    )
    counts, docs = score(planted.data_dir, planted.batch_id, valkey_client, scorer)

    assert scorer.killed is not None
    assert counts.pool_rebuilds >= 1
    assert docs.keys() == expected.keys()  # nothing lost, nothing duplicated
    assert counts.dropped == reference.dropped and "worker_crash" not in counts.dropped
    assert (counts.seen, counts.kept, counts.unaccounted) == (reference.seen, reference.kept, 0)
    assert is_complete(spool_path(planted.data_dir, planted.batch_id))


def test_poison_file_is_dropped_as_worker_crash_and_the_rest_is_kept(
    planted: PlantedCorpus, valkey_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, expected = score(planted.data_dir, planted.batch_id, valkey_client)
    monkeypatch.setenv(TEST_CRASH_ENV, "json/scanner.py")  # its worker dies every time it reads it
    counts, docs = score(planted.data_dir, planted.batch_id, valkey_client, workers=2)

    assert counts.dropped["worker_crash"] == 1
    assert paths(docs) == paths(expected) - {("acme/alpha", "json/scanner.py")}  # its task-mates are kept
    assert counts.unaccounted == 0 and 1 <= counts.pool_rebuilds <= 3
    assert is_complete(spool_path(planted.data_dir, planted.batch_id))


def test_a_pool_that_keeps_dying_fails_the_batch_clearly(
    planted: PlantedCorpus, valkey_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_CRASH_ENV, "/")  # most files kill their worker: no batch should crawl on
    scorer = BatchScorer(
        RedisDedupLedger(valkey_client, KEYS), ProcessingConfig(), workers=2, max_pool_rebuilds=3
    )
    with pytest.raises(WorkerPoolError, match="died 4 times"):
        score(planted.data_dir, planted.batch_id, valkey_client, scorer)
    assert not is_complete(spool_path(planted.data_dir, planted.batch_id))
    assert pool_workers() == []


def test_a_file_stuck_in_native_code_is_dropped_as_worker_crash(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path
) -> None:
    """libgit2 spins for ever on a truncated loose object (no exception can reach it): the file's alarm
    ends its worker, the pool finds the file as for any crash, and the batch completes."""
    files = stdlib_files("json", prefix="pkg/")
    head = make_repo(tmp_path / "cut.git", files)
    repo = pygit2.Repository(str(tmp_path / "cut.git"))
    pkg = repo[repo.head.peel(pygit2.Commit).tree["pkg"].id]
    cut_loose_object(tmp_path / "cut.git", str(pkg["decoder.py"].id))
    write_cloned_manifest(data_dir, "b-stuck", [("acme/cut", tmp_path / "cut.git", head)])
    ledger = RedisDedupLedger(valkey_client, KEYS)
    scorer = BatchScorer(ledger, ProcessingConfig(), workers=2, file_timeout_s=2)
    counts, docs = score(data_dir, "b-stuck", valkey_client, scorer)

    assert counts.dropped["worker_crash"] == 1
    assert ("acme/cut", "pkg/decoder.py") not in paths(docs)
    assert ("acme/cut", "pkg/encoder.py") in paths(docs)  # its task-mates are kept
    assert counts.unaccounted == 0 and 1 <= counts.pool_rebuilds <= 3
    assert is_complete(spool_path(data_dir, "b-stuck"))
    assert pool_workers() == []  # no worker left spinning


# ------------------------------------------------------------------ D: odd names, broken clones, accounting


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=True)
    return out.stdout.decode().strip()


def repo_with_latin1_name(path: Path) -> str:
    """A commit whose tree names a file with a raw Latin-1 byte (b"caf\\xe9.py"), as an old system wrote it:
    built with git plumbing, since pygit2 only takes str names."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    code = (STDLIB / "colorsys.py").read_bytes()
    other = (STDLIB / "bisect.py").read_bytes()
    blob = _git(path, "hash-object", "-w", "--stdin", stdin=code)
    blob2 = _git(path, "hash-object", "-w", "--stdin", stdin=other)
    listing = b"100644 blob %s\tcaf\xe9.py\n100644 blob %s\tbisect.py\n" % (blob.encode(), blob2.encode())
    tree = _git(path, "mktree", stdin=listing)
    env = {**os.environ, "GIT_AUTHOR_NAME": "F", "GIT_AUTHOR_EMAIL": "f@x", "GIT_COMMITTER_NAME": "F"}
    env["GIT_COMMITTER_EMAIL"] = "f@x"
    commit = (
        subprocess.run(
            ["git", "-C", str(path), "commit-tree", tree, "-m", "latin-1 name"],
            capture_output=True,
            check=True,
            env=env,
        )
        .stdout.decode()
        .strip()
    )
    _git(path, "update-ref", "refs/heads/main", commit)
    return commit


class _DiesWhileWritingAResult(ScoringPool):
    def __init__(self, *args, claim: Path, **kwargs):
        super().__init__(*args, **kwargs)
        self.claim = claim

    def _worker_initializer(self):
        initializer, initargs = super()._worker_initializer()
        return die_while_writing_first_result, (str(self.claim), initializer, initargs)


def json_tasks(tmp_path: Path, per_task: int = 2) -> tuple[list[TreeBlob], list]:
    repo = tmp_path / "json.git"
    make_repo(repo, stdlib_files("json"))
    entries = [e for e in walk_head(pygit2.Repository(str(repo))) if isinstance(e, TreeBlob)]
    tasks = [(0, str(repo), entries[i : i + per_task]) for i in range(0, len(entries), per_task)]
    return entries, tasks


@pytest.mark.timeout(120)
def test_a_worker_killed_while_writing_its_result_never_hangs_the_batch(tmp_path: Path):
    """Killed mid-result, a worker leaves half a message in the result pipe, and the executor's manager
    thread waits for the rest for ever without looking at its workers again (seen in the fault tests:
    one run in a few hung until its deadline). The pool must notice, break and recover: every file
    scored as by a healthy pool."""
    _, tasks = json_tasks(tmp_path)
    healthy = ScoringPool(2, ProcessingConfig())
    expected = list(healthy.results(tasks))
    healthy.close()

    claim = tmp_path / "died"
    pool = _DiesWhileWritingAResult(2, ProcessingConfig(), claim=claim)
    try:
        got = list(pool.results(tasks))
    finally:
        pool.close()
    assert claim.exists(), "no worker died while writing a result"
    assert pool.rebuilds >= 1
    assert got == expected
    assert pool_workers() == []


@pytest.mark.timeout(120)
def test_closing_a_pool_whose_worker_cannot_exit_never_hangs(tmp_path: Path):
    """A worker SIGKILLed while it held the task queue's lock leaves a sibling that can never read its stop
    sentinel, and `ProcessPoolExecutor.shutdown(wait=True)` then waits for ever (reproduced on CPython 3.11
    by killing a worker as the last result came in). A stopped worker is the same for `close`: it must
    still return, with every worker gone."""
    entries, tasks = json_tasks(tmp_path)
    pool = ScoringPool(2, ProcessingConfig())
    assert sum(len(results) for _, results in pool.results(tasks)) == len(entries)
    workers = pool_workers()
    assert workers, "no pool workers alive after scoring"
    os.kill(workers[0].pid, signal.SIGSTOP)
    pool.close()
    alive = [w.pid for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"workers left running after close: {alive}"


@pytest.mark.parametrize("workers", [0, 2])
def test_non_utf8_file_name_is_kept_with_an_escaped_path(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path, workers: int
) -> None:
    head = repo_with_latin1_name(tmp_path / "latin.git")
    json_repo = tmp_path / "json.git"
    repos = [
        ("acme/latin", tmp_path / "latin.git", head),
        ("acme/json", json_repo, make_repo(json_repo, stdlib_files("json"))),
    ]
    write_cloned_manifest(data_dir, "b-names", repos)
    counts, docs = score(data_dir, "b-names", valkey_client, workers=workers)

    assert ("acme/latin", "caf\\xe9.py") in paths(docs)  # valid UTF-8, the byte readable, extension kept
    assert ("acme/latin", "bisect.py") in paths(docs)
    assert {repo for repo, _ in paths(docs)} == {"acme/latin", "acme/json"}
    assert counts.failed_repos == {} and counts.unaccounted == 0
    assert is_complete(spool_path(data_dir, "b-names"))


def _loose_object(repo: Path, oid: str) -> Path:
    return repo / "objects" / oid[:2] / oid[2:]


def test_missing_objects_fail_their_repository_by_name(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path
) -> None:
    files = stdlib_files("json", prefix="pkg/")
    blob_repo, tree_repo, healthy = tmp_path / "blob.git", tmp_path / "tree.git", tmp_path / "ok.git"
    heads = [
        make_repo(blob_repo, files),
        make_repo(tree_repo, files),
        make_repo(healthy, stdlib_files("wsgiref")),
    ]
    # A blob and a tree deleted from the object database, as a clone cut short by a full disk leaves it.
    blob_tree = pygit2.Repository(str(blob_repo))
    pkg = blob_tree[blob_tree.head.peel(pygit2.Commit).tree["pkg"].id]
    _loose_object(blob_repo, str(pkg["decoder.py"].id)).unlink()
    tree_tree = pygit2.Repository(str(tree_repo))
    _loose_object(tree_repo, str(tree_tree.head.peel(pygit2.Commit).tree["pkg"].id)).unlink()

    repos = [
        ("acme/blob", blob_repo, heads[0]),
        ("acme/tree", tree_repo, heads[1]),
        ("acme/ok", healthy, heads[2]),
    ]
    write_cloned_manifest(data_dir, "b-holes", repos)
    counts, docs = score(data_dir, "b-holes", valkey_client, workers=2)

    assert set(counts.failed_repos) == {"acme/blob", "acme/tree"}
    assert "pkg/decoder.py" in counts.failed_repos["acme/blob"]
    assert counts.dropped["missing_object"] == 1
    # The tree-less repo was never walked: none of its files counted as seen (the others' were, once each).
    assert counts.seen == len(files) + len(stdlib_files("wsgiref"))
    assert counts.unaccounted == 0
    assert set(counts.commits) == {"acme/ok"}  # failed repos are not marked processed
    assert {repo for repo, _ in paths(docs)} == {"acme/blob", "acme/ok"}
    assert is_complete(spool_path(data_dir, "b-holes"))
    # Their next claim generation is dropped: nothing of theirs is swapped at index time.
    assert not valkey_client.exists(KEYS.repo_claims_next("acme/blob", "b-holes"))
    assert valkey_client.exists(KEYS.repo_claims_next("acme/ok", "b-holes"))


def test_a_cut_short_tree_fails_its_repository_instead_of_hanging_the_batch(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path
) -> None:
    """The scorer's parent walks the trees, where no file alarm runs: a truncated loose tree (libgit2 spins
    on it for ever) fails its repository by name, and the batch goes on with the others."""
    cut, healthy = tmp_path / "cut.git", tmp_path / "ok.git"
    heads = [make_repo(cut, stdlib_files("json", prefix="pkg/")), make_repo(healthy, stdlib_files("wsgiref"))]
    tree = pygit2.Repository(str(cut)).head.peel(pygit2.Commit).tree["pkg"].id
    cut_loose_object(cut, str(tree))
    write_cloned_manifest(data_dir, "b-cut", [("acme/cut", cut, heads[0]), ("acme/ok", healthy, heads[1])])
    with exit_if_stuck(300):
        counts, docs = score(data_dir, "b-cut", valkey_client, workers=2)

    assert set(counts.failed_repos) == {"acme/cut"}
    assert f"object {tree} is cut short" in counts.failed_repos["acme/cut"]
    assert counts.seen == len(stdlib_files("wsgiref")) and counts.unaccounted == 0
    assert {repo for repo, _ in paths(docs)} == {"acme/ok"}
    assert is_complete(spool_path(data_dir, "b-cut"))


def test_every_file_of_a_real_corpus_is_accounted_for(
    data_dir: Path, valkey_client: redis.Redis, tmp_path: Path
) -> None:
    """Hundreds of real files (stdlib packages, tests and data files included): every blob is kept,
    dropped with a reason or a duplicate, exactly once."""
    repos = []
    for package in ("email", "json", "http", "unittest", "xml", "importlib", "lib2to3"):
        root = STDLIB / package
        files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        path = tmp_path / f"{package}.git"
        repos.append((f"stdlib/{package}", path, make_repo(path, files)))
    write_cloned_manifest(data_dir, "b-real", repos)
    counts, docs = score(data_dir, "b-real", valkey_client, workers=2)

    assert counts.seen > 500 and counts.kept == len(docs)
    assert counts.unaccounted == 0
    assert (
        counts.seen
        == counts.kept + sum(counts.dropped.values()) + counts.exact_duplicates + counts.near_duplicates
    )
