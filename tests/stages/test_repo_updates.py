"""A repository's new commit replaces its old documents; claims released by it let copies elsewhere in.

Every scenario runs the real batch stages (scored_files then es_code_index, materialized by Dagster) over
real git repositories of stdlib code, against the embedded Valkey and each search backend, and compares
the index with a *clean* one: a fresh DATA_DIR, Valkey database and index that only ever saw the new HEAD.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import pytest
import redis

from codelupe_dagster.assets.index import es_code_index
from codelupe_dagster.assets.score import scored_files
from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.search import Filters
from codelupe_dagster.backends.spool import iter_documents
from codelupe_dagster.core.dedup import digest_normalized, normalize_content
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.core.redaction import redact_text
from codelupe_dagster.resources import PipelineResource, RedisResource, SearchIndexResource
from codelupe_dagster.stages.handoff import spool_path
from tests.support.corpus import STDLIB, make_repo, near_copy, write_cloned_manifest

KEYS = RedisKeys()
THRESHOLD = 0.3

# ------------------------------------------------------------------ a pipeline stack per test


@dataclass
class Stack:
    """One deployment: a DATA_DIR, a Redis database and a code index."""

    data_dir: Path
    redis_url: str
    search: SearchIndexResource

    @property
    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def run(
        self, batch_id: str, repos: list[tuple[str, Path, str]], score_config: dict | None = None
    ) -> dg.ExecuteInProcessResult:
        """Both batch stages for these repos, as the pipeline runs them after cloned_repos."""
        write_cloned_manifest(self.data_dir, batch_id, repos)
        return self.materialize(batch_id, [scored_files, es_code_index], score_config)

    def materialize(
        self, batch_id: str, assets: list, score_config: dict | None = None, min_quality: float = THRESHOLD
    ) -> dg.ExecuteInProcessResult:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("repo_batches", [batch_id])
        ops: dict[str, Any] = {}
        if scored_files in assets:
            ops["scored_files"] = {
                "config": {"file_workers": 0, "min_quality": min_quality, **(score_config or {})}
            }
        if es_code_index in assets:
            ops["es_code_index"] = {"config": {"min_quality": min_quality}}
        resources = {
            "redis": RedisResource(url=self.redis_url, data_dir=str(self.data_dir)),
            "search": self.search,
            "pipeline": PipelineResource(data_dir=str(self.data_dir)),  # the assets find spools through it
        }
        result = dg.materialize(
            assets, partition_key=batch_id, instance=instance, resources=resources, run_config={"ops": ops}
        )
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert all(checks.values()), checks
        return result

    def docs(self, repo: str) -> dict[str, str]:
        """id -> path of the repo's documents in the index."""
        index = self.search.code_index()
        index.refresh()
        return {
            d["id"]: d["path"] for d in index.iter_documents(Filters(repos=(repo,)), fields=["id", "path"])
        }


def _other_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(
    params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)],
)
def stacks(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    data_dir: Path,
    valkey_client: redis.Redis,
    valkey_url: str,
) -> Iterator[Callable[[str], Stack]]:
    """stacks(name) -> a fresh Stack; the first is the test's, later ones are clean references."""
    es_url = request.getfixturevalue("elasticsearch_url") if request.param == "elasticsearch" else None
    made: list[Stack] = []

    def make(name: str) -> Stack:
        root = data_dir if not made else tmp_path / name
        root.mkdir(exist_ok=True)
        url = _other_db(valkey_url, len(made))  # db 0 is the test's (flushed by valkey_client), then 1, 2…
        redis.Redis.from_url(url).flushdb()
        search = SearchIndexResource(
            elasticsearch_url=es_url, data_dir=str(root), code_index_name=f"test-code-{uuid.uuid4().hex[:10]}"
        )
        made.append(Stack(root, url, search))
        return made[-1]

    yield make
    for stack in made:
        stack.search.code_index().delete()
        if stack.redis_url != valkey_url:
            stack.client.flushdb()


def clean_index(stacks: Callable[[str], Stack], name: str, repo: tuple[str, Path, str]) -> dict[str, str]:
    """The documents a deployment that only ever saw this HEAD holds for the repo."""
    stack = stacks(name)
    stack.run("b-clean", [repo])
    return stack.docs(repo[0])


# ------------------------------------------------------------------ real files and real edits


