"""The secret detector as it was before issue 10, for the benches that compare against it: each
loads `core/secrets.py` from git at `BASELINE_COMMIT` as a module of its own (it imports only the
standard library), so "today's detector" stays fixed while main moves on."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "a92d1ee"  # the last commit before issue 10

Redact = Callable[[str], tuple[str, dict[str, int]]]


def detector_at(commit: str = BASELINE_COMMIT) -> Redact:
    """`redact_secrets` of core/secrets.py as it was at `commit`."""
    source = subprocess.run(
        ["git", "show", f"{commit}:codelupe_dagster/core/secrets.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = f"secrets_at_{commit}"
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.redact_secrets  # type: ignore[no-any-return]
