"""A real Elasticsearch node for one test session, started by ``scripts/elasticsearch.py``.

The script is loaded by path under another module name: put on ``sys.path`` it would shadow the
``elasticsearch`` client package it shares a name with.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "elasticsearch.py"


def load_script() -> ModuleType:
    name = "codelupe_elasticsearch_script"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def start_session_node(heap: str = "512m") -> tuple[str, Callable[[], None]]:
    """Start a private node for this process; returns ``(url, stop)``. ``stop`` is idempotent and also
    runs at interpreter exit, and a node whose test process was killed is reaped by the next start.

    Raises the script's ``NodeError`` (a ``RuntimeError``) with the reason and the server log tail when
    no Java 21+ is found, no distribution can be provisioned, or the node does not become healthy.
    """
    script = load_script()
    node = script.start_node(name=f"pytest-{os.getpid()}", ephemeral=True, heap=heap)
    atexit.register(node.stop)
    return node.url, node.stop
