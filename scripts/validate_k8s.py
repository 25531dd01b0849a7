"""Validate the Kubernetes deployment (k8s/) without a cluster.

No cluster is reachable from CI and the Helm chart is not on any package registry CI can reach, so:

- k8s/values.yaml is checked against the documented structure of Dagster's Helm chart (`dagster/dagster`
  1.13): every key used must be one the chart's values schema defines (the key sets below are written
  from the chart's schema models and templates; the chart's own `values.schema.json` is not fetched and
  not copied here), with the enums and the conflict rules its templates enforce.
- The instance config the chart renders from those values (its `<release>-instance` ConfigMap, the
  `dagster.yaml` every Dagster process and run pod loads) is rebuilt here the way the chart's templates
  build it, for the sections the values use, and loaded with Dagster's own instance schema; each
  pluggable class (storage, run launcher, run coordinator, scheduler, compute logs) is then checked
  against its own config schema, K8sRunLauncher's from dagster-k8s.
- Each code location's per-location config (DAGSTER_CONTAINER_CONTEXT) is parsed by dagster-k8s, and the
  Kubernetes Job the launcher would create for a run of each location is built by dagster-k8s's own
  `construct_dagster_k8s_job`, so the image, resources, node selector, tolerations, volumes and env
  sources a run pod gets are checked as Kubernetes would receive them.
- k8s/codelupe.yaml and k8s/codelupe-secrets.example.yaml: the ConfigMap, PVC and Secrets the values
  refer to.

Needs dagster-k8s (the project's [k8s] extra; [dev] includes it). With `helm` installed and the chart
repository reachable, `helm template dagster dagster/dagster --version 1.13.27 -f k8s/values.yaml`
is the final word on rendering; this script is what CI can run.

Usage: python scripts/validate_k8s.py [--show-instance]
Exit status 0 when everything passes; the findings are printed either way.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
K8S_DIR = REPO_ROOT / "k8s"
VALUES_FILE = K8S_DIR / "values.yaml"
MANIFESTS_FILE = K8S_DIR / "codelupe.yaml"
SECRETS_EXAMPLE = K8S_DIR / "codelupe-secrets.example.yaml"
CHART_VERSION = "1.13.27"  # the chart is versioned with dagster; docs/kubernetes.md installs this one

# ---------------------------------------------------------------------------------------------------------
# The chart's documented values structure, for the sections k8s/values.yaml uses. A dict maps each allowed
# key to the structure below it; None accepts any value (a Kubernetes object the chart passes through);
# a one-element list describes every item of a list.
# ---------------------------------------------------------------------------------------------------------

_IMAGE = {"repository": None, "tag": None, "pullPolicy": None}
_ENV_SOURCE = [{"name": None, "optional": None}]
_POD = {
    "annotations": None,
    "labels": None,
    "nodeSelector": None,
    "affinity": None,
    "tolerations": None,
    "podSecurityContext": None,
    "securityContext": None,
    "resources": None,
    "schedulerName": None,
    "volumeMounts": None,
    "volumes": None,
    "env": None,
    "envConfigMaps": _ENV_SOURCE,
    "envSecrets": _ENV_SOURCE,
}
_USER_DEPLOYMENT = {
    **_POD,
    "name": None,
    "image": _IMAGE,
    "dagsterApiGrpcArgs": None,
    "codeServerArgs": None,
    "includeConfigInLaunchedRuns": {"enabled": None},
    "port": None,
    "livenessProbe": None,
    "readinessProbe": None,
    "startupProbe": None,
}
_TAG_LIMIT = [{"key": None, "value": None, "limit": None}]
CHART_STRUCTURE: dict[str, Any] = {
    "global": {
        "postgresqlSecretName": None,
        "postgresqlSecretUsernameKey": None,
        "dagsterHome": None,
        "serviceAccountName": None,
        "celeryConfigSecretName": None,
    },
    "generatePostgresqlPasswordSecret": None,
    "imagePullSecrets": None,
    "serviceAccount": {"create": None, "name": None, "annotations": None},
    "postgresql": {
        "enabled": None,
        "image": None,
        "postgresqlHost": None,
        "postgresqlUsername": None,
        "postgresqlPassword": None,
        "postgresqlDatabase": None,
        "postgresqlParams": None,
        "postgresqlScheme": None,
        "service": {"port": None},
    },
    "dagsterWebserver": {
        **_POD,
        "replicaCount": None,
        "image": _IMAGE,
        "service": None,
        "workspace": None,
        "readinessProbe": None,
        "livenessProbe": None,
        "startupProbe": None,
        "enableReadOnly": None,
        "logLevel": None,
    },
    "ingress": {"enabled": None, "annotations": None, "labels": None, "dagsterWebserver": None},
    "dagster-user-deployments": {
        "enabled": None,
        "enableSubchart": None,
        "imagePullSecrets": None,
        "deployments": [_USER_DEPLOYMENT],
    },
    "runLauncher": {
        "type": None,
        "config": {
            "k8sRunLauncher": {
                "image": _IMAGE,
                "imagePullPolicy": None,
                "jobNamespace": None,
                "loadInclusterConfig": None,
                "kubeconfigFile": None,
                "envConfigMaps": _ENV_SOURCE,
                "envSecrets": _ENV_SOURCE,
                "envVars": None,
                "volumeMounts": None,
                "volumes": None,
                "labels": None,
                "failPodOnRunFailure": None,
                "resources": None,
                "schedulerName": None,
                "securityContext": None,
                "runK8sConfig": {
                    "containerConfig": None,
                    "podSpecConfig": None,
                    "podTemplateSpecMetadata": None,
                    "jobSpecConfig": None,
                    "jobMetadata": None,
                },
            },
            "celeryK8sRunLauncher": None,
            "customRunLauncher": None,
        },
    },
    "dagsterDaemon": {
        **_POD,
        "enabled": None,
        "image": _IMAGE,
        "runCoordinator": {
            "enabled": None,
            "type": None,
            "config": {
                "queuedRunCoordinator": {
                    "maxConcurrentRuns": None,
                    "tagConcurrencyLimits": _TAG_LIMIT,
                    "dequeueIntervalSeconds": None,
                    "dequeueNumWorkers": None,
                    "dequeueUseThreads": None,
                    "blockOpConcurrencyLimitedRuns": {"enabled": None, "opConcurrencySlotBuffer": None},
                },
                "customRunCoordinator": None,
            },
        },
        "heartbeatTolerance": None,
        "deploymentLabels": None,
        "livenessProbe": None,
        "readinessProbe": None,
        "startupProbe": None,
        "runMonitoring": {
            "enabled": None,
            "startTimeoutSeconds": None,
            "cancelTimeoutSeconds": None,
            "maxResumeRunAttempts": None,
            "pollIntervalSeconds": None,
            "freeSlotsAfterRunEndSeconds": None,
        },
        "runRetries": {"enabled": None, "maxRetries": None, "retryOnAssetOrOpFailure": None},
        "sensors": {"useThreads": None, "numWorkers": None, "numSubmitWorkers": None},
        "schedules": {"useThreads": None, "numWorkers": None, "numSubmitWorkers": None},
    },
    "concurrency": {
        "enabled": None,
        "pools": {"defaultLimit": None, "granularity": None, "opGranularityRunBuffer": None},
        "runs": {"maxConcurrentRuns": None, "tagConcurrencyLimits": _TAG_LIMIT},
    },
    "telemetry": {"enabled": None},
}
ENUMS: dict[str, set[str]] = {
    "runLauncher.type": {"K8sRunLauncher", "CeleryK8sRunLauncher", "CustomRunLauncher"},
    "dagsterDaemon.runCoordinator.type": {"QueuedRunCoordinator", "CustomRunCoordinator"},
    "concurrency.pools.granularity": {"run", "op"},
}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}


@dataclass
class K8sReport:
    values_errors: list[str] = field(default_factory=list)
    instance_errors: list[str] = field(default_factory=list)
    location_errors: list[str] = field(default_factory=list)
    manifest_errors: list[str] = field(default_factory=list)
    instance: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not (
            self.values_errors or self.instance_errors or self.location_errors or self.manifest_errors
        )


def load_values(path: Path = VALUES_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def _get(values: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def check_structure(value: Any, structure: Any, where: str = "") -> list[str]:
    """Keys of `value` the documented `structure` does not have, as dotted paths."""
    if structure is None:
        return []
    if isinstance(structure, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        errors: list[str] = []
        for index, item in enumerate(value):
            errors += check_structure(item, structure[0], f"{where}[{index}]")
        return errors
    if not isinstance(value, Mapping):
        return [f"{where}: expected a mapping"]
    errors = []
    for key, child in value.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in structure:
            errors.append(f"{path}: not a key of the dagster/dagster chart's values")
        else:
            errors += check_structure(child, structure[key], path)
    return errors


def check_values(values: Mapping[str, Any]) -> list[str]:
    """Unknown keys, enum values and the chart's own consistency rules (its templates `fail` on them)."""
    errors = check_structure(values, CHART_STRUCTURE)
    for dotted, allowed in ENUMS.items():
        value = _get(values, dotted)
        if value is not None and value not in allowed:
            errors.append(f"{dotted}: {value!r} is not one of {sorted(allowed)}")
    launcher_policy = "runLauncher.config.k8sRunLauncher.imagePullPolicy"
    policies = [(launcher_policy, _get(values, launcher_policy))]
    for index, deployment in enumerate(_get(values, "dagster-user-deployments.deployments", []) or []):
        policies.append((f"deployments[{index}].image.pullPolicy", _get(deployment, "image.pullPolicy")))
        for required in ("name", "image.repository", "image.tag", "port"):
            if _get(deployment, required) is None:
                errors.append(f"dagster-user-deployments.deployments[{index}]: {required} is required")
    errors += [f"{where}: {policy!r} is not one of {sorted(PULL_POLICIES)}" for where, policy in policies
               if policy is not None and policy not in PULL_POLICIES]  # fmt: skip
    # configmap-instance's concurrency helper refuses run limits set in two places.
    qrc = _get(values, "dagsterDaemon.runCoordinator.config.queuedRunCoordinator", {}) or {}
    runs = _get(values, "concurrency.runs", {}) or {}
    for key in ("maxConcurrentRuns", "tagConcurrencyLimits"):
        if qrc.get(key) and runs.get(key):
            errors.append(f"concurrency.runs.{key} and queuedRunCoordinator.{key} cannot both be set")
    if _get(values, "runLauncher.type") == "K8sRunLauncher" and not _get(
        values, "runLauncher.config.k8sRunLauncher"
    ):
        errors.append("runLauncher.config.k8sRunLauncher is required for the K8sRunLauncher")
    if _get(values, "generatePostgresqlPasswordSecret") is False and not _get(
        values, "global.postgresqlSecretName"
    ):
        errors.append("global.postgresqlSecretName must name the Secret when the chart does not generate one")
    return errors


