"""Repo batches are the unit of work: thousands of them stay well within what Dagster handles, while
repositories and files live in Redis and the index instead of becoming partitions (DESIGN §1)."""

import dagster as dg

repo_batches = dg.DynamicPartitionsDefinition(name="repo_batches")
