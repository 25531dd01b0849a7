"""Names and limits shared by the Redis and index halves of the migration."""

MIGRATE_CLAIMANT = "migrate-v2"  # claimant of the dedup ledgers and `batch` of the migrated documents
DEFAULT_BACKUP_PREFIX = "pipeline:v2:"
UNPARSEABLE = "unparseable"
NO_CONTENT = "no_content"
READ_CHUNK = 1000  # list elements per LRANGE
SAMPLE_LIMIT = 5  # unparseable jobs quoted in the report