# ---------------------------------------------------------------------------------------------------------
# The instance ConfigMap, as the chart's templates render it (configmap-instance.yaml and its helpers)
# ---------------------------------------------------------------------------------------------------------


def fullname(release: str) -> str:
    """The chart's `dagster.fullname`: the release name if it contains "dagster", else "<release>-dagster"."""
    return release if "dagster" in release else f"{release}-dagster"


def service_account_name(values: Mapping[str, Any], release: str) -> str:
    return (
        _get(values, "global.serviceAccountName") or _get(values, "serviceAccount.name") or fullname(release)
    )


def _postgres_config(values: Mapping[str, Any], release: str) -> dict[str, Any]:
    pg = values.get("postgresql", {})
    username: Any = pg.get("postgresqlUsername")
    if _get(values, "global.postgresqlSecretUsernameKey"):
        username = {"env": "DAGSTER_PG_USERNAME"}
    host = f"{fullname(release)}-postgresql" if pg.get("enabled") else pg.get("postgresqlHost")
    db: dict[str, Any] = {
        "username": username,
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": host,
        "db_name": pg.get("postgresqlDatabase"),
        "port": _get(pg, "service.port"),
        "params": pg.get("postgresqlParams") or {},
    }
    if pg.get("postgresqlScheme"):
        db["scheme"] = pg["postgresqlScheme"]
    return {"postgres_db": db}