def stdlib_modules(count: int, skip: int = 0) -> dict[str, bytes]:
    """`count` real top-level stdlib modules of a readable size."""
    chosen = [
        p
        for p in sorted(STDLIB.glob("*.py"))
        if 4_000 <= p.stat().st_size <= 40_000 and not p.name.startswith(("_", "test"))
    ]
    return {f"src/{p.name}": p.read_bytes() for p in chosen[skip : skip + count]}


def edit_lines(data: bytes, lines: tuple[int, ...] = (12, 40, 75)) -> bytes:
    """The same file with a few lines changed, as a small upstream commit does."""
    text = data.decode().splitlines()
    for n in lines:
        i = min(n, len(text) - 1)
        text[i] = text[i] + "  # changed upstream"
    return ("\n".join(text) + "\n").encode()


def digest(data: bytes) -> bytes:
    """The id the scorer gives the file: its content redacted (stdlib modules carry authors' e-mails)
    and normalized."""
    return digest_normalized(normalize_content(redact_text(data.decode()).text))


@pytest.fixture
def update(tmp_path: Path) -> dict[str, Any]:
    """acme/app at v1 (20 modules), then v2: 3 edited, 2 deleted, 2 renamed, 1 added. acme/fork holds an
    exact copy of one deleted module and a near copy of the other, plus two modules of its own."""
    v1 = stdlib_modules(20)
    names = sorted(v1)
    edited, deleted, renamed = names[0:3], names[3:5], names[5:7]
    v2 = {path: data for path, data in v1.items() if path not in deleted and path not in renamed}
    for path in edited:
        v2[path] = edit_lines(v1[path])
    for path in renamed:
        v2[path.replace("src/", "lib/")] = v1[path]
    v2.update(stdlib_modules(1, skip=20))

    app_path = tmp_path / "repos" / "app.git"
    head1 = make_repo(app_path, v1)
    fork_files = {
        "extra/copied.py": v1[deleted[0]],
        "extra/tweaked.py": near_copy(v1[deleted[1]].decode()).encode(),
        **stdlib_modules(2, skip=22),
    }
    fork = (
        "acme/fork",
        tmp_path / "repos" / "fork.git",
        make_repo(tmp_path / "repos" / "fork.git", fork_files),
    )
    return {
        "v1": v1,
        "v2": v2,
        "edited": edited,
        "deleted": deleted,
        "app_v1": ("acme/app", app_path, head1),
        "app_path": app_path,
        "fork": fork,
    }


def commit_v2(update: dict[str, Any]) -> tuple[str, Path, str]:
    head2 = make_repo(update["app_path"], update["v2"], message="edit, delete, rename, add")
    return ("acme/app", update["app_path"], head2)


# ------------------------------------------------------------------ tests


def test_new_commit_replaces_the_repos_documents(
    stacks: Callable[[str], Stack], update: dict[str, Any]
) -> None:
    stack = stacks("main")
    stack.run("b-1", [update["app_v1"], update["fork"]])
    assert len(stack.docs("acme/app")) == 20
    # The fork's copies of app's files were duplicates the first time.
    assert sorted(stack.docs("acme/fork").values()) == sorted(stdlib_modules(2, skip=22))

    app_v2 = commit_v2(update)
    result = stack.run("b-2", [app_v2])
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    # Its own old versions are not duplicates of the edited files.
    assert scored["near_duplicates"].value == 0 and scored["exact_duplicates"].value == 0
    assert scored["unaccounted"].value == 0
    indexed = result.asset_materializations_for_node("es_code_index")[0].metadata
    assert indexed["stale_removed"].value == 3 + 2  # old versions of the edited files, and the deleted ones

    after = stack.docs("acme/app")
    assert after == clean_index(stacks, "clean-app", app_v2)
    assert len(after) == 20 - 2 + 1
    # The old versions are gone from the index and from the ledger; the edits are in.
    client = stack.client
    for path in (*update["edited"], *update["deleted"]):
        old = digest(update["v1"][path])
        assert old.hex() not in after and RedisDedupLedger(client, KEYS).claimants([old])[old] is None
    for path in update["edited"]:
        assert after[digest(update["v2"][path]).hex()] == path
    # The repo's generation is exactly what it claims now.
    generation = set(RedisDedupLedger(client, KEYS).repo_digests("acme/app"))
    assert generation == {bytes.fromhex(doc_id) for doc_id in after}
    assert client.hget(KEYS.processed_repos, "acme/app") == app_v2[2].encode()


