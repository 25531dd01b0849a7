"""Dropped files land in the per-reason sample while a batch is scored (real git repositories, the real
scorer, in-process and with a worker pool), and nothing secret or personal is kept with them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pygit2
import pytest
import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.dropped_samples import DroppedSample, DroppedSamples
from codelupe_dagster.backends.forget_registry import RedisForgetRegistry, parse_pattern
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.dropped_sampling import EXCERPT_CHARS, DropSampler
from codelupe_dagster.stages.file_processing import TEST_CRASH_ENV, ProcessingConfig
from codelupe_dagster.stages.handoff import ClonedBatch, cloned_manifest_path, spool_path
from codelupe_dagster.stages.score_batch import BatchScorer
from tests.support.corpus import (
    STDLIB,
    Submodule,
    Symlink,
    cut_loose_object,
    make_repo,
    write_cloned_manifest,
)
from tests.support.planted import GITHUB_TOKEN
from tests.support.stuck import exit_if_stuck

KEYS = RedisKeys("pipeline:")
BATCH = "b20261202T080000-dddddd"
EMAIL = "jane.doe@fastmail.fm"


def minified(n: int, head: str = "") -> bytes:
    """A one-line bundle the content filters drop as `minified`, starting with `head`."""
    return (head + "var a=" + "+".join(f"f{i}_{n}(x)" for i in range(4000)) + ";\n").encode()


@pytest.fixture
def junk_repo(tmp_path: Path) -> tuple[str, Path, str]:
    files = {
        "json/decoder.py": (STDLIB / "json" / "decoder.py").read_bytes(),  # kept
        "web/a.js": minified(1, head=f'const token="{GITHUB_TOKEN}";const who="{EMAIL}";'),
        "web/b.js": minified(2),
        "web/c.js": minified(3),
        f"web/{EMAIL}.js": minified(4),  # an address in a file name
        "tools/blob.py": b"import os\n\x00\x01\x02binary\x00payload\n",
        "link.py": Symlink("json/decoder.py"),
        "third/lib": Submodule(),
    }
    path = tmp_path / "acme__junk"
    return "acme/junk", path, make_repo(path, files)


def score(
    data_dir: Path, repo: tuple[str, Path, str], client: redis.Redis, workers: int, sampler: DropSampler
):
    write_cloned_manifest(data_dir, BATCH, [repo])
    batch = ClonedBatch.load(cloned_manifest_path(data_dir, BATCH))
    scorer = BatchScorer(RedisDedupLedger(client, KEYS), ProcessingConfig(), workers=workers, samples=sampler)
    return scorer.run(batch, spool_path(data_dir, BATCH))


@pytest.mark.parametrize("workers", [0, 2])
def test_drops_land_in_the_sample_redacted(
    data_dir: Path, junk_repo: tuple[str, Path, str], valkey_client: redis.Redis, workers: int
) -> None:
    sampler = DropSampler(per_reason=50)
    counts = score(data_dir, junk_repo, valkey_client, workers, sampler)
    assert counts.kept == 1 and counts.unaccounted == 0
    # Every dropped file is handed over under the reason it was counted for.
    assert sampler.held() == {reason: n for reason, n in counts.dropped.items()}
    samples = sampler.samples(BATCH)
    by_path = {s.path: s for s in samples}
    assert {s.reason for s in samples} == {"minified", "binary", "symlink", "submodule"}

    first = by_path["web/a.js"]
    head = junk_repo[2]
    assert (first.reason, first.batch, first.repo, first.commit) == ("minified", BATCH, "acme/junk", head)
    assert (
        first.blob is not None
        and len(first.blob) == 40
        and first.size == len(minified(1, "")) + len(f'const token="{GITHUB_TOKEN}";const who="{EMAIL}";')
    )
    # The excerpt shows the file's start, with the token and the address redacted.
    assert first.excerpt is not None and first.excerpt.startswith('const token="')
    assert len(first.excerpt) <= EXCERPT_CHARS
    assert GITHUB_TOKEN not in first.excerpt and GITHUB_TOKEN[:12] not in first.excerpt
    assert EMAIL not in first.excerpt and "var a=" in by_path["web/b.js"].excerpt
    # An address in a file name is redacted in the sample's path as in a document's.
    assert not any(EMAIL in s.path for s in samples)
    assert sum(1 for s in samples if s.reason == "minified") == 4
    # No excerpt of bytes that are no text; symlinks and submodules have no blob to read.
    binary = by_path["tools/blob.py"]
    assert binary.excerpt is None and binary.size == len(b"import os\n\x00\x01\x02binary\x00payload\n")
    assert by_path["link.py"].blob is None and by_path["third/lib"].excerpt is None
    assert all(GITHUB_TOKEN not in s.to_json() and EMAIL not in s.to_json() for s in samples)


def test_a_batch_keeps_the_last_files_of_each_reason_and_a_rerun_does_not_grow_it(
    data_dir: Path, junk_repo: tuple[str, Path, str], valkey_client: redis.Redis
) -> None:
    store = DroppedSamples(valkey_client, KEYS, per_reason=3)
    for _ in range(2):  # the partition runs twice
        valkey_client.flushdb()
        sampler = DropSampler(per_reason=3)
        score(data_dir, junk_repo, valkey_client, 0, sampler)
        assert sampler.held()["minified"] == 3  # four dropped, the last three held
        store.record(sampler.samples(BATCH))
    listed = store.samples("minified")
    assert len(listed) == 3 == len(set(listed))
    assert all(isinstance(s, DroppedSample) and s.batch == BATCH for s in listed)


def test_the_scorer_builds_the_samples_once_and_a_later_drop_rebuilds_them(
    data_dir: Path, junk_repo: tuple[str, Path, str], valkey_client: redis.Redis
) -> None:
    """The scorer reads and redacts the samples while its index stream finishes; the asset then records
    those very samples, without reading the clone again."""
    sampler = DropSampler()
    score(data_dir, junk_repo, valkey_client, 0, sampler)
    shutil.rmtree(junk_repo[1])  # what the scorer built no longer needs the clone
    built = sampler.samples(BATCH)
    assert any(s.excerpt for s in built) and sampler.samples(BATCH) == built

    sampler.add("too_large", "acme/junk", str(junk_repo[1]), junk_repo[2], "big.bin")
    rebuilt = sampler.samples(BATCH)  # a file dropped since: built again (the gone clone: no excerpts)
    assert sorted(s.path for s in rebuilt) == sorted([*(s.path for s in built), "big.bin"])
    assert not any(s.excerpt for s in rebuilt)
    assert sampler.samples("b20261203T000000-other0")[0].batch == "b20261203T000000-other0"


def test_a_cut_short_blob_dropped_by_its_path_is_sampled_without_its_bytes(
    data_dir: Path, tmp_path: Path, valkey_client: redis.Redis
) -> None:
    """A path rule drops a file before any worker reads it; its sample is built in the scorer's process,
    where no alarm ends libgit2's endless inflate of a truncated loose blob: the blob is checked first."""
    lock = json.dumps({"lockfileVersion": 3, "packages": {f"p{i}": {"version": "1.0.0"} for i in range(300)}})
    files = {
        "json/decoder.py": (STDLIB / "json" / "decoder.py").read_bytes(),
        "package-lock.json": lock.encode(),
    }
    path = tmp_path / "acme__locked"
    head = make_repo(path, files)
    tree = pygit2.Repository(str(path)).head.peel(pygit2.Commit).tree
    cut_loose_object(path, str(tree["package-lock.json"].id))
    sampler = DropSampler()
    with exit_if_stuck(300):
        counts = score(data_dir, ("acme/locked", path, head), valkey_client, 2, sampler)

    assert counts.kept == 1 and counts.unaccounted == 0
    [sample] = [s for s in sampler.samples(BATCH) if s.path == "package-lock.json"]
    assert sample.excerpt is None and sample.size == len(lock)