_RUN_K8S_CONFIG_KEYS = {
    "containerConfig": "container_config",
    "podSpecConfig": "pod_spec_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata",
    "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}


def _k8s_run_launcher(values: Mapping[str, Any], namespace: str, release: str) -> dict[str, Any]:
    launcher = _get(values, "runLauncher.config.k8sRunLauncher", {}) or {}
    config: dict[str, Any] = {
        "load_incluster_config": launcher.get("loadInclusterConfig"),
        "job_namespace": launcher.get("jobNamespace") or namespace,
        "image_pull_policy": launcher.get("imagePullPolicy"),
        "service_account_name": service_account_name(values, release),
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"}]
        + [source["name"] for source in launcher.get("envConfigMaps") or [] if "name" in source],
    }
    if launcher.get("kubeconfigFile"):
        config["kubeconfig_file"] = launcher["kubeconfigFile"]
    if values.get("imagePullSecrets"):
        config["image_pull_secrets"] = values["imagePullSecrets"]
    if "image" in launcher:
        config["job_image"] = f"{launcher['image']['repository']}:{launcher['image']['tag']}"
    secrets = [source["name"] for source in launcher.get("envSecrets") or [] if "name" in source]
    if secrets:
        config["env_secrets"] = secrets
    simple = {
        "envVars": "env_vars",
        "volumeMounts": "volume_mounts",
        "volumes": "volumes",
        "labels": "labels",
        "resources": "resources",
        "schedulerName": "scheduler_name",
        "securityContext": "security_context",
    }
    for key, name in simple.items():
        if launcher.get(key):
            config[name] = launcher[key]
    if launcher.get("failPodOnRunFailure") is not None:
        config["fail_pod_on_run_failure"] = launcher["failPodOnRunFailure"]
    run_k8s_config = {
        _RUN_K8S_CONFIG_KEYS[key]: value
        for key, value in (launcher.get("runK8sConfig") or {}).items()
        if value
    }
    if run_k8s_config:
        config["run_k8s_config"] = run_k8s_config
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def render_instance(values: Mapping[str, Any], namespace: str = "codelupe", release: str = "dagster") -> dict:
    """The `dagster.yaml` of the chart's instance ConfigMap for these values (the sections they use)."""
    if _get(values, "runLauncher.type") != "K8sRunLauncher":
        raise ValueError("only the K8sRunLauncher is rendered here")
    storage = _postgres_config(values, release)
    instance: dict[str, Any] = {
        "scheduler": {"module": "dagster._core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": copy.deepcopy(storage),
        },
        "run_launcher": _k8s_run_launcher(values, namespace, release),
        "run_storage": {
            "module": "dagster_postgres.run_storage",
            "class": "PostgresRunStorage",
            "config": copy.deepcopy(storage),
        },
        "event_log_storage": {
            "module": "dagster_postgres.event_log",
            "class": "PostgresEventLogStorage",
            "config": copy.deepcopy(storage),
        },
        "compute_logs": {
            "module": "dagster._core.storage.noop_compute_log_manager",
            "class": "NoOpComputeLogManager",
        },
        "telemetry": {"enabled": bool(_get(values, "telemetry.enabled", True))},
    }
    daemon = values.get("dagsterDaemon", {})
    if daemon.get("enabled", True) and _get(daemon, "runCoordinator.enabled"):
        qrc = _get(daemon, "runCoordinator.config.queuedRunCoordinator", {}) or {}
        names = {
            "maxConcurrentRuns": "max_concurrent_runs",
            "tagConcurrencyLimits": "tag_concurrency_limits",
            "dequeueIntervalSeconds": "dequeue_interval_seconds",
            "dequeueUseThreads": "dequeue_use_threads",
            "dequeueNumWorkers": "dequeue_num_workers",
        }
        coordinator: dict[str, Any] = {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        }
        config = {names[key]: value for key, value in qrc.items() if key in names and value is not None}
        if config:
            coordinator["config"] = config
        instance["run_coordinator"] = coordinator
    monitoring = daemon.get("runMonitoring") or {}
    if daemon.get("enabled", True) and monitoring.get("enabled"):
        # The template writes free_slots_after_run_end_seconds unconditionally (the chart's defaults set it).
        instance["run_monitoring"] = {
            "enabled": True,
            "start_timeout_seconds": monitoring.get("startTimeoutSeconds"),
            "poll_interval_seconds": monitoring.get("pollIntervalSeconds"),
            "free_slots_after_run_end_seconds": monitoring.get("freeSlotsAfterRunEndSeconds"),
        }
        for key, name in (
            ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
            ("maxResumeRunAttempts", "max_resume_run_attempts"),
        ):
            if monitoring.get(key) is not None:
                instance["run_monitoring"][name] = monitoring[key]
    retries = daemon.get("runRetries") or {}
    if daemon.get("enabled", True) and retries.get("enabled"):
        instance["run_retries"] = {"enabled": True}
        if retries.get("maxRetries"):
            instance["run_retries"]["max_retries"] = retries["maxRetries"]
        if retries.get("retryOnAssetOrOpFailure") is not None:
            instance["run_retries"]["retry_on_asset_or_op_failure"] = retries["retryOnAssetOrOpFailure"]
    concurrency = values.get("concurrency") or {}
    if concurrency.get("enabled"):
        rendered: dict[str, Any] = {}
        pools = concurrency.get("pools") or {}
        pool_names = {
            "defaultLimit": "default_limit",
            "granularity": "granularity",
            "opGranularityRunBuffer": "op_granularity_run_buffer",
        }
        if any(pools.get(key) is not None for key in pool_names):
            rendered["pools"] = {
                name: pools[key] for key, name in pool_names.items() if pools.get(key) is not None
            }
        runs = concurrency.get("runs") or {}
        if runs.get("maxConcurrentRuns") is not None or runs.get("tagConcurrencyLimits"):
            rendered["runs"] = {}
            if runs.get("maxConcurrentRuns") is not None:
                rendered["runs"]["max_concurrent_runs"] = runs["maxConcurrentRuns"]
            if runs.get("tagConcurrencyLimits"):
                rendered["runs"]["tag_concurrency_limits"] = [
                    {key: limit[key] for key in ("key", "value", "limit") if limit.get(key) is not None}
                    for limit in runs["tagConcurrencyLimits"]
                ]
        if rendered:
            instance["concurrency"] = rendered
    return instance


# The variables the chart sets on every Dagster container; the instance config reads them.
CHART_ENV = {
    "DAGSTER_HOME": "/opt/dagster/dagster_home",
    "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
    "DAGSTER_K8S_PG_PASSWORD_SECRET": "dagster-postgresql-secret",
    "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP": "dagster-pipeline-env",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
}


@contextlib.contextmanager
def chart_environment() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in CHART_ENV}
    os.environ.update(CHART_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_instance_config(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The instance config as Dagster loads `$DAGSTER_HOME/dagster.yaml`, with its own schema (raises
    DagsterInvalidConfigError on an unknown key or a wrong type)."""
    # Schema-only loading of dagster.yaml has no public Dagster API (as tests/deploy/test_docker_config.py).
    from dagster._core.instance.config import dagster_instance_config

    with tempfile.TemporaryDirectory() as home, chart_environment():
        (Path(home) / "dagster.yaml").write_text(yaml.safe_dump(dict(instance), sort_keys=False))
        config, custom_class = dagster_instance_config(home)
    if custom_class is not None:
        raise ValueError("the chart never sets a custom instance class")
    return config


PLUGGABLE_SECTIONS = (
    "scheduler",
    "schedule_storage",
    "run_storage",
    "event_log_storage",
    "run_launcher",
    "run_coordinator",
    "compute_logs",
)


def check_pluggable_classes(config: Mapping[str, Any]) -> dict[str, Any]:
    """{section: processed config} for each class the instance names, each against its class's own
    schema; a section that fails raises ValueError naming it."""
    from dagster._config import process_config
    from dagster._serdes.config_class import class_from_code_pointer

    processed: dict[str, Any] = {}
    with chart_environment():
        for section in PLUGGABLE_SECTIONS:
            pointer = config.get(section)
            if not pointer:
                continue
            klass = class_from_code_pointer(pointer["module"], pointer["class"])
            result = process_config(klass.config_type(), pointer.get("config") or {})
            if not result.success:
                messages = "; ".join(error.message for error in result.errors or [])
                raise ValueError(f"{section} ({pointer['class']}): {messages}")
            processed[section] = result.value
    return processed


# ---------------------------------------------------------------------------------------------------------
# Code locations: their per-location config and the Job a run of each would become
# ---------------------------------------------------------------------------------------------------------


def deployments(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _get(values, "dagster-user-deployments.deployments", []) or []}


def location_name(deployment: Mapping[str, Any]) -> str:
    args = list(deployment.get("codeServerArgs") or deployment.get("dagsterApiGrpcArgs") or [])
    return args[args.index("--location-name") + 1] if "--location-name" in args else deployment["name"]


def container_context(deployment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The DAGSTER_CONTAINER_CONTEXT a code server reports for its runs, or None when it sets none."""
    if _get(deployment, "includeConfigInLaunchedRuns.enabled", True):
        raise ValueError(
            f"{deployment['name']}: includeConfigInLaunchedRuns gives its runs the code server's resources"
        )
    env = deployment.get("env") or []
    entries = env.items() if isinstance(env, Mapping) else [(e["name"], e.get("value")) for e in env]
    for name, value in entries:
        if name == "DAGSTER_CONTAINER_CONTEXT":
            return json.loads(value)
    return None


_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: offline, user: {token: offline}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


def build_launcher(launcher_config: Mapping[str, Any]):
    """A K8sRunLauncher from the processed instance config, pointed at a kubeconfig for a server that is
    never contacted (in-cluster loading needs a pod's service account)."""
    from dagster_k8s import K8sRunLauncher

    config = dict(launcher_config, load_incluster_config=False)
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as handle:
        handle.write(_KUBECONFIG)
    config["kubeconfig_file"] = handle.name
    try:
        return K8sRunLauncher.from_config_value(None, config)
    finally:
        os.unlink(handle.name)


def run_job(launcher, deployment: Mapping[str, Any], job_name: str = "batch_job") -> dict[str, Any]:
    """The Kubernetes Job (as a dict) the launcher creates for a run of `job_name` from this code location,
    built by dagster-k8s the way K8sRunLauncher.launch_run builds it."""
    from dagster._core.code_pointer import FileCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id

    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"  # DAGSTER_CURRENT_IMAGE
    origin = JobPythonOrigin(
        job_name,
        RepositoryPythonOrigin(
            executable_path="/usr/local/bin/python",
            code_pointer=FileCodePointer("/opt/codelupe/code_locations.py", "pipeline"),
            container_image=image,
            container_context=container_context(deployment),
        ),
    )
    run = DagsterRun(
        job_name=job_name, run_id="0" * 8 + "-0000-0000-0000-" + "0" * 12, job_code_origin=origin
    )
    context = launcher.get_container_context_for_run(run)
    name = get_job_name_from_run_id(run.run_id)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=image, run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"],
        job_name=name,
        pod_name=name,
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": job_name},
    )
    import kubernetes

    return kubernetes.client.ApiClient().sanitize_for_serialization(job) | {"namespace": context.namespace}


def check_locations(values: Mapping[str, Any], launcher_config: Mapping[str, Any]) -> list[str]:
    from dagster_k8s.container_context import K8sContainerContext

    errors: list[str] = []
    launcher = build_launcher(launcher_config)
    for name, deployment in deployments(values).items():
        try:
            context = container_context(deployment)
            K8sContainerContext.create_from_config(context)
            run_job(launcher, deployment)
        except Exception as exc:
            errors.append(f"code location {name}: {type(exc).__name__}: {exc}")
    return errors


def load_manifests(*paths: Path) -> list[dict[str, Any]]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc]


