"""The code location: every stage's definitions merged with the resources for this environment.

Each stage module exports `defs`; to add a stage, import it here and list it in `_STAGES`.
"""

import dagster as dg

from codelupe_dagster.resources import default_resources

_STAGES: list[dg.Definitions] = [
    # one entry per stage module exporting `defs`, in pipeline order
]

defs = dg.Definitions.merge(dg.Definitions(resources=default_resources()), *_STAGES)
