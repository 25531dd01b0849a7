"""What the scoring pool's forkserver imports before it forks a worker: the workers' module, with the
per-file core's lazily built parts built once here, so every worker of every pool inherits them.

Why a module of its own: the forkserver preloads modules by name, and building the secret scan at the
import of `file_processing` would make every importer pay for it. Built lazily in each worker instead,
a worker's first task took ~0.1-0.2 s longer than the rest, every batch.
"""

from __future__ import annotations

from codelupe_dagster.core import secrets
from codelupe_dagster.stages import file_processing  # noqa: F401  (the workers' initializer and task)

secrets.prepare_scan()
