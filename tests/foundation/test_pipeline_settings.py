"""One configuration path: `default_resources()` reads the environment once into resource fields, and the
code location, the sensors and the CLI all take their settings from those fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from codelupe_dagster import settings
from codelupe_dagster.core.keys import DEFAULT_PREFIX, RedisKeys
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
