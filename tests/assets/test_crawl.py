"""`crawled_repos` materialized by Dagster into a real SQLite repo index, with real Redis for crawl state."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import dagster as dg
import pygit2
import pytest
import redis as redis_lib

from codelupe_dagster.assets.crawl import crawled_repos
from codelupe_dagster.assets.queue import queued_repos
from codelupe_dagster.backends.search import REPO_SCHEMA, open_search_index
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.resources import sources_from_env
from codelupe_dagster.resources.forge import CrawlOverrides
from codelupe_dagster.resources.github import GitHubForge
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.resources.sources import SourcesResource
from tests.backends.sources.test_local import make_repo
from tests.support.github_replay import GitHubReplayServer, expected_names, synthetic_population
from tests.support.planted import GITHUB_TOKEN

WATERMARK_KEY = "pipeline:stats:crawl_watermark"
ETAG_KEY = "pipeline:stats:crawl_etags"
GO_QUERY = "language:go stars:>=10"


def materialize(resources: dict, **config) -> dict:
    result = dg.materialize(
        [crawled_repos], resources=resources, run_config={"ops": {"crawled_repos": {"config": config}}}
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("crawled_repos")
    return {key: value.value for key, value in materialization.metadata.items()}


def repo_index(data_dir: Path):
    index = open_search_index(REPO_SCHEMA, data_dir=data_dir)
    index.ensure()
    return index


# ---------------------------------------------------------------- local source


@pytest.fixture
def local_source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    make_repo(root / "alpha", ["json/decoder.py", "json/scanner.py"])
    make_repo(root / "beta", ["textwrap.py"])
    make_repo(root / "acme" / "gamma", ["colorsys.py"])
    (root / "plain").mkdir()
    (root / "plain" / "notes.txt").write_text("no repository here\n")
    return root


def test_local_source_upserts_records_and_counts_changes(data_dir, resources_for, local_source):
    # The pipeline's source (CODELUPE_SOURCE) is the default when the run config names none.
    pipeline = PipelineResource(data_dir=str(data_dir), source=str(local_source))
    resources = resources_for(data_dir, None, pipeline=pipeline)

    first = materialize(resources)
    assert first["source"] == str(local_source)
    assert (first["repos_seen"], first["repos_new"], first["repos_updated"]) == (3, 3, 0)
    assert first["skipped_by_reason"] == {"not_a_git_repository": 1}
    index = repo_index(data_dir)
    docs = index.get(["local/alpha", "local/beta", "acme/gamma"])
    assert set(docs) == {"local/alpha", "local/beta", "acme/gamma"}
    assert docs["local/beta"]["head"] == str(pygit2.Repository(str(local_source / "beta")).head.target)
    assert docs["local/beta"]["source"] == "local" and docs["local/beta"]["indexed_at"]

    # the queue stage writes its priority into the same documents; a re-crawl must keep it
    index.bulk_upsert([{**docs["local/beta"], "priority": 0.42}]).raise_for_errors()
    second = materialize(resources, source=str(local_source))
    assert (second["repos_new"], second["repos_updated"], second["repos_unchanged"]) == (0, 0, 3)

    repo = pygit2.Repository(str(local_source / "beta"))
    (local_source / "beta" / "CHANGES.txt").write_text("a new commit\n")
    repo.index.add_all()
    repo.index.write()
    signature = pygit2.Signature("Fixture", "fixture@example.invalid")
    new_head = repo.create_commit(
        "HEAD", signature, signature, "change", repo.index.write_tree(), [repo.head.target]
    )
    third = materialize(resources, source=str(local_source))
    assert (third["repos_new"], third["repos_updated"], third["repos_unchanged"]) == (0, 1, 2)
    beta = index.get(["local/beta"])["local/beta"]
    assert beta["head"] == str(new_head) and beta["priority"] == 0.42
    assert index.count() == 3


def test_missing_local_source_fails_the_run_clearly(data_dir, resources_for, tmp_path):
    resources = resources_for(data_dir, None)
    result = dg.materialize(
        [crawled_repos],
        resources=resources,
        run_config={"ops": {"crawled_repos": {"config": {"source": str(tmp_path / "absent")}}}},
        raise_on_error=False,
    )
    assert not result.success
    assert "neither a directory nor a file" in str(
        result.get_step_failure_events()[0].event_specific_data.error
    )


# ---------------------------------------------------------------- GitHub source


@pytest.fixture
def replay():
    population = synthetic_population()
    with GitHubReplayServer(population, token_limit=10_000) as server:
        yield server, population


def github_sources(server: GitHubReplayServer, **overrides) -> SourcesResource:
    settings = {"api_url": server.url, "languages": ["go"], "min_stars": 10, "pushed_since": "2025-01-01",
                "backoff_s": 0.01, "token": "t0ken", **overrides}  # fmt: skip
    return SourcesResource(github=GitHubForge(**settings))


def test_github_crawl_is_incremental_with_watermark_and_etags(data_dir, resources_for, redis_url, replay):
    server, population = replay
    server.faults = {2: "502"}
    resources = resources_for(data_dir, redis_url, sources=github_sources(server))
    expected = expected_names(population, ["go"], 10, date(2025, 1, 1))

    first = materialize(resources, source="github")
    assert first["repos_new"] == len(expected) == first["repos_seen"]
    assert first["api_calls"] == len(server.requests) == 4 and first["retries"] == 1
    assert first["pages"] == 3 and first["rate_limited"] is False
    index = repo_index(data_dir)
    assert index.count() == len(expected)
    assert set(index.get(sorted(expected))) == expected
    watermark = redis_lib.Redis.from_url(redis_url).hget(WATERMARK_KEY, GO_QUERY).decode()
    assert first["watermarks"] == {GO_QUERY: watermark}

    start = len(server.requests)
    second = materialize(resources, source="github")
    assert {r.q for r in server.requests[start:]} == {f"{GO_QUERY} pushed:>={watermark[:10]}"}
    assert second["repos_new"] == 0 and second["repos_unchanged"] == second["repos_seen"] > 0
    etags = redis_lib.Redis.from_url(redis_url).hkeys(ETAG_KEY)
    assert second["etags_pruned"] == 3 and etags and all(b"2025-01-01" not in url for url in etags)

    start = len(server.requests)
    third = materialize(resources, source="github")
    assert {r.status for r in server.requests[start:]} == {304}
    assert third["not_modified"] == third["pages_not_modified"] == third["api_calls"] >= 1
    assert third["repos_seen"] == 0

    fresh = materialize(resources, source="github", full_refresh=True)
    assert fresh["repos_seen"] == len(expected) and fresh["repos_unchanged"] == len(expected)


def test_rate_limit_over_budget_stops_cleanly_then_resumes(data_dir, resources_for, redis_url, replay):
    server, population = replay
    server.faults = {2: "secondary_retry_after"}  # 30s, over the 1s budget below
    patient = resources_for(data_dir, redis_url, sources=github_sources(server, max_wait_s=1.0))

    stopped = materialize(patient, source="github")
    assert stopped["rate_limited"] is True and stopped["stopped"] == "rate_limited" and stopped["resume_at"]
    assert 0 < stopped["repos_new"] < len(expected_names(population, ["go"], 10, date(2025, 1, 1)))
    assert redis_lib.Redis.from_url(redis_url).hget(WATERMARK_KEY, GO_QUERY) is None

    resumed = materialize(patient, source="github")
    assert resumed["rate_limited"] is False and resumed["not_modified"] == 1
    assert repo_index(data_dir).count() == len(expected_names(population, ["go"], 10, date(2025, 1, 1)))


def test_github_settings_plan_and_token_from_env(monkeypatch):
    resource = GitHubForge(languages=["go", "rust"], min_stars=50, pushed_within_days=30)
    plan = resource.plan(today=date(2026, 7, 1))
    assert (plan.languages, plan.min_stars, plan.pushed_since) == (("go", "rust"), 50, date(2026, 6, 1))
    overridden = resource.plan(languages=["zig"], min_stars=0, pushed_since="2026-01-01")
    assert (overridden.languages, overridden.min_stars, overridden.pushed_since) == (
        ("zig",),
        0,
        date(2026, 1, 1),
    )
    assert GitHubForge(pushed_within_days=None).plan().pushed_since is None
    # the run config's overrides reach the source's options; what it leaves unset keeps the block's value
    options = resource.source_options(CrawlOverrides(min_stars=3), today=date(2026, 7, 1))
    assert (options["languages"], options["min_stars"], options["pushed_since"]) == (
        ("go", "rust"),
        3,
        date(2026, 6, 1),
    )

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert sources_from_env().github.token is None
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    configured = sources_from_env()
    assert isinstance(configured.github.token, dg.EnvVar)  # resolved by Dagster at run time, never shown
    assert configured.process_config_and_initialize().github.token == "ghp_secret"


# ---------------------------------------------------------------- redaction of free text

LEAKY_ADDRESS = "alice.smith@corp-mail.com"


def leaky_population() -> tuple[list, str]:
    """The synthetic population with one crawled Go repository whose description holds a pasted token
    and its owner's address; the repository's name."""
    population = synthetic_population()
    leaky_name = sorted(expected_names(population, ["go"], 10, date(2025, 1, 1)))[0]
    description = f"Deploy helper (token {GITHUB_TOKEN}), mail {LEAKY_ADDRESS}"
    population = [
        replace(repo, description=description) if repo.full_name == leaky_name else repo
        for repo in population
    ]
    return population, leaky_name


@pytest.mark.parametrize("pii_redact", ["email,ip", "none"])
def test_crawled_descriptions_are_redacted_in_the_repo_index_and_the_queue(
    data_dir, resources_for, redis_url, pii_redact
):
    population, leaky = leaky_population()
    with GitHubReplayServer(population, token_limit=10_000) as server:
        pipeline = PipelineResource(data_dir=str(data_dir), pii_redact=pii_redact)
        resources = resources_for(data_dir, redis_url, sources=github_sources(server), pipeline=pipeline)
        metadata = materialize(resources, source="github")
    placeholder = "<EMAIL>" if pii_redact != "none" else LEAKY_ADDRESS
    expected = f"Deploy helper (token <SECRET:github_pat>), mail {placeholder}"
    assert metadata["secrets_redacted"] == {"github_pat": 1}
    assert metadata["pii_redacted"] == ({"email": 1} if pii_redact != "none" else {})

    stored = repo_index(data_dir).get([leaky])[leaky]
    assert stored["description"] == expected
    # The queue takes its records from the repo index: they are redacted there too.
    assert dg.materialize([queued_repos], resources=resources).success
    queued = redis_lib.Redis.from_url(redis_url).hget(RedisKeys().repo_meta, leaky)
    assert json.loads(queued)["description"] == expected
    assert GITHUB_TOKEN.encode() not in queued


def test_a_record_stored_before_redaction_is_rewritten_redacted(data_dir, resources_for, redis_url):
    """An index crawled before redaction existed heals on the next crawl: the redacted record differs
    from the stored one, so it is written again."""
    population, leaky = leaky_population()
    with GitHubReplayServer(population, token_limit=10_000) as server:
        resources = resources_for(data_dir, redis_url, sources=github_sources(server))
        materialize(resources, source="github")
        index = repo_index(data_dir)
        raw = f"old crawl: {GITHUB_TOKEN} {LEAKY_ADDRESS}"
        index.bulk_upsert([{**index.get([leaky])[leaky], "description": raw}]).raise_for_errors()
        server.faults = {}
        again = materialize(resources, source="github", full_refresh=True)
    assert again["repos_updated"] == 1
    assert GITHUB_TOKEN not in repo_index(data_dir).get([leaky])[leaky]["description"]


def test_a_raw_record_in_the_repo_index_is_redacted_on_its_way_to_the_queue(
    data_dir, resources_for, redis_url
):
    """A record written before redaction existed and not crawled since: `queued_repos` redacts it (the
    queue's record and the index), counts it, and a second run finds nothing left to redact."""
    population, leaky = leaky_population()
    with GitHubReplayServer(population, token_limit=10_000) as server:
        resources = resources_for(data_dir, redis_url, sources=github_sources(server))
        materialize(resources, source="github")
    index = repo_index(data_dir)
    raw = f"old crawl: {GITHUB_TOKEN} {LEAKY_ADDRESS}"
    index.bulk_upsert([{**index.get([leaky])[leaky], "description": raw}]).raise_for_errors()
    index.refresh()

    first = dg.materialize([queued_repos], resources=resources)
    assert first.success
    (event,) = first.asset_materializations_for_node("queued_repos")
    assert event.metadata["secrets_redacted"].value == {"github_pat": 1}
    assert event.metadata["pii_redacted"].value == {"email": 1}
    queued = redis_lib.Redis.from_url(redis_url).hget(RedisKeys().repo_meta, leaky)
    assert json.loads(queued)["description"] == "old crawl: <SECRET:github_pat> <EMAIL>"
    assert repo_index(data_dir).get([leaky])[leaky]["description"] == "old crawl: <SECRET:github_pat> <EMAIL>"

    second = dg.materialize([queued_repos], resources=resources)
    (event,) = second.asset_materializations_for_node("queued_repos")
    assert event.metadata["secrets_redacted"].value == {} and event.metadata["pii_redacted"].value == {}


def test_skipped_list_entries_are_logged_redacted(data_dir, resources_for, tmp_path):
    """A URL list's line is logged when it is skipped; a path holding a token or an address is redacted
    in the run's event log like any other exit."""
    listing = tmp_path / "repos.txt"
    listing.write_text(f"/nonexistent/{LEAKY_ADDRESS}/{GITHUB_TOKEN}/repo\n")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [crawled_repos],
        resources=resources_for(data_dir, None),
        instance=instance,
        run_config={"ops": {"crawled_repos": {"config": {"source": str(listing)}}}},
    )
    assert result.success
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("/nonexistent/<EMAIL>/<SECRET:github_pat>/repo" in message for message in messages)
    assert not any(GITHUB_TOKEN in message or LEAKY_ADDRESS in message for message in messages)
