"""The code location: every stage's definitions merged with the resources for this environment.

Each stage module exports `defs`; to add a stage, import it here and list it in `_STAGES`.
"""

import dagster as dg

from codelupe_dagster import jobs as batch_jobs
from codelupe_dagster import schedules as ingest_schedules
from codelupe_dagster import settings
from codelupe_dagster.assets import clone as clone_assets
from codelupe_dagster.assets import corpus as corpus_assets
from codelupe_dagster.assets import crawl as crawl_assets
from codelupe_dagster.assets import index as index_assets
from codelupe_dagster.assets import queue as queue_assets
from codelupe_dagster.assets import score as score_assets
from codelupe_dagster.assets import train as train_assets
from codelupe_dagster.resources import default_resources
from codelupe_dagster.sensors import batch as batch_sensors
from codelupe_dagster.sensors import run_status as run_status_sensors
from codelupe_dagster.sensors import training as training_sensors

# `dagster dev` code servers and run workers import this module: whatever they write is private too.
settings.make_process_private()

_STAGES: list[dg.Definitions] = [
    # one entry per stage module exporting `defs`, in pipeline order
    crawl_assets.defs,
    queue_assets.defs,
    clone_assets.defs,
    batch_jobs.defs,
    batch_sensors.defs,
    run_status_sensors.defs,
    ingest_schedules.defs,
    score_assets.defs,
    index_assets.defs,
    corpus_assets.defs,
    train_assets.defs,
    training_sensors.defs,
]

defs = dg.Definitions.merge(dg.Definitions(resources=default_resources()), *_STAGES)
