"""Runs that `codelupe run` executes carry the origin of the `codelupe` code location, so Dagster's UI
lists them under their jobs (Jobs pages, Overview timeline, a job's runs list) as it lists daemon runs."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.workspace.load import location_origins_from_yaml_paths
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql
from rich.console import Console

from codelupe_dagster.cli.batch_loop import run_pipeline
from codelupe_dagster.cli.launch import LOCATION_NAME, remote_job_origin
from codelupe_dagster.cli.run_training import maybe_train
from tests.cli.test_run import pipeline_defs

LABEL_TAG = ".dagster/repository"
PARTITION = "dagster/partition"
WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"

JOB_RUNS = """
query JobRuns($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { runs { runId status tags { key value } } }
    ... on PythonError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""


def _quiet() -> Console:
    return Console(file=open(os.devnull, "w"))


def _assert_location_run(run: dg.DagsterRun, job_name: str) -> None:
    origin = run.remote_job_origin
    assert origin is not None, f"{run.job_name} run {run.run_id} has no remote_job_origin"
    assert origin.location_name == LOCATION_NAME == "codelupe"
    assert origin.repository_origin.repository_name == "__repository__"
    assert origin.job_name == run.job_name == job_name
    assert run.job_code_origin is not None and run.job_code_origin.job_name == job_name


def test_the_origin_is_the_one_dagster_builds_from_workspace_yaml():
    """The location origin equals what Dagster's workspace loader makes of workspace.yaml's entry."""
    [from_yaml] = location_origins_from_yaml_paths([str(WORKSPACE)])
    assert remote_job_origin("batch_job").repository_origin.code_location_origin == from_yaml


@pytest.mark.slow
def test_codelupe_run_runs_are_listed_under_their_jobs_of_location_codelupe(
    data_dir, valkey_url, source_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", valkey_url)
    defs = pipeline_defs(data_dir, valkey_url, batch_size=2)
    with dg.instance_for_test() as instance:
        summary = run_pipeline(defs, instance, str(source_dir), train=False, console=_quiet())
        assert summary.stopped is None and summary.batches_succeeded == 2  # 3 repos, batches of 2

        runs = instance.get_runs()
        assert sorted(run.job_name for run in runs) == [
            "batch_job",
            "batch_job",
            "corpus_stats_job",
            "crawl_and_queue_job",
        ]
        for run in runs:
            _assert_location_run(run, run.job_name)
        # The hidden label the UI filters a location's runs by, stored from the origin.
        labelled = instance.get_runs(filters=dg.RunsFilter(tags={LABEL_TAG: "__repository__@codelupe"}))
        assert {run.run_id for run in labelled} == {run.run_id for run in runs}
        batch_runs = {run.run_id: run for run in runs if run.job_name == "batch_job"}
        partitions = {run.tags["dagster/partition"] for run in batch_runs.values()}
        assert partitions == set(instance.get_dynamic_partitions("repo_batches"))
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        # The corpus view is refreshed once, after the batches, from the index they filled.
        corpus = instance.get_latest_materialization_event(dg.AssetKey("corpus_stats"))
        assert corpus is not None
        documents = corpus.asset_materialization.metadata["documents"].value
        assert documents == summary.totals["es_code_index"]["indexed"] > 0
        # The process tags that run_liveness reaps dead runs by are still on every run.
        assert all("codelupe/pid" in run.tags for run in runs)

        # What the UI asks: the runs of job batch_job in location codelupe, from workspace.yaml.
        with define_out_of_process_context(str(WORKSPACE), None, instance) as context:
            selector = {
                "repositoryLocationName": "codelupe",
                "repositoryName": "__repository__",
                "pipelineName": "batch_job",
            }
            result = execute_dagster_graphql(context, JOB_RUNS, {"selector": selector})
        job = result.data["pipelineOrError"]
        assert job["__typename"] == "Pipeline", job
        listed = {run["runId"]: run for run in job["runs"]}
        assert set(listed) == set(batch_runs)
        shown = {tag["value"] for run in listed.values() for tag in run["tags"] if tag["key"] == PARTITION}
        assert shown == partitions


@pytest.mark.slow
def test_training_runs_as_qwen_training_job_of_location_codelupe(data_dir, valkey_url, tmp_path):
    """With nothing indexed the training run fails fast (before torch loads), still as the named job."""
    defs = pipeline_defs(data_dir, valkey_url)
    with dg.instance_for_test() as instance:
        from codelupe_dagster.cli.run_summary import RunSummary

        summary = RunSummary()
        outcome = maybe_train(defs, instance, True, {"codelupe/pid": "1"}, summary)
        assert outcome == "failed"
        assert "No eligible training samples" in (summary.training_error or "")
        [run] = instance.get_runs()
        assert run.job_name != "__ASSET_JOB"
        _assert_location_run(run, "qwen_training_job")
        assert run.tags["codelupe/pid"] == "1"
        assert run.asset_selection is None or dg.AssetKey("qwen_checkpoint") in run.asset_selection
