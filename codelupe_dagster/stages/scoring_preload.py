"""What the scoring pool's forkserver imports before it forks a worker: the workers' module, with the
per-file core's lazily built parts built once here, so every worker of every pool inherits them.

Why a module of its own: the forkserver preloads modules by name, and building the secret scan at the
import of `file_processing` would make every importer pay for it. Built lazily in each worker instead,
a worker's first task took ~0.1-0.2 s longer than the rest, every batch.

Built here, in the order a worker would need them:
- the secret scan (anchors' database, every rule's regex);
- the SPDX licence list (~60 ms), read by the first file with an `SPDX-License-Identifier` tag;
- the evaluation sets' index (~0.1 s) for DECONTAMINATE_SETS as the environment sets it, which is where
  the pipeline's resources read it unless a run's config says otherwise. A pool whose config names other
  sets builds their index in each worker's initialiser, as before; so does one whose environment's value
  is malformed, and the initialiser's error is the one the batch reports (a forkserver that failed here
  would break every pool instead).

Then the heap is frozen (`gc.freeze`): workers inherit it out of their collections' reach.
"""

from __future__ import annotations

import contextlib
import gc
import os

from codelupe_dagster.backends import eval_sets
from codelupe_dagster.core import license_detection, secrets
from codelupe_dagster.stages import file_processing  # noqa: F401  (the workers' initializer and task)


def environment_sets_spec() -> str:
    """DECONTAMINATE_SETS as the pipeline's resources read it from the environment (unset or blank: its
    default, `auto`), in canonical form. Read here directly: the stage layer does not import `settings`."""
    value = (os.environ.get("DECONTAMINATE_SETS") or "").strip()
    return eval_sets.resolve_spec(value or eval_sets.AUTO)


def _build_environment_sets() -> None:
    with contextlib.suppress(Exception):  # reported by the worker initialiser instead (see above)
        spec = environment_sets_spec()
        if spec:
            eval_sets.index_for(spec)


secrets.prepare_scan()
license_detection.license_data()
_build_environment_sets()
# Last: the workers' collections skip everything built above (forked, they inherit it frozen), and never
# write to those objects' headers, which keeps their pages shared with the server.
gc.freeze()
