"""Pure pipeline logic: no Dagster imports, tested with tables and benchmarked alone."""