def check_manifests(values: Mapping[str, Any]) -> list[str]:
    """Every ConfigMap, Secret and PVC the values refer to is defined (in k8s/codelupe.yaml or the secrets
    example), and the ConfigMap and the Secret hold no key twice (envFrom would let one hide the other)."""
    objects = {
        (doc["kind"], doc["metadata"]["name"]): doc for doc in load_manifests(MANIFESTS_FILE, SECRETS_EXAMPLE)
    }
    errors: list[str] = []
    referenced = {("ConfigMap", n) for n in _names(values, "envConfigMaps")}
    referenced |= {("Secret", n) for n in _names(values, "envSecrets")}
    referenced |= {("PersistentVolumeClaim", c) for c in _claims(values)}
    referenced.add(("Secret", _get(values, "global.postgresqlSecretName")))
    for kind, name in sorted(referenced):
        if (kind, name) not in objects:
            errors.append(f"{kind} {name} is used by k8s/values.yaml but defined nowhere in k8s/")
    if ("Secret", _get(values, "global.postgresqlSecretName")) in objects:
        secret = objects[("Secret", _get(values, "global.postgresqlSecretName"))]
        if "postgresql-password" not in (secret.get("stringData") or secret.get("data") or {}):
            errors.append("the Postgres Secret must hold the key postgresql-password (the chart reads it)")
    settings = objects.get(("ConfigMap", "codelupe-settings"), {}).get("data") or {}
    secrets = objects.get(("Secret", "codelupe-secrets"), {}).get("stringData") or {}
    overlap = sorted(set(settings) & set(secrets))
    if overlap:
        errors.append(f"set in both the settings ConfigMap and the Secret: {overlap}")
    return errors


