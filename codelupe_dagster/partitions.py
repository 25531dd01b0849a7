"""Repo batches are the unit of work: thousands of them stay well within what Dagster handles, while
repositories and files live in Redis and the index instead of becoming partitions (DESIGN §1)."""

import dagster as dg

REPO_BATCHES = "repo_batches"
repo_batches = dg.DynamicPartitionsDefinition(name=REPO_BATCHES)
