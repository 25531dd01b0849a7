"""The `RepoSource` contract, run on every registered kind: GitHub and GitLab against their replay
servers, a local directory and a URL list on disk. Each source is opened through the registry, as the
crawl asset opens it, and each planted a known set of entries it must skip and count."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from codelupe_dagster.backends.git_clone import repo_path
from codelupe_dagster.backends.sources import (
    SOURCE_KINDS,
    RepoSource,
    SourceRequest,
    collect,
    forge_kinds,
    open_source,
    resolve_kind,
)
from codelupe_dagster.backends.sources.state import DictStore
from codelupe_dagster.core.models import RepoRecord
from codelupe_dagster.core.repo_names import is_safe_name
from codelupe_dagster.resources.forge import CrawlOverrides
from codelupe_dagster.resources.sources import SourcesResource
from tests.backends.sources.test_local import make_repo
from tests.support.github_replay import GitHubReplayServer, expected_names, synthetic_population
from tests.support.gitlab_replay import GitLabReplayServer, crawlable, project, sample_projects

SECRET = "tok-contract-5ecret"


@dataclass
class Case:
    """How to open one kind of source, and what a complete read of it must give."""

    kind: str
    open: Callable[[], RepoSource]
    expected_names: set[str]
    expected_skips: dict[str, int]
    record_source: str


def _request(**fields) -> SourceRequest:
    stores: dict[str, DictStore] = {}
    return SourceRequest(state=lambda name: stores.setdefault(name, DictStore()), **fields)


@pytest.fixture
def github_case() -> Iterator[Case]:
    population = synthetic_population(seed=3, shares=(("Go", 40),))
    with GitHubReplayServer(population, token_limit=10_000) as server:
        options = {"api_url": server.url, "token": SECRET, "languages": ["go"], "min_stars": 10,
                   "pushed_since": "2025-01-01", "per_page": 15}  # fmt: skip
        yield Case(
            "github",
            lambda: open_source("github", _request(options=options)),
            expected_names(population, ["go"], 10, date(2025, 1, 1)),
            {},
            "github",
        )


@pytest.fixture
def gitlab_case() -> Iterator[Case]:
    projects = [
        *sample_projects(),
        {k: v for k, v in project(999, "broken/no-url").items() if k != "http_url_to_repo"},
    ]
    with GitLabReplayServer(projects, valid_tokens=frozenset({SECRET})) as server:
        options = {"url": server.url, "token": SECRET, "per_page": 7}
        yield Case(
            "gitlab",
            lambda: open_source("gitlab", _request(options=options)),
            crawlable(projects[:-1]),
            {"empty_repository": 1, "repository_disabled": 1, "malformed_item": 1},
            "gitlab",
        )


@pytest.fixture
def local_case(tmp_path: Path) -> Case:
    root = tmp_path / "source"
    make_repo(root / "alpha", ["json/decoder.py"])
    make_repo(root / "acme" / "gamma", ["colorsys.py"])
    make_repo(root / "bad name", ["textwrap.py"])  # a directory that is not a safe repository name
    (root / "plain").mkdir()
    (root / "plain" / "notes.txt").write_text("no repository here\n")
    kind, target = resolve_kind(str(root))
    return Case(
        kind,
        lambda: open_source(kind, _request(target=target, options={"max_depth": 3})),
        {"local/alpha", "acme/gamma"},
        {"unsafe_name": 1, "not_a_git_repository": 1},
        "local",
    )


@pytest.fixture
def urls_case(tmp_path: Path) -> Case:
    make_repo(tmp_path / "beta", ["textwrap.py"])
    listing = tmp_path / "repos.txt"
    listing.write_text(
        "\n".join(
            [
                "https://github.com/psf/requests.git",
                "git@gitlab.com:group/sub/project.git",
                "https://github.com/psf/requests",  # the same repository again
                "beta",
                "https://example.com/alone",
                f"https://user:{SECRET}@example.com/o/r.git",
            ]
        )
    )
    kind, target = resolve_kind(str(listing))
    return Case(
        kind,
        lambda: open_source(kind, _request(target=target)),
        {"psf/requests", "group/sub/project", "local/beta"},
        {"duplicate_name": 1, "unrecognised_url": 1, "credentials_in_url": 1},
        "local",
    )


@pytest.fixture(params=["github", "gitlab", "local", "urls"])
def case(request: pytest.FixtureRequest) -> Case:
    return request.getfixturevalue(f"{request.param}_case")


def test_every_registered_kind_is_covered():
    assert set(SOURCE_KINDS) == {"github", "gitlab", "local", "urls"}
    assert forge_kinds() == ["github", "gitlab"]


def test_every_forge_has_a_settings_block_whose_options_its_source_accepts():
    """Registering a forge in the backends without its block in SourcesResource fails here."""
    sources = SourcesResource()
    assert sorted(sources.forges()) == forge_kinds()
    for kind in forge_kinds():
        options = sources.options(kind, CrawlOverrides(min_stars=1))
        assert options["min_stars"] == 1
        assert open_source(kind, _request(options=options)).kind == kind  # no unknown option
        assert sources.forges()[kind].clone_hosts()
    assert sources.options("local", CrawlOverrides(scan_depth=2)) == {"max_depth": 2}
    assert sources.options("urls", CrawlOverrides(scan_depth=2)) == {}


def test_source_yields_valid_records_with_safe_unique_names(case: Case, tmp_path: Path):
    source = case.open()
    assert source.kind == case.kind
    records = collect(source)
    assert all(isinstance(record, RepoRecord) for record in records)
    names = [record.full_name for record in records]
    assert set(names) == case.expected_names
    assert len(names) == len(set(names)), "a name (the repository's id) is handed over once"
    assert all(is_safe_name(name) for name in names)
    assert len({repo_path(tmp_path, name) for name in names}) == len(names), "one clone directory each"
    assert all(record.clone_url and record.source == case.record_source for record in records)
    assert SECRET not in source.location


def test_source_counts_what_it_skipped(case: Case):
    source = case.open()
    records = collect(source)
    stats = source.stats()
    assert stats.repos_seen == len(records)
    assert dict(stats.skipped_by_reason) == case.expected_skips
    assert stats.skipped == sum(case.expected_skips.values())
    assert stats.stopped is None
    assert all(SECRET not in f"{entry.entry} {entry.detail}" for entry in stats.skipped_examples)


def test_ids_are_stable_across_reads(case: Case):
    first = {record.full_name: record.clone_url for record in collect(case.open())}
    second = {record.full_name: record.clone_url for record in collect(case.open())}
    assert first == second


def test_unknown_kind_and_unknown_options_are_refused(case: Case):
    with pytest.raises(ValueError, match="unknown source kind"):
        open_source("sourceforge", SourceRequest())
    with pytest.raises(ValueError, match="no option"):
        target = None if case.kind in forge_kinds() else "."
        open_source(case.kind, SourceRequest(target=target, options={"languagez": ["go"]}))
