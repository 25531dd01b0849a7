"""Source files of this repository as they were at a commit, loaded as modules of their own: the benches
compare today's code against a fixed baseline ("today's detector" stays fixed while main moves on)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def source_at(commit: str, path: str) -> str:
    """The text of `path` (relative to the repository root) at `commit`."""
    return subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def load_module(name: str, source: str) -> ModuleType:
    """`source` imported as module `name` (registered in sys.modules, so later loads can import it)."""
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