def test_files_named_by_a_forget_rule_are_not_sampled(
    data_dir: Path, junk_repo: tuple[str, Path, str], valkey_client: redis.Redis
) -> None:
    """A path forgotten before the batch ran is still dropped for what it is (here `minified`, which
    the filters decide before any claim); its sample must not keep it."""
    RedisForgetRegistry(valkey_client, KEYS).register(
        parse_pattern("acme/junk/web/b.j[s]"), reason="", source="cli"
    )
    sampler = DropSampler()
    score(data_dir, junk_repo, valkey_client, 0, sampler)
    paths = {s.path for s in sampler.samples(BATCH)}
    assert "web/a.js" in paths and "web/c.js" in paths
    assert "web/b.js" not in paths


def test_a_file_that_kills_its_worker_is_sampled_with_its_blob_and_no_excerpt(
    data_dir: Path, junk_repo: tuple[str, Path, str], valkey_client: redis.Redis, monkeypatch
) -> None:
    """The pool splits the crashed task into one-file units: each result still pairs with its own entry."""
    monkeypatch.setenv(TEST_CRASH_ENV, "web/c.js")  # its worker dies every time it reads it
    sampler = DropSampler()
    counts = score(data_dir, junk_repo, valkey_client, 2, sampler)
    assert counts.dropped["worker_crash"] == 1 and counts.unaccounted == 0
    by_path = {s.path: s for s in sampler.samples(BATCH)}
    crash = by_path["web/c.js"]
    assert crash.reason == "worker_crash" and crash.excerpt is None and crash.size == len(minified(3))
    assert by_path["web/a.js"].size != crash.size and by_path["web/a.js"].reason == "minified"
    assert by_path["tools/blob.py"].size == len(b"import os\n\x00\x01\x02binary\x00payload\n")
