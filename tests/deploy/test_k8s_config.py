"""The Kubernetes deployment (k8s/), checked without a cluster through scripts/validate_k8s.py.

The values are checked against the Helm chart's documented structure; the instance config the chart
renders from them is loaded with Dagster's own schema and each class's schema (K8sRunLauncher's from
dagster-k8s, a [dev] dependency); the Job each code location's runs become is built by dagster-k8s.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import dagster as dg
import dagster_k8s  # noqa: F401  (the [dev] extra installs it: this module must not skip without it)
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "k8s"
DOCKER_DIR = REPO_ROOT / "docker"


def _load_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


validate_k8s = _load_path("codelupe_validate_k8s", REPO_ROOT / "scripts" / "validate_k8s.py")

# The docker-only settings of docker/.env.example: the k8s deployment has no compose services, ports or
# built-in Valkey/Postgres/Elasticsearch containers (its Postgres is set in values.yaml, pool limits by
# `dagster instance concurrency set`).
COMPOSE_ONLY = {
    "VALKEY_PASSWORD",
    "ES_HEAP",
    "CLONE_POOL_LIMIT",
    "CODELUPE_PIPELINE_IMAGE",
    "CODELUPE_TRAINER_IMAGE",
    "DAGSTER_WEBSERVER_PORT",
    "DAGSTER_POSTGRES_USER",
    "DAGSTER_POSTGRES_PASSWORD",
    "DAGSTER_POSTGRES_DB",
    "DAGSTER_POSTGRES_HOST",
    "DAGSTER_POSTGRES_PORT",
}
SECRET_NAMES = {
    "REDIS_URL",
    "ELASTICSEARCH_API_KEY",
    "ELASTICSEARCH_USERNAME",
    "ELASTICSEARCH_PASSWORD",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "HF_TOKEN",
    "WANDB_API_KEY",
}


@pytest.fixture(scope="module")
def values() -> dict:
    return validate_k8s.load_values()


@pytest.fixture(scope="module")
def instance(values) -> dict:
    return validate_k8s.load_instance_config(validate_k8s.render_instance(values))


@pytest.fixture(scope="module")
def processed(instance) -> dict:
    return validate_k8s.check_pluggable_classes(instance)


@pytest.fixture(scope="module")
def launcher(processed):
    return validate_k8s.build_launcher(processed["run_launcher"])


@pytest.fixture(scope="module")
def manifests() -> dict:
    docs = validate_k8s.load_manifests(validate_k8s.MANIFESTS_FILE, validate_k8s.SECRETS_EXAMPLE)
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def test_the_repository_files_pass_the_validator() -> None:
    report = validate_k8s.validate()
    assert report.values_errors == []
    assert report.manifest_errors == []
    assert report.instance_errors == []
    assert report.location_errors == []
    assert validate_k8s.main([]) == 0


def test_instance_loads_with_dagsters_schema_and_matches_the_compose_limits(instance, processed) -> None:
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert instance["run_storage"]["class"] == "PostgresRunStorage"
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["telemetry"]["enabled"] is False
    # The same run queue limits, pools, monitoring and retry policy as the Docker deployment.
    docker = yaml.safe_load((DOCKER_DIR / "dagster.yaml").read_text())
    assert instance["concurrency"] == docker["concurrency"]
    for section in ("run_monitoring", "run_retries"):
        assert instance[section] == docker[section], section
    assert instance["run_retries"]["retry_on_asset_or_op_failure"] is False  # Dagster's default is True
    assert processed["run_launcher"]["fail_pod_on_run_failure"] is True


def test_k8s_run_launcher_can_resume_crashed_runs(launcher) -> None:
    # Run monitoring resumes a run whose pod died only through a launcher that can resume.
    assert launcher.supports_resume_run


def test_dagsters_schema_rejects_a_misspelt_instance_key(values) -> None:
    instance = validate_k8s.render_instance(values)
    instance["run_monitoring"]["max_resume_attempts"] = instance["run_monitoring"].pop(
        "max_resume_run_attempts"
    )
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_resume_attempts"):
        validate_k8s.load_instance_config(instance)


def test_k8s_run_launchers_schema_rejects_a_bad_launcher_config(values) -> None:
    instance = validate_k8s.render_instance(values)
    instance["run_launcher"]["config"]["job_namespce"] = "codelupe"
    # The instance schema takes any launcher config; the launcher's own schema is the one with teeth.
    config = validate_k8s.load_instance_config(instance)
    with pytest.raises(ValueError, match=r"run_launcher \(K8sRunLauncher\).*job_namespce"):
        validate_k8s.check_pluggable_classes(config)


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        (
            ("runLauncher", "config", "k8sRunLauncher"),
            "loadInclusterConfig",
            "loadInClusterConfig",
            "loadInCluster",
        ),
        (("concurrency", "runs"), "maxConcurrentRuns", "maxRuns", "concurrency.runs.maxRuns"),
        (("dagsterDaemon", "runRetries"), "maxRetries", "retries", "dagsterDaemon.runRetries.retries"),
    ],
    ids=["launcher", "concurrency", "daemon"],
)
def test_values_with_an_undocumented_key_are_rejected(values, path, old, new, expected) -> None:
    broken = copy.deepcopy(values)
    node = broken
    for key in path:
        node = node[key]
    node[new] = node.pop(old)
    errors = validate_k8s.check_values(broken)
    assert any(expected in line for line in errors), errors


def test_values_break_the_charts_own_rules(values) -> None:
    broken = copy.deepcopy(values)
    broken["runLauncher"]["type"] = "K8sLauncher"
    broken["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] = 4
    broken["dagster-user-deployments"]["deployments"][0]["image"]["pullPolicy"] = "Sometimes"
    del broken["dagster-user-deployments"]["deployments"][1]["port"]
    errors = "\n".join(validate_k8s.check_values(broken))
    assert "runLauncher.type: 'K8sLauncher'" in errors
    assert "maxConcurrentRuns cannot both be set" in errors  # the chart's template fails on it
    assert "'Sometimes'" in errors
    assert "deployments[1]: port is required" in errors


def test_code_locations_match_the_docker_workspace(values) -> None:
    workspace = yaml.safe_load((DOCKER_DIR / "workspace.yaml").read_text())
    docker_names = sorted(entry["grpc_server"]["location_name"] for entry in workspace["load_from"])
    deployments = validate_k8s.deployments(values)
    assert sorted(validate_k8s.location_name(d) for d in deployments.values()) == docker_names
    for deployment in deployments.values():
        args = deployment["codeServerArgs"]
        assert args[args.index("-f") + 1] == "/opt/codelupe/code_locations.py"  # where both images copy it
        attribute = args[args.index("-a") + 1]
        expected_image = "codelupe-trainer" if attribute == "trainer" else "codelupe-pipeline"
        assert deployment["image"]["repository"].endswith(expected_image), deployment["name"]


def test_trainer_runs_go_to_gpu_nodes_with_a_gpu(values, launcher) -> None:
    trainer = validate_k8s.deployments(values)["codelupe-trainer"]
    pod = _pod(validate_k8s.run_job(launcher, trainer, "qwen_training_job"))
    container = pod["containers"][0]
    assert container["image"].startswith(trainer["image"]["repository"])
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts["/data"] == "codelupe-data" and mounts["/dev/shm"] == "dshm"
    shm = next(volume for volume in pod["volumes"] if volume["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"


def test_batch_runs_get_cpu_resources_settings_secrets_and_data_but_no_gpu(values, launcher) -> None:
    pipeline = validate_k8s.deployments(values)["codelupe"]
    job = validate_k8s.run_job(launcher, pipeline, "batch_job")
    pod = _pod(job)
    container = pod["containers"][0]
    assert container["image"] == f"{pipeline['image']['repository']}:{pipeline['image']['tag']}"
    assert "nvidia.com/gpu" not in json.dumps(container["resources"])
    assert container["resources"] == values["runLauncher"]["config"]["k8sRunLauncher"]["resources"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    env_from = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    assert {"codelupe-settings", "codelupe-secrets"} <= set(env_from)
    assert {"mountPath": "/data", "name": "codelupe-data"} in container["volumeMounts"]
    assert job["namespace"] == "codelupe"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_a_bad_per_location_config_is_rejected(values, processed) -> None:
    broken = copy.deepcopy(values)
    trainer = validate_k8s.deployments(broken)["codelupe-trainer"]
    context = json.loads(trainer["env"][0]["value"])
    context["k8s"]["run_k8s_confg"] = context["k8s"].pop("run_k8s_config")
    trainer["env"][0]["value"] = json.dumps(context)
    errors = validate_k8s.check_locations(broken, processed["run_launcher"])
    assert len(errors) == 1 and "codelupe-trainer" in errors[0] and "run_k8s_confg" in errors[0], errors


def test_code_server_resources_never_reach_the_runs(values, processed) -> None:
    """With includeConfigInLaunchedRuns the chart hands a code server's own small resources to its runs."""
    broken = copy.deepcopy(values)
    validate_k8s.deployments(broken)["codelupe"]["includeConfigInLaunchedRuns"]["enabled"] = True
    errors = validate_k8s.check_locations(broken, processed["run_launcher"])
    assert errors and "codelupe" in errors[0] and "resources" in errors[0]