def _names(node: Any, key: str) -> set[str]:
    found: set[str] = set()
    if isinstance(node, Mapping):
        for k, v in node.items():
            if k == key and isinstance(v, list):
                found |= {item["name"] for item in v if isinstance(item, Mapping) and "name" in item}
            else:
                found |= _names(v, key)
    elif isinstance(node, list):
        for item in node:
            found |= _names(item, key)
    return found


def _claims(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, Mapping):
        for k, v in node.items():
            if k == "persistentVolumeClaim" and isinstance(v, Mapping):
                found.add(v["claimName"])
            else:
                found |= _claims(v)
    elif isinstance(node, list):
        for item in node:
            found |= _claims(item)
    return found


def validate(values_file: Path = VALUES_FILE) -> K8sReport:
    report = K8sReport()
    values = load_values(values_file)
    report.values_errors = check_values(values)
    report.manifest_errors = check_manifests(values)
    try:
        report.instance = render_instance(values)
        config = load_instance_config(report.instance)
        processed = check_pluggable_classes(config)
    except Exception as exc:  # the schema's own message names the key
        report.instance_errors.append(f"{type(exc).__name__}: {exc}")
        return report
    report.location_errors = check_locations(values, processed["run_launcher"])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--show-instance", action="store_true", help="print the rendered dagster.yaml")
    args = parser.parse_args(argv)
    try:
        import dagster_k8s  # noqa: F401
    except ImportError:
        print(
            "validator unavailable: dagster-k8s is not installed (pip install -e '.[k8s]')", file=sys.stderr
        )
        return 2
    report = validate()
    sections = [
        ("k8s/values.yaml (chart structure)", report.values_errors),
        ("k8s/ manifests", report.manifest_errors),
        ("instance dagster.yaml (Dagster schema)", report.instance_errors),
        ("code locations (run Jobs)", report.location_errors),
    ]
    for title, errors in sections:
        print(f"{title}: {'valid' if not errors else 'INVALID'}")
        for line in errors:
            print(f"  {line}")
    if args.show_instance and report.instance is not None:
        print(yaml.safe_dump(report.instance, sort_keys=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
