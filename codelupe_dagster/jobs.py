"""`batch_job`: everything that runs once per repo batch, as one partitioned run.

Jobs sit in the outer layer next to `definitions.py` and `schedules.py`: sensors target them, and they
select assets by key, so neither sensors nor assets have to import each other to start a batch.
"""

import dagster as dg

# Asset keys materialized per batch, in pipeline order; later per-batch stages add their key here.
BATCH_ASSETS: list[str] = ["cloned_repos", "scored_files", "es_code_index"]

batch_job = dg.define_asset_job("batch_job", selection=BATCH_ASSETS)

defs = dg.Definitions(jobs=[batch_job])
