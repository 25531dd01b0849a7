"""The GitHub search crawl against a real HTTP replay server, with a fake clock recording every wait."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from codelupe_dagster.backends.sources.forge_http import MAX_RATE_LIMIT_WAITS_PER_REQUEST, RESET_MARGIN_S
from codelupe_dagster.backends.sources.github import SearchCrawler
from codelupe_dagster.backends.sources.github_client import (
    GitHubAPIError,
    GitHubSearchClient,
    GitHubServerError,
    SearchCapExceeded,
)
from codelupe_dagster.backends.sources.github_items import repo_record_from_item
from codelupe_dagster.backends.sources.github_query import SearchPlan, SearchSlice, split_slice
from codelupe_dagster.backends.sources.state import DictStore
from codelupe_dagster.core.models import RepoRecord
from tests.support.github_replay import (
    FakeClock,
    GitHubReplayServer,
    SyntheticRepo,
    expected_names,
    synthetic_population,
)

START = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
SINCE = date(2025, 1, 1)
PLAN = SearchPlan(languages=("go", "python"), min_stars=10, pushed_since=SINCE)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def population() -> list[SyntheticRepo]:
    return synthetic_population()


@pytest.fixture
def server(population, clock):
    with GitHubReplayServer(population, clock=clock.now) as replay:
        yield replay


def make_client(server: GitHubReplayServer, clock: FakeClock, **options) -> GitHubSearchClient:
    token = options.pop("token", "t0ken")
    return GitHubSearchClient(server.url, token=token, sleep=clock.sleep, now=clock.now, **options)


class Sink:
    """Collects what a crawl hands over, keeping every call so duplicates would show."""

    def __init__(self) -> None:
        self.records: list[RepoRecord] = []

    def __call__(self, records: list[RepoRecord]) -> None:
        self.records.extend(records)

    @property
    def names(self) -> list[str]:
        return [record.full_name for record in self.records]


def crawl(client, plan=PLAN, etags=None, watermarks=None):
    sink = Sink()
    stats = SearchCrawler(client, plan, sink=sink, etags=etags, watermarks=watermarks).run()
    return sink, stats


# ---------------------------------------------------------------- pure pieces


@pytest.mark.parametrize(
    ("piece", "query"),
    [
        (SearchSlice("python", 10), "language:python stars:>=10"),
        (SearchSlice("go", 5, 5), "language:go stars:5"),
        (SearchSlice("go", 5, 80, date(2025, 1, 1)), "language:go stars:5..80 pushed:>=2025-01-01"),
        (SearchSlice(None, 0, None, date(2025, 1, 1), date(2025, 3, 1)),
         "stars:>=0 pushed:2025-01-01..2025-03-01"),
        (SearchSlice("jupyter notebook", 1, None, None, date(2025, 3, 1)),
         'language:"jupyter notebook" stars:>=1 pushed:<=2025-03-01'),
        (SearchSlice("c", 1, None, date(2025, 3, 1), date(2025, 3, 1)),
         "language:c stars:>=1 pushed:2025-03-01"),
    ],
)  # fmt: skip
def test_slice_query(piece, query):
    assert piece.query() == query


TODAY = date(2026, 7, 1)


@pytest.mark.parametrize(
    ("piece", "max_seen", "halves"),
    [
        # an open star range is bounded by the top repository; the upper half stays open
        (SearchSlice("go", 10), 1000, (SearchSlice("go", 10, 100), SearchSlice("go", 101))),
        (SearchSlice("go", 10, 11), None, (SearchSlice("go", 10, 10), SearchSlice("go", 11, 11))),
        (SearchSlice("go", 0, 4), None, (SearchSlice("go", 0, 2), SearchSlice("go", 3, 4))),
        # one star value: halve the dates; an open date range ends today but its upper half stays open
        (SearchSlice("go", 10), 10,
         (SearchSlice("go", 10, 10, date(2008, 1, 1), date(2017, 4, 1)),
          SearchSlice("go", 10, 10, date(2017, 4, 2)))),
        (SearchSlice("go", 7, 7, date(2026, 1, 1), date(2026, 1, 2)), None,
         (SearchSlice("go", 7, 7, date(2026, 1, 1), date(2026, 1, 1)),
          SearchSlice("go", 7, 7, date(2026, 1, 2), date(2026, 1, 2)))),
        # a single star value on a single day cannot be split
        (SearchSlice("go", 7, 7, date(2026, 1, 1), date(2026, 1, 1)), None, None),
        (SearchSlice("go", 7, None, TODAY), 7, None),
        # nothing seen to bound the stars (an empty incomplete page): halve the dates, stars stay open
        (SearchSlice("go", 7, None, date(2026, 1, 1), date(2026, 1, 3)), None,
         (SearchSlice("go", 7, None, date(2026, 1, 1), date(2026, 1, 2)),
          SearchSlice("go", 7, None, date(2026, 1, 3), date(2026, 1, 3)))),
    ],
)  # fmt: skip
def test_split_slice(piece, max_seen, halves):
    assert split_slice(piece, max_stars_seen=max_seen, today=TODAY) == halves


def test_item_maps_to_repo_record(population):
    noassertion = next(repo for repo in population if repo.license_spdx == "NOASSERTION")
    mit = next(repo for repo in population if repo.license_spdx == "MIT" and repo.topics)
    record = repo_record_from_item(mit.item())
    assert record == RepoRecord(
        full_name=mit.full_name,
        clone_url=f"https://github.com/{mit.full_name}.git",
        stars=mit.stars,
        forks=mit.forks,
        language=mit.language.lower(),
        license="MIT",
        size_kb=mit.size_kb,
        pushed_at=mit.pushed_at.replace(microsecond=0).isoformat(),
        archived=mit.archived,
        fork=mit.fork,
        default_branch="main",
        topics=mit.topics,
        description=mit.description,
        source="github",
    )
    assert record.pushed_at.endswith("+00:00")
    assert repo_record_from_item(noassertion.item()).license is None
    assert repo_record_from_item({**mit.item(), "license": None, "language": "C++"}).language == "cpp"
    with pytest.raises(KeyError):
        repo_record_from_item({"name": "no-full-name"})


# ---------------------------------------------------------------- crawls over HTTP


def test_crawl_slices_past_the_cap_and_finds_every_repo_once(server, clock, population):
    sink, stats = crawl(make_client(server, clock))

    expected = expected_names(population, ["go", "python"], 10, SINCE)
    assert len(expected) > 1000
    assert Counter(sink.names).most_common(1)[0][1] == 1
    assert set(sink.names) == expected
    assert stats.repos_seen == len(expected) and stats.stopped is None
    python_total = sum(1 for name in expected if "python" in name)
    assert python_total > 1000  # one query could never have returned them all
    queries = server.queries()
    assert any(" stars:10 " in q and "pushed:2025-01-01.." in q for q in queries), "dates were split"
    assert any("stars:10..1" in q for q in queries), "stars were split"
    assert all(request.page * request.per_page <= 1000 for request in server.requests)
    assert stats.splits >= 2 and stats.truncated_slices == 0
    assert stats.pages == sum(1 for r in server.requests if r.status == 200) - stats.splits


def test_faults_are_waited_out_and_retried(server, clock, population):
    server.faults = {2: "502", 3: "503", 5: "secondary_retry_after", 8: "429", 11: "secondary", 14: "primary"}
    client = make_client(server, clock)
    sink, stats = crawl(client)

    assert sorted(sink.names) == sorted(expected_names(population, ["go", "python"], 10, SINCE))
    primary = server.requests[13]
    assert primary.status == 403 and primary.headers["X-RateLimit-Remaining"] == "0"
    primary_wait = int(primary.headers["X-RateLimit-Reset"]) - primary.at + RESET_MARGIN_S
    # backoff 1s then 2s for the 5xx pair, Retry-After honoured exactly, 60s for a bare secondary limit
    assert clock.sleeps == [1.0, 2.0, 30.0, 5.0, 60.0, primary_wait]
    assert client.stats.retries == 2 and client.stats.rate_limit_waits == 4
    assert client.stats.rate_limit_wait_s == 30.0 + 5.0 + 60.0 + primary_wait
    assert stats.stopped is None


def test_non_json_success_body_is_retried(server, clock, population):
    server.faults = {1: "garbled"}
    client = make_client(server, clock)
    sink, _ = crawl(client, plan=SearchPlan(languages=("go",), min_stars=10, pushed_since=SINCE))
    assert set(sink.names) == expected_names(population, ["go"], 10, SINCE)
    assert client.stats.retries == 1 and clock.sleeps == [1.0]


def test_exhausted_quota_is_waited_for_before_the_next_request(population, clock):
    with GitHubReplayServer(population, clock=clock.now, token_limit=10) as server:
        sink, _ = crawl(make_client(server, clock))

    assert set(sink.names) == expected_names(population, ["go", "python"], 10, SINCE)
    assert all(request.status == 200 for request in server.requests), (
        "no request spent on a known-empty quota"
    )
    # each window opens at its first request and resets 60s later; +1s margin
    assert clock.sleeps == [61.0] * ((len(server.requests) - 1) // 10)


def test_endless_rate_limiting_stops_the_crawl(server, clock):
    server.faults = dict.fromkeys(range(1, 20), "429")
    sink, stats = crawl(make_client(server, clock))
    assert stats.stopped == "rate_limited" and sink.records == []
    assert clock.sleeps == [5.0] * MAX_RATE_LIMIT_WAITS_PER_REQUEST


def test_anonymous_clients_get_the_lower_limit(server, clock):
    client = make_client(server, clock, token=None)
    client.get(client.url_for("/search/repositories", {"q": "language:go stars:>=10", "per_page": 5}))
    assert server.requests[-1].authorized is False
    assert server.requests[-1].headers["X-RateLimit-Limit"] == "10"


def test_wait_over_budget_stops_cleanly_and_next_run_resumes_without_loss(server, clock, population):
    etags, watermarks = DictStore(), DictStore()
    server.faults = {12: "secondary_retry_after"}  # 30s, during the python pages
    first_sink, first = crawl(make_client(server, clock, max_wait_s=10), etags=etags, watermarks=watermarks)

    assert first.stopped == "rate_limited" and first.resume_at == pytest.approx(clock.now() + 30)
    assert clock.sleeps == []
    assert "language:go stars:>=10" in watermarks.values  # go finished before the stop
    assert "language:python stars:>=10" not in watermarks.values  # python did not: no watermark
    assert any("python" in name for name in first_sink.names)
    done_before_stop = len(server.requests)

    second_sink, second = crawl(make_client(server, clock), etags=etags, watermarks=watermarks)
    assert second.stopped is None
    expected = expected_names(population, ["go", "python"], 10, SINCE)
    assert set(first_sink.names) | set(second_sink.names) == expected
    rerun = server.requests[done_before_stop:]
    assert sum(1 for r in rerun if r.status == 304) >= 8, "finished python pages came back 304"
    assert not set(second_sink.names) & {n for n in first_sink.names if "python" in n}
    assert "language:python stars:>=10" in watermarks.values


def test_incremental_run_starts_at_the_watermark_and_unchanged_pages_are_304(server, clock, population):
    etags, watermarks = DictStore(), DictStore()
    crawl(make_client(server, clock), etags=etags, watermarks=watermarks)
    go_mark = watermarks.get("language:go stars:>=10")
    python_mark = watermarks.get("language:python stars:>=10")
    latest_go = max(r.pushed_at for r in population if r.language == "Go" and r.stars >= 10)
    assert datetime.fromisoformat(go_mark) == latest_go.replace(microsecond=0)

    first_urls = set(etags.values)
    start = len(server.requests)
    second, stats = crawl(make_client(server, clock), etags=etags, watermarks=watermarks)
    assert stats.etags_pruned == len(first_urls) and not first_urls & set(etags.values)
    queries = [r.q for r in server.requests[start:]]
    assert f"language:go stars:>=10 pushed:>={go_mark[:10]}" in queries
    assert f"language:python stars:>=10 pushed:>={python_mark[:10]}" in queries
    assert all("pushed:>=2025-01-01" not in q for q in queries)
    marks = {"Go": date.fromisoformat(go_mark[:10]), "Python": date.fromisoformat(python_mark[:10])}
    since_mark = {
        r.full_name
        for r in population
        if r.stars >= 10 and r.language in marks and r.pushed_at.date() >= marks[r.language]
    }
    assert set(second.names) == since_mark and 0 < len(since_mark) < 50

    start = len(server.requests)
    third, stats = crawl(make_client(server, clock), etags=etags, watermarks=watermarks)
    unchanged = server.requests[start:]
    assert third.records == [] and stats.pages_not_modified == len(unchanged)
    assert {r.status for r in unchanged} == {304}
    assert all(r.if_none_match for r in unchanged)
    by_window: dict[str, set[str]] = {}
    for request in unchanged:
        by_window.setdefault(request.headers["X-RateLimit-Reset"], set()).add(
            request.headers["X-RateLimit-Remaining"]
        )
    assert all(len(remaining) == 1 for remaining in by_window.values()), "304s spend no quota"

    pushed = next(r for r in population if r.language == "Go" and r.stars >= 10)
    server.push(pushed.full_name, datetime(2026, 7, 1, 9, tzinfo=UTC), stars=pushed.stars + 3)
    newcomer = SyntheticRepo(99_999, "newdev", "fresh-go", "Go", 12, 1, datetime(2026, 7, 1, 8, tzinfo=UTC),
                             datetime(2026, 6, 1, tzinfo=UTC), "MIT")  # fmt: skip
    server.add(newcomer)
    fourth, _ = crawl(make_client(server, clock), etags=etags, watermarks=watermarks)
    fresh = {r.full_name: r for r in fourth.records}
    assert {pushed.full_name, newcomer.full_name} <= set(fresh)
    assert fresh[pushed.full_name].stars == pushed.stars + 3
    assert watermarks.get("language:go stars:>=10") == "2026-07-01T09:00:00+00:00"


def test_single_star_value_on_one_day_is_truncated_at_the_cap(clock):
    day = datetime(2026, 5, 5, 12, tzinfo=UTC)
    crowd = [SyntheticRepo(i, f"o{i}", f"same-{i}", "Go", 10, 0, day, day - timedelta(days=9), None)
             for i in range(1, 1201)]  # fmt: skip
    plan = SearchPlan(languages=("go",), min_stars=10, pushed_since=date(2026, 4, 1))
    for cap_links in (True, False):
        with GitHubReplayServer(crowd, clock=clock.now, cap_links=cap_links) as server:
            sink, stats = crawl(make_client(server, clock), plan=plan)
        assert len(set(sink.names)) == 1000 == len(sink.names)
        assert stats.truncated_slices == 1 and stats.repos_beyond_cap == 200
        assert stats.stopped is None
        assert [r.status for r in server.requests].count(422) == (0 if cap_links else 1)


def test_page_past_the_cap_is_a_clear_error(server, clock):
    client = make_client(server, clock)
    url = client.url_for(
        "/search/repositories", {"q": "language:python stars:>=10", "per_page": 100, "page": 11}
    )
    with pytest.raises(SearchCapExceeded, match="first 1000"):
        client.get(url)


def test_persistent_server_errors_fail_after_bounded_backoff(server, clock):
    server.faults = dict.fromkeys(range(1, 10), "502")
    with pytest.raises(GitHubServerError, match="after 4 retries"):
        crawl(make_client(server, clock))
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert len(server.requests) == 5


def test_bad_credentials_fail_with_the_message(population, clock):
    with (
        GitHubReplayServer(population, clock=clock.now, valid_tokens=frozenset({"good"})) as server,
        pytest.raises(GitHubAPIError, match=r"401.*Bad credentials") as error,
    ):
        crawl(make_client(server, clock, token="stale"))
    assert error.value.status == 401 and clock.sleeps == []


def test_plain_403_is_not_mistaken_for_a_rate_limit(server, clock):
    client = make_client(server, clock)
    with pytest.raises(GitHubAPIError, match="404"):
        client.get(client.url_for("/search/code", {"q": "x"}))
    with pytest.raises(GitHubAPIError, match=r"422.*Validation Failed"):
        client.get(client.url_for("/search/repositories", {"q": "owner:me"}))
    assert clock.sleeps == []


def test_request_budget_stops_cleanly(server, clock):
    sink, stats = crawl(make_client(server, clock, max_requests=3))
    assert stats.stopped == "request_budget"
    assert len(server.requests) == 3 and len(sink.names) > 0


def test_incomplete_results_are_counted_and_keep_the_watermark(server, clock, population):
    etags, watermarks = DictStore(), DictStore()
    server.faults = {2: "incomplete"}  # a go page missing its last item
    plan = SearchPlan(languages=("go",), min_stars=10, pushed_since=SINCE)
    first, stats = crawl(make_client(server, clock), plan=plan, etags=etags, watermarks=watermarks)
    expected = expected_names(population, ["go"], 10, SINCE)
    assert stats.incomplete_results == 1 and len(first.names) == len(expected) - 1
    assert watermarks.values == {}

    second, stats = crawl(make_client(server, clock), plan=plan, etags=etags, watermarks=watermarks)
    assert set(first.names) | set(second.names) == expected
    assert stats.incomplete_results == 0 and "language:go stars:>=10" in watermarks.values
