"""The secret detector as it was before issue 10, for the benches that compare against it: each
loads `core/secrets.py` from git at `BASELINE_COMMIT` as a module of its own (it imports only the
standard library), so "today's detector" stays fixed while main moves on."""

from __future__ import annotations

from collections.abc import Callable

from bench.modules_at import load_module, source_at

BASELINE_COMMIT = "a92d1ee"  # the last commit before issue 10

Redact = Callable[[str], tuple[str, dict[str, int]]]


def detector_at(commit: str = BASELINE_COMMIT) -> Redact:
    """`redact_secrets` of core/secrets.py as it was at `commit`."""
    source = source_at(commit, "codelupe_dagster/core/secrets.py")
    return load_module(f"secrets_at_{commit}", source).redact_secrets  # type: ignore[no-any-return]
