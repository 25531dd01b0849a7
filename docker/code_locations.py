"""The two code locations of the Docker deployment, cut from the one `codelupe_dagster` Definitions.

Dagster allows one materializable definition per asset key across a workspace, so the CPU pipeline
location and the GPU trainer location cannot both serve the full Definitions. The cut is by
concurrency pool: assets whose op is in the "gpu" pool (qwen_checkpoint), with their checks and the
jobs, schedules and sensors that target only them, go to the trainer location, whose runs are
launched in the CUDA image with the GPUs attached; everything else stays in the pipeline location.
Lineage across the two is kept: Dagster joins asset keys across code locations.

Loaded by the code servers as `dagster code-server start -f code_locations.py -a pipeline|trainer`.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

GPU_POOL = "gpu"


def gpu_asset_keys(defs: dg.Definitions) -> set[dg.AssetKey]:
    """Keys of every asset whose op runs in the GPU pool."""
    keys: set[dg.AssetKey] = set()
    for assets_def in defs.assets or ():
        executable = isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable
        if executable and getattr(assets_def.op, "pool", None) == GPU_POOL:
            keys.update(assets_def.keys)
    return keys


def _job_keys(job: object, asset_graph: object, jobs_by_name: dict[str, object]) -> set[dg.AssetKey]:
    """Asset keys a job would materialize; empty for an op job or a name that cannot be resolved.

    An asset job (`define_asset_job`, or the job a `target=` sensor builds) carries its public
    `AssetSelection` until the Definitions resolve it; the selection resolves against the graph.
    """
    if isinstance(job, str):
        job = jobs_by_name.get(job)
    selection = getattr(job, "selection", None)
    if isinstance(selection, dg.AssetSelection):
        return set(selection.resolve(asset_graph, allow_missing=True))
    return set()


def sensor_jobs(sensor: dg.SensorDefinition) -> list[object]:
    """The jobs (definitions or names) a sensor requests runs of; empty when it targets none
    (a run-status sensor, an asset sensor that only observes)."""
    try:
        return list(sensor.jobs)
    except dg.DagsterInvalidDefinitionError:
        pass  # no job definitions: perhaps a single job given by name
    try:
        return [sensor.job_name] if sensor.job_name else []
    except dg.DagsterInvalidDefinitionError:
        return []


def schedule_job(schedule: dg.ScheduleDefinition) -> object:
    """The job (definition, or name when the schedule was given one) a schedule launches."""
    try:
        return schedule.job
    except dg.DagsterInvalidDefinitionError:
        return schedule.job_name


def _targets_only(
    jobs: Iterable[object], selected: set[dg.AssetKey], asset_graph: object, jobs_by_name: dict[str, object]
) -> bool:
    keys: set[dg.AssetKey] = set()
    for job in jobs:
        keys |= _job_keys(job, asset_graph, jobs_by_name)
    return bool(keys) and keys <= selected


def split_definitions(defs: dg.Definitions) -> tuple[dg.Definitions, dg.Definitions]:
    """(pipeline, trainer): the same resources, disjoint assets, each automation with its targets."""
    gpu_keys = gpu_asset_keys(defs)
    asset_graph = defs.resolve_asset_graph()
    jobs_by_name = {job.name: job for job in defs.jobs or ()}

    def is_trainer_asset(item: object) -> bool:
        return isinstance(item, dg.AssetsDefinition) and bool(set(item.keys) & gpu_keys)

    def is_trainer_check(check_def: dg.AssetChecksDefinition) -> bool:
        return all(key.asset_key in gpu_keys for key in check_def.check_keys)

    def is_trainer_job(job: object) -> bool:
        keys = _job_keys(job, asset_graph, jobs_by_name)
        return bool(keys) and keys <= gpu_keys

    def is_trainer_sensor(sensor: dg.SensorDefinition) -> bool:
        return _targets_only(sensor_jobs(sensor), gpu_keys, asset_graph, jobs_by_name)

    def is_trainer_schedule(schedule: dg.ScheduleDefinition) -> bool:
        return _targets_only([schedule_job(schedule)], gpu_keys, asset_graph, jobs_by_name)

    def cut(items, belongs_to_trainer, trainer: bool) -> list:
        return [item for item in items or () if belongs_to_trainer(item) == trainer]

    def location(trainer: bool) -> dg.Definitions:
        return dg.Definitions(
            assets=cut(defs.assets, is_trainer_asset, trainer),
            asset_checks=cut(defs.asset_checks, is_trainer_check, trainer),
            jobs=cut(defs.jobs, is_trainer_job, trainer),
            sensors=cut(defs.sensors, is_trainer_sensor, trainer),
            schedules=cut(defs.schedules, is_trainer_schedule, trainer),
            resources=defs.resources,
            executor=defs.executor,
            loggers=defs.loggers,
        )

    return location(trainer=False), location(trainer=True)


def _load() -> tuple[dg.Definitions, dg.Definitions]:
    from codelupe_dagster.definitions import defs

    return split_definitions(defs)


pipeline, trainer = _load()
