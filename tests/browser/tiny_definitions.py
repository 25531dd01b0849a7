"""A stand-in with the project's asset graph shape (six unpartitioned assets, one in the "gpu"
pool, one sensor targeting it) for exercising the deployment tooling on its own."""

import dagster as dg


@dg.asset
def crawled_repos() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"repos": 3})


@dg.asset(deps=[crawled_repos])
def queued_repos() -> None: ...


@dg.asset(deps=[queued_repos], pool="clone")
def cloned_repos() -> None: ...


@dg.asset(deps=[cloned_repos])
def scored_files() -> None: ...


@dg.asset(deps=[scored_files])
def es_code_index() -> None: ...


@dg.asset(deps=[es_code_index], pool="gpu")
def qwen_checkpoint() -> None: ...


@dg.asset_check(asset=qwen_checkpoint)
def checkpoint_has_manifest() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


training_job = dg.define_asset_job("training_job", selection=[qwen_checkpoint])
pipeline_job = dg.define_asset_job("pipeline_job", selection=[crawled_repos, queued_repos])


@dg.sensor(target=qwen_checkpoint)
def training_sensor() -> dg.SkipReason:
    return dg.SkipReason("stand-in")


@dg.sensor(job=pipeline_job)
def batch_sensor() -> dg.SkipReason:
    return dg.SkipReason("stand-in")


defs = dg.Definitions(
    assets=[crawled_repos, queued_repos, cloned_repos, scored_files, es_code_index, qwen_checkpoint],
    asset_checks=[checkpoint_has_manifest],
    jobs=[training_job, pipeline_job],
    sensors=[training_sensor, batch_sensor],
)
