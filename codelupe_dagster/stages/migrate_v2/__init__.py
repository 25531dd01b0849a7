"""Take over the state of the old pipeline (``data_pipeline_v2.py``) without losing any of its work.

The old pipeline left Redis keys under the very names we use, but with other types: ``pipeline:repos``
was a LIST of repo jobs where ours is a priority ZSET, the processed ledgers were SETs where ours are
HASHes. Our commands would fail on them with WRONGTYPE, and deleting them would lose pending work. So each
old key whose TYPE is still the old type is RENAMEd (atomic, never a delete) to a backup name, and the
backup is converted from there:

- repo jobs (JSON objects or plain names) become ``RepoRecord``s, enqueued with our priority;
- ``pipeline:processed:repos`` (names, no HEAD sha) only stays in its backup: without a sha the new
  pipeline cannot tell an unchanged repo, so each of them is processed once more;
- ``pipeline:processed:files`` held MD5 hex of *raw* content; our ledger keys 16-byte xxh3 digests of
  *normalized, redacted* content, so the old entries cannot be translated and stay in the backup;
- ``pipeline:files`` (per-file jobs) has no equivalent — files are read from git trees per batch — and is
  counted and kept, renamed.

Idempotent and resumable: a key already of the new type is left alone, a backup is marked converted in
``<backup prefix>migration`` only after its last job is enqueued (a crash before that converts it again:
the queue's ``enqueue`` skips what is already queued), and a second run finds nothing to do.

The old code index (Elasticsearch, one doc per file, no ``id``/``indexed_at`` fields) is streamed over
a point-in-time in ``_shard_doc`` order and every document goes through the new per-file path
(``process_file``: filters, v2 score, redaction of secrets and of PII_REDACT's kinds, digest), the exact
and near dedup ledgers (claimant ``migrate-v2``, so a re-run recognises its own claims) and into the new
code index.
"""

from __future__ import annotations

from codelupe_dagster.stages.migrate_v2.old_index import (
    IndexMigrationReport,
    OldDocument,
    migrate_index,
    read_old_document,
)
from codelupe_dagster.stages.migrate_v2.old_jobs import parse_repo_job
from codelupe_dagster.stages.migrate_v2.redis_state import (
    OldPipelineStillRunning,
    RedisMigrationReport,
    migrate_redis,
)

__all__ = [
    "IndexMigrationReport",
    "OldDocument",
    "OldPipelineStillRunning",
    "RedisMigrationReport",
    "migrate_index",
    "migrate_redis",
    "parse_repo_job",
    "read_old_document",
]