def test_copies_elsewhere_take_over_when_next_processed(
    stacks: Callable[[str], Stack], update: dict[str, Any]
) -> None:
    stack = stacks("main")
    first = stack.run("b-1", [update["app_v1"], update["fork"]])
    scored = first.asset_materializations_for_node("scored_files")[0].metadata
    assert scored["exact_duplicates"].value == 1 and scored["near_duplicates"].value == 1
    assert not any(path.startswith("extra/") for path in stack.docs("acme/fork").values())
    stack.run("b-2", [commit_v2(update)])
    stack.run("b-3", [update["fork"]])  # the fork's next processing, same HEAD

    fork_docs = stack.docs("acme/fork")
    assert "extra/copied.py" in fork_docs.values()  # exact copy of a deleted file: its digest was released
    assert "extra/tweaked.py" in fork_docs.values()  # near copy: the buckets it hit had a released owner
    assert fork_docs == clean_index(stacks, "clean-fork", update["fork"])
    copied = digest(update["v1"][update["deleted"][0]])
    assert RedisDedupLedger(stack.client, KEYS).claimants([copied])[copied] == "acme/fork"


def test_index_step_rerun_after_the_swap_changes_nothing(
    stacks: Callable[[str], Stack], update: dict[str, Any]
) -> None:
    """A crash after the generation swap and before the repos are marked processed re-runs the index step
    (and possibly scoring): the swap must not run twice, and scoring again must give the same state."""
    stack = stacks("main")
    stack.run("b-1", [update["app_v1"]])
    app_v2 = commit_v2(update)
    stack.run("b-2", [app_v2])
    after = stack.docs("acme/app")

    stack.materialize("b-2", [es_code_index])
    assert stack.docs("acme/app") == after
    stack.materialize("b-2", [scored_files, es_code_index])
    assert stack.docs("acme/app") == after
    assert after == clean_index(stacks, "clean", app_v2)


def test_swap_finishes_after_a_crash_between_release_and_rename(
    stacks: Callable[[str], Stack], update: dict[str, Any]
) -> None:
    """The state a crash leaves after stale documents were deleted and their claims released, before the
    rename: the re-run computes the same stale set and finishes the swap."""
    stack = stacks("main")
    stack.run("b-1", [update["app_v1"]])
    app_v2 = commit_v2(update)
    write_cloned_manifest(stack.data_dir, "b-2", [app_v2])
    stack.materialize("b-2", [scored_files])

    ledger = RedisDedupLedger(stack.client, KEYS)
    stale = ledger.stale_claims("acme/app", "b-2")
    assert stale is not None and len(stale) == 5
    index = stack.search.code_index()
    index.delete_ids([d.hex() for d in stale])
    assert ledger.release("acme/app", stale) == 5

    stack.materialize("b-2", [es_code_index])
    assert stack.docs("acme/app") == clean_index(stacks, "clean", app_v2)


def test_quality_threshold_applies_before_claims(stacks: Callable[[str], Stack], tmp_path: Path) -> None:
    """A low file first in priority must not claim anything: its better near copy in a later repo is
    indexed. (shlex.py without its comment lines scores ~0.66 against ~0.85 and shares LSH bands.)"""
    original = (STDLIB / "shlex.py").read_bytes()
    stripped = b"\n".join(line for line in original.splitlines() if not line.strip().startswith(b"#")) + b"\n"
    low = ("acme/low", tmp_path / "low.git", make_repo(tmp_path / "low.git", {"shlex.py": stripped}))
    good = ("acme/good", tmp_path / "good.git", make_repo(tmp_path / "good.git", {"lib/shlex.py": original}))
    threshold = 0.75

    stack = stacks("main")
    write_cloned_manifest(stack.data_dir, "b-q", [low, good])
    result = stack.materialize("b-q", [scored_files, es_code_index], min_quality=threshold)
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    assert scored["dropped"].data.get("low_quality") == 1 and scored["near_duplicates"].value == 0
    assert list(stack.docs("acme/good").values()) == ["lib/shlex.py"]
    assert stack.docs("acme/low") == {}

    # Without the threshold before claims the low copy would have won the buckets: the setup is a real
    # near-duplicate pair, so the test above would fail on the old order.
    reference = stacks("no-threshold")
    write_cloned_manifest(reference.data_dir, "b-q", [low, good])
    reference.materialize("b-q", [scored_files], score_config={"min_quality": 0.0})
    spooled = {d["repo"] for chunk in iter_documents(spool_path(reference.data_dir, "b-q")) for d in chunk}
    assert spooled == {"acme/low"}
