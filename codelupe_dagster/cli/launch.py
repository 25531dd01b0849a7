"""Runs that `codelupe run` executes in its own process, recorded as runs of the `codelupe` code location.

Dagster's UI lists a job's runs (Jobs pages, the Overview timeline, a job's runs list) by the run's
repository label, the hidden tag `.dagster/repository` = ``__repository__@codelupe`` that it derives from
the run's `remote_job_origin`. `JobDefinition.execute_in_process` creates runs without any origin, so the
UI shows none of them under the job. `execute_as_location_run` does what `execute_in_process` does — the
in-process executor, the run's events in this process, the same `ExecuteInProcessResult` — but creates the
run with the origins a run launched by the daemon of `dagster dev -w workspace.yaml` carries: the
`remote_job_origin` of location `codelupe` (as Dagster's own workspace loader builds it from the
`python_module` entry of workspace.yaml) and the `job_code_origin` that its code server reports. So the
run is listed, filtered and re-executable from the UI like a launched one.

Submitting the run to the instance's run launcher instead would start a new process per run (import,
resources), lose this process's Ctrl-C handling and its one-line failure, and need the code location to
be importable with the same environment; executing here keeps all of that.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import (
    ExecuteRunWithPlanIterable,
    create_execution_plan,
    job_execution_iterator,
)
from dagster._core.execution.context_creation_job import (
    PlanOrchestrationContextManager,
    orchestration_context_event_generator,
)
from dagster._core.execution.execute_in_process import merge_run_tags
from dagster._core.origin import JobPythonOrigin, get_python_environment_entry_point
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.workspace.load import location_origin_from_module_name

# workspace.yaml: `python_module: {module_name: codelupe_dagster.definitions, location_name: codelupe}`.
LOCATION_NAME = "codelupe"
DEFINITIONS_MODULE = "codelupe_dagster.definitions"
DEFINITIONS_ATTRIBUTE = "defs"


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    """The origin Dagster gives a job of the `codelupe` location loaded from workspace.yaml."""
    location = location_origin_from_module_name(
        DEFINITIONS_MODULE, attribute=None, working_directory=None, location_name=LOCATION_NAME
    )
    return RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME).get_job_origin(job_name)


def job_code_origin(job_name: str) -> JobPythonOrigin:
    """Where a run worker imports the job from: what the location's code server reports."""
    repository = ReconstructableRepository(
        ModuleCodePointer(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, None),
        executable_path=sys.executable,
        entry_point=get_python_environment_entry_point(sys.executable),
    )
    return repository.get_python_origin().get_job_origin(job_name)


@contextlib.contextmanager
def _sigterm_kept() -> Iterator[None]:
    """Put SIGTERM's handler back after a run. Dagster points SIGTERM at SIGINT's handler around every run
    (`dagster._utils.interrupts`) and leaves it there; in a process started with SIGINT ignored (`nohup
    codelupe run &`, any shell's background job) SIGTERM would stay ignored, so `kill` could no longer stop
    `codelupe run`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, handler)


def execute_as_location_run(
    job_def: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    partition_key: str | None = None,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    raise_on_error: bool = False,
) -> dg.ExecuteInProcessResult:
    """`job_def.execute_in_process(...)` with the run recorded as one of location `codelupe`.

    Mirrors `JobDefinition.execute_in_process` and `core_execute_in_process` of Dagster 1.13 (the only
    difference is the two origins passed to `create_run_for_job`).

    The one module of the project that imports private Dagster (`dagster._core`): Dagster 1.13 has no
    public way to create a run with an origin and execute it here; tests/cli/test_run_visible.py pins it."""
    run_config = dict(run_config or {})
    selection = list(asset_selection or [])
    ephemeral = job_def.as_ephemeral_job(resource_defs={}, input_values={}, asset_selection=selection)
    job = InMemoryJob(job_def=ephemeral)
    if partition_key and ephemeral.partitions_def:
        with dg.partition_loading_context(dynamic_partitions_store=instance) as context:
            ephemeral.validate_partition_key(
                partition_key=partition_key, selected_asset_keys=set(selection), context=context
            )
    run_tags = merge_run_tags(
        job_def=job_def,
        partition_key=partition_key,
        tags=tags,
        asset_selection=selection,
        instance=instance,
        run_config=run_config,
    )
    if not run_config and ephemeral.partitioned_config and partition_key:
        run_config = dict(ephemeral.partitioned_config.get_run_config_for_partition_key(partition_key))
    plan = create_execution_plan(
        job, run_config=run_config, instance_ref=instance.get_ref() if instance.is_persistent else None
    )
    run = instance.create_run_for_job(
        job_def=ephemeral,
        run_config=run_config,
        tags={**ephemeral.run_tags, **run_tags},
        asset_selection=frozenset(selection) or None,
        execution_plan=plan,
        remote_job_origin=remote_job_origin(job_def.name),
        job_code_origin=job_code_origin(job_def.name),
    )
    output_capture: dict[Any, Any] = {}
    with _sigterm_kept():
        events = list(
            ExecuteRunWithPlanIterable(
                execution_plan=plan,
                iterator=job_execution_iterator,
                execution_context_manager=PlanOrchestrationContextManager(
                    context_event_generator=orchestration_context_event_generator,
                    job=job,
                    execution_plan=plan,
                    dagster_run=run,
                    instance=instance,
                    run_config=run_config,
                    executor_defs=None,
                    output_capture=output_capture,
                    raise_on_error=raise_on_error,
                ),
            )
        )
    finished = instance.get_run_by_id(run.run_id)
    return dg.ExecuteInProcessResult(
        job_def=ephemeral, event_list=events, dagster_run=finished or run, output_capture=output_capture
    )
