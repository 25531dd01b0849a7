"""`batch_job`: everything that runs once per repo batch, as one partitioned run."""

import dagster as dg

# Asset keys materialized per batch, in pipeline order; later per-batch stages add their key here.
BATCH_ASSETS: list[str] = ["cloned_repos", "scored_files", "es_code_index"]

batch_job = dg.define_asset_job("batch_job", selection=BATCH_ASSETS)

defs = dg.Definitions(jobs=[batch_job])
