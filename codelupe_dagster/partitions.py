"""Repo batches are the unit of work: thousands of them stay well within what Dagster handles, while
repositories and files live in Redis and the index instead of becoming partitions (DESIGN §1)."""

import dagster as dg

REPO_BATCHES = "repo_batches"
repo_batches = dg.DynamicPartitionsDefinition(name=REPO_BATCHES)


def apply_partition_requests(
    instance: dg.DagsterInstance,
    requests: "list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]",
) -> None:
    """Apply a sensor result's partition requests as the sensor daemon does (adds, and the batch sensor's
    retirements), for code that ticks the sensor itself (`codelupe run`)."""
    for request in requests:
        if isinstance(request, dg.DeleteDynamicPartitionsRequest):
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
        else:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
