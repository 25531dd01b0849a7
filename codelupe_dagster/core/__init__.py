"""Pure rules and data: languages, filters, quality, secrets, dedup math, packing, priority, models.

No I/O, no clock (callers pass `now`), no processes, no environment, and no imports of the project
outside `core`; checked with `mypy --strict`. Everything here is tested with tables and benchmarked alone.
"""
