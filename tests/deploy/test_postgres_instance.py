"""The deployment's Dagster instance (docker/dagster.yaml) against a real PostgreSQL server.

Only the run launcher is swapped for the default one (there is no Docker engine here); storage,
run coordinator, concurrency, run monitoring and retries are the deployment's own settings.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER_YAML = REPO_ROOT / "docker" / "dagster.yaml"

pytestmark = pytest.mark.postgres


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(
        f"codelupe_scripts_{name}", REPO_ROOT / "scripts" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


postgres_script = _load_script("postgres")


@pytest.fixture(scope="module")
def postgres_server() -> Iterator:
    try:
        server = postgres_script.start(dbname="dagster")
    except postgres_script.PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"PostgreSQL required on CI: {exc}")
        pytest.skip(str(exc))
    yield server
    postgres_script.stop(server)


@pytest.fixture
def dagster_home(tmp_path: Path, postgres_server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME holding docker/dagster.yaml minus its Docker run launcher."""
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    assert config["run_launcher"]["class"] == "DockerRunLauncher"
    del config["run_launcher"]
    # Resuming a crashed run worker needs a launcher that can resume (DockerRunLauncher can, which
    # test_docker_config checks); Dagster refuses resume attempts with the default launcher.
    assert config["run_monitoring"]["max_resume_run_attempts"] > 0
    config["run_monitoring"]["max_resume_run_attempts"] = 0
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    for name, value in postgres_server.dagster_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@dg.asset
def crawled_repos() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"repos": 3})


def _query(server, sql: str, *params) -> list[tuple]:
    with (
        psycopg2.connect(host=server.host, port=server.port, user=server.user, dbname=server.dbname) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(sql, params)
        return cur.fetchall()


def test_materialization_is_stored_in_postgres(dagster_home: Path, postgres_server) -> None:
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2

        result = dg.materialize([crawled_repos], instance=instance)
        assert result.success

        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        event = instance.get_latest_materialization_event(dg.AssetKey("crawled_repos"))
        assert event is not None and event.run_id == result.run_id
        assert event.asset_materialization.metadata["repos"].value == 3

    # The same facts, read from the database directly rather than through the instance.
    assert _query(postgres_server, "SELECT status FROM runs WHERE run_id = %s", result.run_id) == [
        ("SUCCESS",)
    ]
    stored = _query(
        postgres_server,
        "SELECT asset_key FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        result.run_id,
    )
    assert stored == [('["crawled_repos"]',)]


def test_init_commands_set_the_pool_limits(dagster_home: Path) -> None:
    """The dagster-init service's commands: migrate, then the per-pool limits dagster.yaml cannot hold."""
    # The `dagster` CLI itself, as the init container runs it (DAGSTER_HOME is set by the fixture).
    for args in (
        ["instance", "migrate"],
        ["instance", "concurrency", "set", "gpu", "1"],
        ["instance", "concurrency", "set", "clone", "4"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "dagster", *args], capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        storage = instance.event_log_storage
        assert storage.get_concurrency_info("gpu").slot_count == 1
        assert storage.get_concurrency_info("clone").slot_count == 4
        # A pool nobody configured gets dagster.yaml's default limit.
        assert instance.global_op_concurrency_default_limit == 1


def test_missing_postgres_variable_is_a_clear_error(
    dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_POSTGRES_HOST")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_POSTGRES_HOST"):
        dg.DagsterInstance.from_config(str(dagster_home))
