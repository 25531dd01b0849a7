"""`codelupe status`, `dropped` and `search` start in a fraction of a second because they import only what
reading needs: not Dagster, not the dedup machinery (numpy, the content normaliser) that once cost status a
quarter second, and not redis-py (they read through `backends.resp_reader`).
Checked in a fresh interpreter through the real entry point, so a new import anywhere on the path fails
here instead of slowing every `status` silently (`bench/cli_start.py` has the timings)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey

ROOT = Path(__file__).resolve().parents[2]

# What `status` once imported and must not again: each costs from tens to thousands of milliseconds.
HEAVY = (
    "dagster",
    "numpy",
    "pyarrow",
    "pygit2",
    "torch",
    "codelupe_dagster.core.dedup",  # numpy and a whitespace table built at import
    "codelupe_dagster.backends.redis_dedup",
    "codelupe_dagster.backends.dedup_ledger",
    "opentelemetry.sdk",  # redis-py's optional metrics (`cli.stores.load_redis_py`)
    "redis",  # 0.25-0.5 s by itself: readers use `backends.resp_reader.RespReader`
    "codelupe_dagster.core.filters",  # the native extension and language tables (`core.drop_reasons`)
    "pydantic",
)

PROBE = """
import json, sys
from codelupe_dagster.cli import main
try:
    main(sys.argv[2:])
except SystemExit as done:
    code = done.code
imported = [name for name in json.loads(sys.argv[1]) if name in sys.modules]
print(json.dumps({"code": code, "imported": imported}), file=sys.stderr)
"""


def _probe(data_dir: Path, *args: str, **env: str) -> tuple[dict[str, object], str]:
    cleared = {"REDIS_URL", "ELASTICSEARCH_URL", "DAGSTER_HOME", "DATA_DIR"}
    environ = {k: v for k, v in os.environ.items() if k not in cleared}
    environ.update(env, DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    return json.loads(result.stderr.strip().splitlines()[-1]), result.stdout


@pytest.mark.parametrize("args", [("status", "--json"), ("status",)], ids=["json", "table"])
def test_status_imports_nothing_heavy(tmp_path: Path, valkey_url: str, args: tuple[str, ...]) -> None:
    (tmp_path / "data").mkdir()
    verdict, stdout = _probe(tmp_path / "data", *args, REDIS_URL=valkey_url)
    assert verdict == {"code": 0, "imported": []}, verdict
    assert "pipeline:processed:files" in stdout  # it did read the dedup ledger's count


@pytest.mark.parametrize("args", [("dropped",), ("dropped", "--json"), ("search", "parse json")])
def test_dropped_and_search_import_nothing_heavy(
    tmp_path: Path, valkey_url: str, args: tuple[str, ...]
) -> None:
    (tmp_path / "data").mkdir()
    verdict, _ = _probe(tmp_path / "data", *args, REDIS_URL=valkey_url)
    assert verdict == {"code": 0, "imported": []}, verdict


def test_status_on_the_embedded_valkey_imports_nothing_heavy(tmp_path: Path) -> None:
    """Without REDIS_URL: finding DATA_DIR's live server (`embedded_valkey._live_url`) reads through
    `RespReader` too."""
    data = tmp_path / "data"
    ensure_embedded_valkey(data)
    try:
        verdict, stdout = _probe(data, "status", "--json")
    finally:
        stop_embedded_valkey(data)
    assert verdict == {"code": 0, "imported": []}, verdict
    assert '"url": "embedded"' in stdout


def test_a_url_with_options_is_read_through_redis_py(tmp_path: Path, valkey_url: str) -> None:
    """A query option (here a timeout) is redis-py's to interpret: the reader leaves such URLs to it."""
    (tmp_path / "data").mkdir()
    verdict, stdout = _probe(
        tmp_path / "data", "status", "--json", REDIS_URL=f"{valkey_url}?socket_timeout=5"
    )
    assert verdict == {"code": 0, "imported": ["redis"]}, verdict
    assert "pipeline:processed:files" in stdout


def test_the_probe_sees_a_heavy_import(tmp_path: Path, valkey_url: str) -> None:
    """The probe can tell: a command that opens the dedup ledger does import it."""
    (tmp_path / "data").mkdir()
    verdict, _ = _probe(tmp_path / "data", "forget", "--dry-run", "some/repo", REDIS_URL=valkey_url)
    assert "codelupe_dagster.backends.dedup_ledger" in verdict["imported"], verdict


LOAD_REDIS = """
import sys
from codelupe_dagster.cli import stores
stores.load_redis_py()
hidden = "redis" in sys.modules and "opentelemetry.sdk" not in sys.modules
import opentelemetry.sdk.metrics  # what wandb does later in a training process
print(hidden, sys.modules["opentelemetry.sdk.metrics"].MeterProvider.__name__)
"""


@pytest.mark.skipif(importlib.util.find_spec("opentelemetry.sdk") is None, reason="no OpenTelemetry SDK here")
def test_redis_py_loads_without_the_telemetry_sdk_which_stays_importable() -> None:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_REDIS], capture_output=True, text=True, env=environ, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "MeterProvider"]