def test_every_setting_reaches_every_pod_and_secrets_stay_in_the_secret(values, manifests) -> None:
    from codelupe_dagster.settings import DEFAULTS

    settings = manifests[("ConfigMap", "codelupe-settings")]["data"]
    secrets = manifests[("Secret", "codelupe-secrets")]["stringData"]
    env_example = {
        line.split("=", 1)[0]
        for line in (DOCKER_DIR / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    wanted = (env_example - COMPOSE_ONLY) | set(DEFAULTS)
    assert sorted(wanted - set(settings) - set(secrets)) == []
    assert set(secrets) == SECRET_NAMES
    assert not set(settings) & SECRET_NAMES
    # The code servers (sensors), the daemon, the webserver and every run pod get both.
    holders = [
        *validate_k8s.deployments(values).values(),
        values["dagsterDaemon"],
        values["dagsterWebserver"],
        values["runLauncher"]["config"]["k8sRunLauncher"],
    ]
    for holder in holders:
        assert {"name": "codelupe-settings"} in holder["envConfigMaps"]
        assert {"name": "codelupe-secrets"} in holder["envSecrets"]


def test_setting_defaults_match_the_settings_module(manifests) -> None:
    from codelupe_dagster.settings import DEFAULTS

    settings = manifests[("ConfigMap", "codelupe-settings")]["data"]
    # The same deliberate differences as the compose deployment.
    deployment_choices = {"CRAWLER_MODE", "BASE_MODEL", "DATA_DIR"}
    for name, default in DEFAULTS.items():
        if name not in deployment_choices:
            assert settings[name] == default, name
    batch_limit = int(settings["BATCH_MAX_ACTIVE_RUNS"])
    assert batch_limit <= validate_k8s.load_values()["concurrency"]["runs"]["maxConcurrentRuns"]


def test_manifests_define_what_the_values_use(values, manifests) -> None:
    assert manifests[("PersistentVolumeClaim", "codelupe-data")]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "postgresql-password" in manifests[("Secret", "dagster-postgresql-secret")]["stringData"]
    broken = copy.deepcopy(values)
    broken["dagsterDaemon"]["envSecrets"].append({"name": "missing-secret"})
    broken["global"]["postgresqlSecretName"] = "other-postgres"
    errors = "\n".join(validate_k8s.check_manifests(broken))
    assert "Secret missing-secret" in errors and "Secret other-postgres" in errors
