"""The GitLab source against a real HTTP replay server, with a fake clock recording every wait."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dagster as dg
import pytest
import redis as redis_lib

from codelupe_dagster.assets.crawl import crawled_repos
from codelupe_dagster.backends.git_clone import CloneRefused, check_source, repo_path
from codelupe_dagster.backends.search import REPO_SCHEMA, open_search_index
from codelupe_dagster.backends.sources import SourceRequest, collect, open_source
from codelupe_dagster.backends.sources.gitlab import GitLabSource, repo_record_from_project
from codelupe_dagster.backends.sources.gitlab_client import GitLabAuthError, GitLabServerError
from codelupe_dagster.backends.sources.state import DictStore
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.resources import GitResource, default_resources, sources_from_env
from codelupe_dagster.resources.forge import CrawlOverrides
from codelupe_dagster.resources.gitlab import GitLabForge
from codelupe_dagster.resources.sources import SourcesResource
from tests.support.github_replay import FakeClock
from tests.support.gitlab_replay import (
    RETRY_AFTER_S,
    GitLabReplayServer,
    crawlable,
    project,
    sample_projects,
)

START = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
TOKEN = "glpat-s3cret-t0ken"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def projects() -> list[dict]:
    return sample_projects()


@pytest.fixture
def server(projects, clock):
    with GitLabReplayServer(projects, clock=clock.now, valid_tokens=frozenset({TOKEN})) as replay:
        yield replay


def open_gitlab(server, clock, state=None, **options) -> GitLabSource:
    stores: dict[str, DictStore] = state if state is not None else {}
    request = SourceRequest(
        options={"url": server.url, "token": TOKEN, "per_page": 10, **options},
        state=lambda name: stores.setdefault(name, DictStore()),
        sleep=clock.sleep,
        now=clock.now,
    )
    source = open_source("gitlab", request)
    assert isinstance(source, GitLabSource)
    return source


# ---------------------------------------------------------------- mapping


def test_project_maps_to_repo_record():
    item = project(
        42, "gitlab-org/security/gitlab", stars=7, forks=3, forked_from="gitlab-org/gitlab",
        license_key="mit", repository_size=5 * 1024 * 1024, topics=("ruby", "devops"),
        description="The DevOps platform", last_activity=datetime(2026, 5, 1, 10, tzinfo=UTC),
    )  # fmt: skip
    assert item["last_activity_at"] == "2026-05-01T10:00:00.042Z"  # GitLab writes milliseconds
    assert repo_record_from_project(item) == RepoRecord(
        full_name="gitlab-org/security/gitlab",
        clone_url="https://gitlab.example.com/gitlab-org/security/gitlab.git",
        stars=7,
        forks=3,
        license="mit",
        size_kb=5 * 1024,
        pushed_at="2026-05-01T10:00:00+00:00",
        fork=True,
        default_branch="main",
        topics=("ruby", "devops"),
        description="The DevOps platform",
        source="gitlab",
    )
    plain = repo_record_from_project(project(1, "solo/tool", license_key="other", default_branch=None))
    assert (plain.fork, plain.license, plain.size_kb, plain.default_branch) == (False, None, 0, None)


# ---------------------------------------------------------------- crawls over HTTP


def test_keyset_pages_are_followed_and_nested_names_kept(server, clock, projects, tmp_path):
    source = open_gitlab(server, clock)
    records = collect(source)

    names = [record.full_name for record in records]
    assert set(names) == crawlable(projects) and len(names) == len(set(names))
    assert "fdroid/apps/tools/project-2" in names  # three levels of groups
    assert len({repo_path(tmp_path, name) for name in names}) == len(names), "one clone directory each"
    # three pages of 10, 10, 5: the first without a cursor, then each `next` link's id_after
    assert [r.params.get("id_after") for r in server.requests] == [None, "30", "60"]
    assert all(r.params["pagination"] == "keyset" and r.params["order_by"] == "id" for r in server.requests)
    assert all(r.token == TOKEN for r in server.requests)
    stats = source.stats()
    assert stats.repos_seen == len(names) and stats.stopped is None
    assert dict(stats.skipped_by_reason) == {"empty_repository": 1, "repository_disabled": 1}
    assert stats.details["pages"] == 3 and stats.details["pass_complete"] is True
    assert clock.sleeps == []


def test_exhausted_quota_is_waited_for_before_the_next_request(projects, clock):
    with GitLabReplayServer(projects, clock=clock.now, limit=2, window_s=60) as server:
        source = open_gitlab(server, clock, token=None)
        assert {r.full_name for r in collect(source)} == crawlable(projects)
    assert [r.status for r in server.requests] == [200, 200, 200], "no request spent on an empty quota"
    first_reset = int(server.requests[0].headers["RateLimit-Reset"])
    assert clock.sleeps == [first_reset - START + 1.0]  # RateLimit-Reset, plus the one-second margin
    assert source.stats().details["rate_limit_waits"] == 1


def test_429_retry_after_and_a_5xx_are_recovered(server, clock, projects):
    server.faults = {2: "429", 4: "500"}
    source = open_gitlab(server, clock, backoff_s=1.0)
    assert {r.full_name for r in collect(source)} == crawlable(projects)
    assert [r.status for r in server.requests] == [200, 429, 200, 500, 200]
    assert clock.sleeps == [float(RETRY_AFTER_S), 1.0]
    details = source.stats().details
    assert (details["rate_limit_waits"], details["retries"], details["api_calls"]) == (1, 1, 5)


def test_persistent_server_errors_fail_after_bounded_backoff(server, clock):
    server.faults = dict.fromkeys(range(1, 10), "502")
    with pytest.raises(GitLabServerError, match="after 2 retries"):
        collect(open_gitlab(server, clock, max_retries=2, backoff_s=0.5))
    assert clock.sleeps == [0.5, 1.0] and len(server.requests) == 3


def test_rejected_token_is_a_clear_error_that_never_shows_it(server, clock, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GitLabAuthError, match=r"401.*check GITLAB_TOKEN") as error:
        collect(open_gitlab(server, clock, token="glpat-wrong-t0ken"))
    assert error.value.status == 401 and clock.sleeps == [] and len(server.requests) == 1
    assert "glpat-wrong-t0ken" not in str(error.value) and "glpat" not in caplog.text

    server.faults = {2: "403"}
    with pytest.raises(GitLabAuthError, match=r"403.*read_api"):
        collect(open_gitlab(server, clock))


def test_token_never_reaches_urls_or_logs(server, clock, caplog):
    caplog.set_level(logging.DEBUG)
    server.faults = {1: "502"}
    collect(open_gitlab(server, clock, backoff_s=0.01))
    assert "GitLab 502" in caplog.text
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(r.params) for r in server.requests)
    assert TOKEN not in repr(open_gitlab(server, clock).settings)


def test_page_budget_stops_and_the_cursor_resumes_then_a_pass_restarts(server, clock, projects):
    state: dict[str, DictStore] = {}
    first = open_gitlab(server, clock, state, max_pages=1)
    first_names = {r.full_name for r in collect(first)}
    assert first.stats().stopped == "page_budget" and len(server.requests) == 1
    assert state["gitlab_cursor"].get(server.url) == "30"

    second = open_gitlab(server, clock, state)
    second_names = {r.full_name for r in collect(second)}
    assert [r.params.get("id_after") for r in server.requests[1:]] == ["30", "60"]
    assert first_names | second_names == crawlable(projects) and not first_names & second_names
    assert second.stats().details["pass_complete"] is True
    assert state["gitlab_cursor"].get(server.url) is None  # the next run starts a new pass

    collect(open_gitlab(server, clock, state, max_pages=1))
    assert server.requests[-1].params.get("id_after") is None


def test_rate_limit_over_budget_stops_cleanly_with_the_cursor_kept(server, clock):
    state: dict[str, DictStore] = {}
    server.faults = {2: "429"}
    source = open_gitlab(server, clock, state, max_wait_s=1.0)
    records = collect(source)
    stats = source.stats()
    assert stats.stopped == "rate_limited" and stats.resume_at == pytest.approx(clock.now() + RETRY_AFTER_S)
    assert len(records) == 10 and state["gitlab_cursor"].get(server.url) == "30"
    assert clock.sleeps == []


def test_min_stars_and_full_refresh(server, clock, projects):
    state: dict[str, DictStore] = {"gitlab_cursor": DictStore({server.url: "60"})}
    source = open_gitlab(server, clock, state, min_stars=30)
    source_request_refresh = SourceRequest(
        options={"url": server.url, "token": TOKEN, "min_stars": 30},
        state=lambda name: state.setdefault(name, DictStore()),
        sleep=clock.sleep,
        now=clock.now,
        full_refresh=True,
    )
    assert source.stats().skipped == 0
    refreshed = open_source("gitlab", source_request_refresh)
    names = {r.full_name for r in collect(refreshed)}
    assert server.requests[0].params.get("id_after") is None  # the cursor was forgotten
    assert names == crawlable(projects, min_stars=30)
    assert refreshed.stats().skipped_by_reason["below_min_stars"] > 0


# ---------------------------------------------------------------- through Dagster


def test_crawled_repos_with_the_gitlab_source(data_dir, resources_for, redis_url, projects):
    with GitLabReplayServer(projects, valid_tokens=frozenset({TOKEN})) as server:
        gitlab = GitLabForge(url=server.url, token=TOKEN, per_page=10, backoff_s=0.01)
        resources = resources_for(data_dir, redis_url, sources=SourcesResource(gitlab=gitlab))
        server.faults = {2: "500"}
        result = dg.materialize(
            [crawled_repos], resources=resources,
            run_config={"ops": {"crawled_repos": {"config": {"source": "gitlab"}}}},
        )  # fmt: skip
        assert result.success
        (event,) = result.asset_materializations_for_node("crawled_repos")
        metadata = {key: value.value for key, value in event.metadata.items()}

        expected = crawlable(projects)
        assert (metadata["source"], metadata["source_kind"]) == ("gitlab", "gitlab")
        assert metadata["repos_new"] == metadata["repos_seen"] == len(expected)
        assert metadata["skipped_by_reason"] == {"empty_repository": 1, "repository_disabled": 1}
        assert (metadata["pages"], metadata["retries"], metadata["pass_complete"]) == (3, 1, True)
        index = open_search_index(REPO_SCHEMA, data_dir=data_dir)
        docs = index.get(sorted(expected))
        assert set(docs) == expected
        nested = docs["fdroid/apps/tools/project-2"]
        assert nested["source"] == "gitlab" and nested["clone_url"].endswith(
            "/fdroid/apps/tools/project-2.git"
        )

        # a page budget leaves the cursor in Redis for the next run
        budget = GitLabForge(url=server.url, token=TOKEN, per_page=10, max_pages=1)
        resources = resources_for(data_dir, redis_url, sources=SourcesResource(gitlab=budget))
        stopped = dg.materialize(
            [crawled_repos], resources=resources,
            run_config={"ops": {"crawled_repos": {"config": {"source": "gitlab"}}}},
        )  # fmt: skip
        (event,) = stopped.asset_materializations_for_node("crawled_repos")
        assert event.metadata["stopped"].value == "page_budget"
        assert event.metadata["repos_unchanged"].value == 10
        cursor = redis_lib.Redis.from_url(redis_url).hget("pipeline:stats:gitlab_cursor", server.url)
        assert cursor == b"30"


def test_gitlab_settings_from_env(monkeypatch):
    monkeypatch.delenv("GITLAB_URL", raising=False)
    monkeypatch.delenv("GITLAB_TOKEN", raising=False)
    default = sources_from_env().gitlab
    assert (default.url, default.token) == ("https://gitlab.com", None)
    monkeypatch.setenv("GITLAB_URL", "https://gitlab.example.org")
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-env")
    configured = sources_from_env()
    assert configured.gitlab.url == "https://gitlab.example.org"
    assert isinstance(configured.gitlab.token, dg.EnvVar)  # resolved by Dagster at run time, never shown
    options = configured.process_config_and_initialize().options("gitlab", CrawlOverrides(min_stars=5))
    assert (options["token"], options["min_stars"], options["url"]) == (
        "glpat-env",
        5,
        "https://gitlab.example.org",
    )


# ---------------------------------------------------------------- clone policy


def _gitlab_records(server) -> dict[str, RepoRecord]:
    """What the configured GitLab source lists, through the same resource path as a crawl."""
    sources = default_resources()["sources"].process_config_and_initialize()
    options = sources.options("gitlab", CrawlOverrides())
    assert options["url"] == server.url
    return {
        record.full_name: record for record in collect(open_source("gitlab", SourceRequest(options=options)))
    }


def test_gitlab_clone_urls_are_admitted_by_the_clone_policy(data_dir, monkeypatch):
    """The configured GitLab's host is allowed out of the box; a host outside the list is not, until
    CLONE_ALLOWED_HOSTS names it."""
    hosted = [
        project(1, "group/sub/tool", host="127.0.0.1"),  # on the instance GITLAB_URL points at
        project(2, "mirror/tool", host="gitlab.example.com"),  # a host no forge is configured for
    ]
    for name in ("CLONE_ALLOWED_HOSTS", "CLONE_ALLOWED_SCHEMES", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with GitLabReplayServer(hosted) as server:
        monkeypatch.setenv("GITLAB_URL", server.url)
        records = _gitlab_records(server)
        on_instance, elsewhere = records["group/sub/tool"], records["mirror/tool"]
        assert on_instance.source == "gitlab"

        policy = default_resources()["git"].policy()
        assert policy.allowed_hosts == {"github.com", "127.0.0.1"}
        assert check_source(on_instance, policy) == "https://127.0.0.1/group/sub/tool.git"
        with pytest.raises(CloneRefused) as refused:
            check_source(elsewhere, policy)
        assert refused.value.reason == "host_not_allowed"

        monkeypatch.setenv("CLONE_ALLOWED_HOSTS", "GitLab.Example.com, ")
        extended = default_resources()["git"].policy()
        assert check_source(elsewhere, extended) == "https://gitlab.example.com/mirror/tool.git"
        assert check_source(on_instance, extended) == "https://127.0.0.1/group/sub/tool.git"


def test_gitlab_com_is_cloneable_by_default(data_dir, monkeypatch):
    for name in ("GITLAB_URL", "CLONE_ALLOWED_HOSTS", "CLONE_ALLOWED_SCHEMES"):
        monkeypatch.delenv(name, raising=False)
    policy = default_resources()["git"].policy()
    assert policy.allowed_hosts == {"github.com", "gitlab.com"}
    record = repo_record_from_project(project(3, "fdroid/apps/fdroidclient", host="gitlab.com"))
    assert check_source(record, policy) == "https://gitlab.com/fdroid/apps/fdroidclient.git"
    hand_built = GitResource(repos_dir="unused").policy()  # a resource built in code gets the same hosts
    assert hand_built.allowed_hosts == policy.allowed_hosts
