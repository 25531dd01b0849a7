"""One test per fault other than killing the run: a scoring worker, the embedded Valkey, Elasticsearch and the
spool disk failing under a running `codelupe run`, and poison repositories in its source.

Every fault must leave a state the next `codelupe run` finishes on its own (exit 0) with exactly the clean
run's documents, nothing queued or in flight and no Dagster run left in progress. The faulted run itself may
fail, but must end: a hang is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.faults.harness import (
    RUN_TIMEOUT_S,
    Baseline,
    CuttableProxy,
    Workspace,
    build_poison_source,
    closed_port,
    compare,
    copy_corpus,
    fsize_limit,
    grow_spool,
    scoring_workers,
    small_spool,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def workspace(tmp_path: Path):
    ws = Workspace(tmp_path)
    yield ws
    ws.close()


def valkey_client(ws: Workspace) -> redis.Redis | None:
    """A client of the DATA_DIR's embedded Valkey as recorded there (never starts one), password included."""
    home = ws.data_dir / "valkey"
    try:
        state = json.loads((home / "server.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    password_file = home / "password"
    password = password_file.read_text().strip() if password_file.exists() else None
    return redis.Redis.from_url(state["url"], password=password, socket_connect_timeout=1, socket_timeout=2)


def inflight_count(ws: Workspace) -> int:
    client = valkey_client(ws)
    if client is None:
        return 0
    try:
        return client.hlen("pipeline:repos:inflight")
    except redis.RedisError:
        return 0
    finally:
        client.close()


def assert_recovers(ws: Workspace, baseline: Baseline, source: Path, what: str, **state_env: str) -> None:
    """The next run, with no human action, ends with exit 0 and exactly the clean run's state."""
    rerun = ws.run(source)
    assert not rerun.timed_out, f"{what}: the re-run hung ({RUN_TIMEOUT_S}s)\n{rerun.tail()}"
    assert rerun.returncode == 0, f"{what}: re-run exit {rerun.returncode}\n{rerun.tail()}"
    verdict = compare(ws.state(**state_env), set(baseline.ids))
    assert verdict.clean, f"{what}: {verdict.describe()} {verdict.detail}\n{rerun.tail()}"


def test_sigkill_one_scoring_worker(workspace: Workspace, baseline: Baseline):
    source = copy_corpus(baseline.corpus, workspace.root / "source")
    proc = workspace.start_run(source)
    workers = wait_for(lambda: scoring_workers(proc), timeout=RUN_TIMEOUT_S / 2, interval=0.05)
    assert workers, "the run never started a scoring worker"
    os.kill(workers[0], signal.SIGKILL)
    first = workspace.wait_run(proc)
    assert not first.timed_out, (
        f"the run hung after its scoring worker {workers[0]} was killed\n{first.tail()}"
    )
    what = f"after killing scoring worker {workers[0]} (first run exit {first.returncode})"
    assert_recovers(workspace, baseline, source, what)


def test_sigkill_embedded_valkey_mid_batch(workspace: Workspace, baseline: Baseline):
    source = copy_corpus(baseline.corpus, workspace.root / "source")
    proc = workspace.start_run(source)
    assert wait_for(lambda: inflight_count(workspace) > 0 or proc.poll() is not None, RUN_TIMEOUT_S / 2)
    assert proc.poll() is None, "the run ended before any batch was in flight"
    old_pid = workspace.valkey_pid()
    assert old_pid, "no embedded valkey pid recorded under DATA_DIR/valkey"
    os.kill(old_pid, signal.SIGKILL)
    first = workspace.wait_run(proc)
    assert not first.timed_out, f"the run hung after its Valkey was killed\n{first.tail()}"
    assert_recovers(workspace, baseline, source, f"after killing valkey (first run exit {first.returncode})")
    new_pid = workspace.valkey_pid()
    assert new_pid and new_pid != old_pid, "the next run did not restart the embedded valkey"


@pytest.fixture
def es_indexes(elasticsearch_url: str):
    """Index names private to this test on the session's Elasticsearch node, deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = {"ES_CODE_INDEX": f"faults-{tag}-code", "ES_REPO_INDEX": f"faults-{tag}-repos"}
    yield elasticsearch_url, names
    import requests

    for name in names.values():
        with contextlib.suppress(requests.RequestException):
            requests.delete(f"{elasticsearch_url}/{name}", timeout=30)


def test_elasticsearch_unreachable_20s_mid_bulk(workspace: Workspace, baseline: Baseline, es_indexes):
    es_url, names = es_indexes
    parts = urlsplit(es_url)
    code_index = names["ES_CODE_INDEX"].encode()
    # The first chunk of a bulk request that writes code documents: forwarded, then the node is cut off.
    proxy = CuttableProxy(
        (parts.hostname, parts.port),
        cut_on=lambda data: code_index in data and b'"_id"' in data,
        cut_seconds=20.0,
    ).start()
    workspace.cleanups.append(proxy.stop)
    workspace.extra_env.update(names)
    workspace.extra_env["ELASTICSEARCH_URL"] = proxy.url
    source = copy_corpus(baseline.corpus, workspace.root / "source")
    first = workspace.run(source)
    assert proxy.cuts or proxy.cut_on is None, "no code bulk request went through the proxy"
    assert not first.timed_out, f"the run hung while Elasticsearch was unreachable\n{first.tail()}"
    wait_for(lambda: proxy.cuts, timeout=30)  # the cut is over before the next run starts
    assert_recovers(
        workspace,
        baseline,
        source,
        f"after Elasticsearch was cut for 20 s mid-bulk (first run exit {first.returncode})",
        ELASTICSEARCH_URL=es_url,
    )


def test_spool_disk_fills_up(workspace: Workspace, baseline: Baseline):
    source = copy_corpus(baseline.corpus, workspace.root / "source")
    # A clean run spools ~550 KB over 3 batches: 192 KB fills up during the first or second batch.
    with small_spool(workspace.data_dir, 192 * 1024) as how:
        if how == "tmpfs":
            first = workspace.run(source)
        else:  # no tmpfs here: every file the run writes is capped instead (Valkey started outside the cap)
            from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey

            ensure_embedded_valkey(workspace.data_dir)
            first = workspace.run(source, preexec=fsize_limit(192 * 1024))
        assert not first.timed_out, f"the run hung on a full spool disk ({how})\n{first.tail()}"
        full = ("No space left on device", "Errno 28", "File too large", "Errno 27")
        assert first.returncode != 0 or any(m in first.output for m in full), (
            f"the spool never filled up ({how}): the fault was not injected\n{first.tail()}"
        )
        if how == "tmpfs":
            grow_spool(workspace.data_dir)  # the disk has room again (as after a cleanup job)
        what = f"after the spool disk filled up ({how}, first run exit {first.returncode})"
        assert_recovers(workspace, baseline, source, what)


def _fate(state: dict, name: str) -> str:
    if name in state["dead"]:
        return "dead"
    if name in state["inflight"]:
        return "in flight"
    if name in state["processed_repos"]:
        return "processed"
    return "not parked (skipped before queueing, or still queued)"


def test_poison_repos_are_parked_and_the_rest_indexed(workspace: Workspace, baseline: Baseline):
    good = copy_corpus(baseline.corpus, workspace.root / "source")
    poison = build_poison_source(workspace.root / "poison", good, closed_port())
    attempts = 3  # MAX_REPO_ATTEMPTS in the harness environment, with REPO_RETRY_BACKOFF=0
    runs = []
    for _ in range(attempts):
        result = workspace.run(poison.source)
        assert not result.timed_out, f"run {len(runs) + 1} hung on poison repos\n{result.tail()}"
        runs.append(result)
        state = workspace.state()
        if set(state["dead"]) >= set(poison.names) and not state["queue"] and not state["inflight"]:
            break
    codes = [r.returncode for r in runs]
    state = workspace.state()
    fates = {name: _fate(state, name) for name in poison.names}
    assert set(state["dead"]) == set(poison.names), f"after runs exiting {codes}: {fates}"
    for name, entry in state["dead"].items():
        record = json.loads(entry)
        assert record.get("reason"), f"{name} parked without a reason: {record}"
    for name in poison.refused:
        assert name not in state["dead"] and name not in state["inflight"], f"{name} should never be queued"
    verdict = compare(state, set(baseline.ids))
    assert (verdict.lost, verdict.duplicated, verdict.inflight, verdict.queued, verdict.in_progress_runs) == (
        0,
        0,
        0,
        0,
        [],
    ), f"runs {codes}: {verdict.describe()} {verdict.detail}"
    assert all(code == 0 for code in codes[1:]), f"exit codes of the runs: {codes}\n{runs[-1].tail()}"
    # Parked repos stay parked: one more run exits 0 and changes nothing.
    started = time.monotonic()
    again = workspace.run(poison.source)
    assert again.returncode == 0, f"the run after parking exited {again.returncode}\n{again.tail()}"
    after = workspace.state()
    assert set(after["dead"]) == set(poison.names) and sorted(after["ids"]) == sorted(state["ids"]), (
        f"a later run ({time.monotonic() - started:.0f}s) changed the parked set or the index"
    )


def test_a_run_past_its_deadline_leaves_its_stacks_in_its_output(workspace: Workspace, baseline: Baseline):
    """The harness's own diagnosis of a hang: a run still going at its deadline is sent SIGABRT before it is
    killed, so the failure shows where each of its threads waited. A run of the corpus takes seconds
    (Dagster's imports alone more than one), so it is still going after one second."""
    source = copy_corpus(baseline.corpus, workspace.root / "source")
    result = workspace.wait_run(workspace.start_run(source), timeout=1.0)
    assert result.timed_out and result.returncode is None
    assert "Fatal Python error: Aborted" in result.output
    assert "most recent call first" in result.output
