"""One configuration path: `default_resources()` reads the environment once into resource fields, and the
code location, the sensors and the CLI all take their settings from those fields."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from codelupe_dagster import settings
from codelupe_dagster.core.keys import DEFAULT_PREFIX, RedisKeys
from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.resources import PipelineResource, RedisResource, default_resources


def test_the_environment_fills_the_pipeline_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", "state")
    for name, value in {
        "FILE_WORKERS": "3",
        "MIN_QUALITY_THRESHOLD": "0.45",
        "BATCH_SIZE": "7",
        "BATCH_MAX_ACTIVE_RUNS": "2",
        "CHECK_INTERVAL": "60",
        "CRAWLER_MODE": "Continuous",
        "SYNC_INTERVAL": "900",
        "CODELUPE_SOURCE": "/srv/repos",
    }.items():
        monkeypatch.setenv(name, value)
    resources = default_resources()
    pipeline = resources["pipeline"]
    assert isinstance(pipeline, PipelineResource)
    assert pipeline.data_dir == str(tmp_path / "state")  # absolute: every process agrees on it
    assert (pipeline.file_workers, pipeline.min_quality, pipeline.batch_size) == (3, 0.45, 7)
    assert (pipeline.batch_max_active_runs, pipeline.check_interval, pipeline.sync_interval) == (2, 60, 900)
    assert pipeline.is_continuous() and pipeline.source == "/srv/repos"
    # One DATA_DIR: every resource that keeps state under it got the same one.
    assert resources["redis"].data_dir == resources["search"].data_dir == pipeline.data_dir
    assert resources["git"].repos_dir == str(tmp_path / "state" / "repos")


def test_unset_variables_give_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BATCH_SIZE", "BATCH_MAX_ACTIVE_RUNS", "CRAWLER_MODE", "REDIS_KEY_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    resources = default_resources()
    pipeline, redis = resources["pipeline"], resources["redis"]
    assert (pipeline.batch_size, pipeline.batch_max_active_runs, pipeline.is_continuous()) == (16, 4, False)
    # The field defaults of a resource built by hand match what the environment path gives.
    bare = PipelineResource()
    assert (bare.batch_size, bare.batch_max_active_runs, bare.check_interval) == (16, 4, 300)
    assert redis.key_prefix == RedisResource().key_prefix == RedisKeys().prefix == DEFAULT_PREFIX
    assert settings.DEFAULTS["REDIS_KEY_PREFIX"] == DEFAULT_PREFIX


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_SIZE", "lots")
    with pytest.raises(ValueError, match="BATCH_SIZE must be an integer"):
        default_resources()


def test_every_pipeline_field_says_which_variable_fills_it() -> None:
    """The launchpad shows the description: an operator must see where a value comes from."""
    for name, info in PipelineResource.model_fields.items():
        variable = (info.description or "").split(":")[0]
        assert variable.isupper() and variable in {*settings.DEFAULTS, "CODELUPE_SOURCE"}, name


def test_the_crawl_and_clone_settings_come_from_default_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forges and clones are configured in the same place as the rest: the clone allow-list follows the
    configured forges, so a GitLab instance's repositories are cloneable as soon as it is configured."""
    monkeypatch.setenv("GITLAB_URL", "https://code.example.org:8443/")
    monkeypatch.setenv("CLONE_ALLOWED_HOSTS", "mirror.example.net")
    monkeypatch.setenv("REPO_WORKERS", "6")
    resources = default_resources()
    assert resources["sources"].gitlab.url == "https://code.example.org:8443/"
    git = resources["git"]
    assert git.allowed_hosts == ["github.com", "code.example.org", "mirror.example.net"]
    assert git.worker_count() == 6


def test_every_variable_a_git_field_names_is_a_documented_setting() -> None:
    from codelupe_dagster.resources.git import GitResource

    variables = {
        (info.description or "").split(":")[0]
        for info in GitResource.model_fields.values()
        if (info.description or "").split(":")[0].isupper()
    }
    assert variables == {"REPOS_DIR", "CLONE_ALLOWED_HOSTS", "CLONE_ALLOWED_SCHEMES", "REPO_WORKERS"}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert all(f"`{variable}`" in readme for variable in variables)


def test_pii_redact_is_validated_when_the_resource_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in PII_REDACT fails resource construction (the code location's load, `dagster definitions
    validate`) with the allowed kinds named, instead of the first batch that reads it."""
    from pydantic import ValidationError

    assert PipelineResource(pii_redact="email").pii_kinds() == {PiiKind.EMAIL}
    assert PipelineResource(pii_redact="none").pii_kinds() == frozenset()
    allowed = r"PII_REDACT: unknown PII kind\(s\) \['phone'\].*'email', 'ip'"
    with pytest.raises(ValidationError, match=allowed):
        PipelineResource(pii_redact="email,phone")
    monkeypatch.setenv("PII_REDACT", "emial")
    with pytest.raises(ValidationError, match="PII_REDACT: unknown PII kind"):
        default_resources()
    # An EnvVar is checked once Dagster resolves it, at run time.
    monkeypatch.setenv("CODELUPE_TEST_PII", "phone")
    deferred = PipelineResource(pii_redact=dg.EnvVar("CODELUPE_TEST_PII"))
    with pytest.raises(ValidationError, match="unknown PII kind"):
        deferred.process_config_and_initialize()
    monkeypatch.setenv("CODELUPE_TEST_PII", "ip")
    assert deferred.process_config_and_initialize().pii_kinds() == {PiiKind.IP_ADDRESS}
