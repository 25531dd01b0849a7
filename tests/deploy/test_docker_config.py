"""The Docker deployment, checked without a Docker engine.

The compose file is loaded by compose-go (the Docker CLI's own loader: schema, interpolation,
consistency) and the Dockerfiles are linted by hadolint, both through scripts/validate_docker.py;
dagster.yaml is loaded with Dagster's instance schema and each configured class's own schema.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

# Schema-only checks of dagster.yaml (no server to connect to) have no public Dagster API.
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"

# DESIGN §8, plus the variables INTERFACES.md adds (Elasticsearch auth, key prefix, local source).
DESIGN_ENV = [
    "DATA_DIR", "REDIS_URL", "ELASTICSEARCH_URL", "ES_CODE_INDEX", "ES_REPO_INDEX", "GITHUB_TOKEN",
    "REPOS_DIR", "REPO_WORKERS", "FILE_WORKERS", "BATCH_SIZE", "MIN_QUALITY_THRESHOLD",
    "TRAIN_MIN_QUALITY", "MIN_NEW_FILES", "MAX_DATASET_SIZE", "CHECK_INTERVAL", "CRAWLER_MODE",
    "SYNC_INTERVAL", "BASE_MODEL", "HF_TOKEN", "WANDB_API_KEY", "WANDB_MODE",
    "ELASTICSEARCH_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD", "REDIS_KEY_PREFIX",
    "CODELUPE_SOURCE", "CLONE_ALLOWED_SCHEMES",
]  # fmt: skip
POSTGRES_ENV = [f"DAGSTER_POSTGRES_{part}" for part in ("HOST", "PORT", "USER", "PASSWORD", "DB")]
# Services that run CodeLupe code or hand their environment to run containers.
CODELUPE_SERVICES = [
    "codelupe-pipeline",
    "codelupe-trainer",
    "dagster-daemon",
    "dagster-webserver",
    "dagster-init",
]


def _load_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


validate_docker = _load_path("codelupe_validate_docker", REPO_ROOT / "scripts" / "validate_docker.py")


def _tools_or_skip() -> None:
    if shutil.which("go") is None and not (validate_docker.CACHE_DIR / "compose-check").is_file():
        pytest.fail("the Go toolchain is required to build docker/compose-check")


@pytest.fixture(scope="module")
def report():
    _tools_or_skip()
    return validate_docker.validate()


@pytest.fixture(scope="module")
def project(report) -> dict:
    assert report.compose_project is not None, report.compose_errors
    return report.compose_project


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DOCKER_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


def test_compose_and_dockerfiles_pass_their_validators(report) -> None:
    assert report.compose_errors == []
    assert report.dockerfile_findings == []
    assert validate_docker.main([]) == 0


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda text: text.replace("    image: postgres:17", "    imagee: postgres:17"), "imagee"),
        (
            lambda text: text.replace(
                "      redis:\n        condition", "      cache:\n        condition", 1
            ),
            "cache",
        ),
        (lambda text: text.replace("retries: 20", "retries: many", 1), "retries"),
    ],
    ids=["unknown-key", "undefined-dependency", "wrong-type"],
)
def test_compose_validator_rejects_broken_files(tmp_path: Path, breakage, expected: str) -> None:
    _tools_or_skip()
    original = (DOCKER_DIR / "docker-compose.yml").read_text()
    broken = breakage(original)
    assert broken != original
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(broken)
    project, errors = validate_docker.validate_compose(compose, DOCKER_DIR / ".env.example")
    assert project is None
    assert any(expected in line for line in errors), errors


@pytest.mark.parametrize("variable", ["DAGSTER_POSTGRES_PASSWORD", "VALKEY_PASSWORD"])
def test_compose_requires_each_password(tmp_path: Path, variable: str) -> None:
    _tools_or_skip()
    env_file = tmp_path / "env"
    env_file.write_text(
        "\n".join(
            line
            for line in (DOCKER_DIR / ".env.example").read_text().splitlines()
            if not line.startswith(f"{variable}=")
        )
    )
    project, errors = validate_docker.validate_compose(DOCKER_DIR / "docker-compose.yml", env_file)
    assert project is None
    assert any(variable in line for line in errors), errors


def test_only_the_webserver_is_published_and_only_on_loopback(project) -> None:
    published = {
        name: service.get("ports") for name, service in project["services"].items() if service.get("ports")
    }
    assert list(published) == ["dagster-webserver"]  # Valkey, Elasticsearch, Postgres: compose network only
    for port in published["dagster-webserver"]:
        assert port["host_ip"] == "127.0.0.1", port
    assert project["services"]["elasticsearch"].get("ports") is None
    assert "reverse proxy" in (DOCKER_DIR / "README.md").read_text()


def test_valkey_requires_the_password_every_client_is_given(project, env_example) -> None:
    redis_service = project["services"]["redis"]
    command = redis_service["command"]
    password = env_example["VALKEY_PASSWORD"]
    assert command[command.index("--requirepass") + 1] == password
    assert redis_service["environment"]["REDISCLI_AUTH"] == password  # the healthcheck authenticates
    assert "PONG" in " ".join(redis_service["healthcheck"]["test"])  # NOAUTH is not healthy
    for service in CODELUPE_SERVICES:
        url = project["services"][service]["environment"]["REDIS_URL"]
        assert url == f"redis://:{password}@redis:6379/0", service


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile.bad"
    dockerfile.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n")
    codes = {finding["code"] for finding in validate_docker.lint_dockerfiles([dockerfile])}
    assert {"DL3007", "DL3003", "DL3013"} <= codes


def test_every_setting_reaches_code_servers_daemon_and_run_containers(project, env_example) -> None:
    for service in CODELUPE_SERVICES:
        environment = project["services"][service]["environment"]
        missing = [name for name in DESIGN_ENV + POSTGRES_ENV if name not in environment]
        assert missing == [], f"{service} lacks {missing}"
    launcher_env = yaml.safe_load((DOCKER_DIR / "dagster.yaml").read_text())["run_launcher"]["config"][
        "env_vars"
    ]
    assert sorted(set(DESIGN_ENV + POSTGRES_ENV) - set(launcher_env)) == []
    assert sorted(set(DESIGN_ENV + POSTGRES_ENV) - set(env_example)) == []


def test_every_compose_variable_is_documented_in_env_example(env_example) -> None:
    text = (DOCKER_DIR / "docker-compose.yml").read_text()
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))  # $${X} is a literal
    assert referenced, "the compose file should be configurable through variables"
    assert sorted(referenced - set(env_example)) == []


def test_defaults_match_the_settings_module(project) -> None:
    from codelupe_dagster.settings import DEFAULTS

    environment = project["services"]["codelupe-pipeline"]["environment"]
    # Deliberate differences: the deployment crawls continuously, trains the real model and keeps
    # its data on the volume.
    deployment_choices = {"CRAWLER_MODE", "BASE_MODEL", "DATA_DIR"}
    for name, default in DEFAULTS.items():
        if name in environment and name not in deployment_choices:
            assert environment[name] == default, name


def _instance_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    for name in POSTGRES_ENV:
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "x")
    shutil.copy(DOCKER_DIR / "dagster.yaml", tmp_path / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    return config


def test_dagster_yaml_loads_with_dagsters_schema(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = _instance_config(monkeypatch, tmp_path)
    assert set(config["storage"]) == {"postgres"}
    assert config["concurrency"]["runs"]["max_concurrent_runs"] > 0
    assert {"key": "codelupe/stage", "value": "train", "limit": 1} in config["concurrency"]["runs"][
        "tag_concurrency_limits"
    ]
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_monitoring"]["enabled"] and config["run_monitoring"]["max_resume_run_attempts"] > 0
    assert config["run_retries"]["enabled"] and config["run_retries"]["max_retries"] > 0

    # Each pluggable section is validated by its class's own schema and instantiated.
    built = {}
    for section in ("run_coordinator", "run_launcher"):
        pointer = config[section]
        klass = class_from_code_pointer(pointer["module"], pointer["class"])
        processed = process_config(klass.config_type(), pointer.get("config") or {})
        assert processed.success, processed.errors
        built[section] = klass.from_config_value(None, processed.value)
    assert type(built["run_coordinator"]).__name__ == "QueuedRunCoordinator"
    # Run monitoring resumes crashed runs only through a launcher that can resume.
    assert built["run_launcher"].supports_resume_run


def test_dagster_yaml_rejects_unknown_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The schema check has teeth: a misspelt key is an error, not a silently ignored setting."""
    for name in POSTGRES_ENV:
        monkeypatch.setenv(name, "x")
    text = (DOCKER_DIR / "dagster.yaml").read_text().replace("max_resume_run_attempts", "max_resume_attempts")
    (tmp_path / "dagster.yaml").write_text(text)
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_resume_attempts"):
        dagster_instance_config(str(tmp_path))


def test_run_containers_join_the_compose_network_and_volume(project) -> None:
    launcher = yaml.safe_load((DOCKER_DIR / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert launcher["network"] in {net["name"] for net in project["networks"].values()}
    volume_names = {vol["name"] for vol in project["volumes"].values()}
    for mount in launcher["container_kwargs"]["volumes"]:
        assert mount.split(":")[0] in volume_names


def test_workspace_points_at_the_code_servers(project) -> None:
    workspace = yaml.safe_load((DOCKER_DIR / "workspace.yaml").read_text())
    for entry in workspace["load_from"]:
        server = entry["grpc_server"]
        command = project["services"][server["host"]]["command"]
        assert command[command.index("-p") + 1] == str(server["port"])
        assert command[command.index("--location-name") + 1] == server["location_name"]


def test_trainer_runs_get_the_gpus(project) -> None:
    environment = project["services"]["codelupe-trainer"]["environment"]
    context = json.loads(environment["DAGSTER_CONTAINER_CONTEXT"])
    requests = context["docker"]["container_kwargs"]["device_requests"]
    assert requests == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
    assert environment["DAGSTER_CONTAINER_IMAGE"] == project["services"]["codelupe-trainer"]["image"]


def test_dockerfiles_copy_only_files_that_exist() -> None:
    for dockerfile in validate_docker.dockerfiles():
        for line in dockerfile.read_text().splitlines():
            # `COPY --from=<stage>` copies out of another build stage, not from the repository.
            if line.startswith("COPY ") and "--from=" not in line:
                sources = [s for s in line.split()[1:-1] if not s.startswith("--")]
                missing = [s for s in sources if not (REPO_ROOT / s).exists()]
                assert missing == [], f"{dockerfile.name}: {missing}"


def test_dockerignore_lets_every_copied_path_through() -> None:
    # Each Dockerfile's context is cut down by <Dockerfile>.dockerignore ("*" then "!path" lines): a COPY
    # whose source it does not let through fails only at `docker build`, e.g. the crate the wheel stage
    # compiles.
    for dockerfile in validate_docker.dockerfiles():
        ignore = dockerfile.with_name(dockerfile.name + ".dockerignore").read_text().splitlines()
        allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                for source in [s for s in line.split()[1:-1] if not s.startswith("--")]:
                    source = source.rstrip("/")
                    assert any(source == a or source.startswith(a + "/") for a in allowed), (
                        f"{dockerfile.name}: COPY {source} is not let through by its .dockerignore"
                    )


def test_images_compile_the_native_crate_in_a_build_stage() -> None:
    # The runtime images carry no compiler: the wheel, with codelupe_dagster._native built from native/, comes
    # from a stage that has Rust.
    for dockerfile in validate_docker.dockerfiles():
        text = dockerfile.read_text()
        assert "COPY native ./native" in text, dockerfile.name
        assert "COPY --from=wheel /wheels /wheels" in text, dockerfile.name
        final_stage = text.rsplit("\nFROM ", 1)[1]
        assert "cargo" not in final_stage and "native" not in final_stage, dockerfile.name


def _asset_keys(defs: dg.Definitions) -> set[str]:
    return {
        key.to_user_string()
        for assets_def in defs.assets or ()
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable
        for key in assets_def.keys
    }


@pytest.fixture(scope="module")
def code_locations():
    return _load_path("codelupe_docker_code_locations", DOCKER_DIR / "code_locations.py")


def test_code_locations_split_by_gpu_pool(code_locations) -> None:
    tiny = _load_path("codelupe_tiny_definitions", REPO_ROOT / "tests" / "browser" / "tiny_definitions.py")
    pipeline, trainer = code_locations.split_definitions(tiny.defs)
    assert _asset_keys(trainer) == {"qwen_checkpoint"}
    assert _asset_keys(pipeline) == _asset_keys(tiny.defs) - {"qwen_checkpoint"}
    assert [sensor.name for sensor in trainer.sensors] == ["training_sensor"]
    assert [sensor.name for sensor in pipeline.sensors] == ["batch_sensor"]
    assert [job.name for job in trainer.jobs] == ["training_job"]
    assert len(trainer.asset_checks) == 1 and not pipeline.asset_checks
    # The trainer still sees its upstream (lineage across locations) without owning it.
    assert dg.AssetKey("es_code_index") in trainer.resolve_asset_graph().get_all_asset_keys()
    for location in (pipeline, trainer):
        dg.Definitions.validate_loadable(location)


def test_real_definitions_split_without_overlap(code_locations) -> None:
    from codelupe_dagster.definitions import defs

    pipeline, trainer = code_locations.pipeline, code_locations.trainer
    assert _asset_keys(pipeline) & _asset_keys(trainer) == set()
    assert _asset_keys(pipeline) | _asset_keys(trainer) == _asset_keys(defs)
    assert set(pipeline.resources) == set(defs.resources)


def test_schedules_and_jobs_by_name_follow_their_targets(code_locations) -> None:
    """Automations go with the assets they launch, whether given a job object, a job name or assets;
    anything that launches no GPU-only job (op jobs, run-status sensors, mixed targets) stays put."""
    tiny = _load_path("codelupe_tiny_definitions", REPO_ROOT / "tests" / "browser" / "tiny_definitions.py")

    @dg.op
    def say_hello() -> None: ...

    @dg.job
    def op_job() -> None:
        say_hello()

    @dg.sensor(job_name="training_job")
    def training_by_name() -> dg.SkipReason:
        return dg.SkipReason("stand-in")

    @dg.sensor(target=[tiny.qwen_checkpoint, tiny.es_code_index])
    def mixed_targets() -> dg.SkipReason:
        return dg.SkipReason("stand-in")

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS)
    def after_any_run(context: dg.RunStatusSensorContext) -> None: ...

    schedules = [
        dg.ScheduleDefinition(name="nightly_training", cron_schedule="0 3 * * *", job=tiny.training_job),
        dg.ScheduleDefinition(
            name="training_by_name_nightly", cron_schedule="0 4 * * *", job_name="training_job"
        ),
        dg.ScheduleDefinition(name="hourly_pipeline", cron_schedule="0 * * * *", job_name="pipeline_job"),
        dg.ScheduleDefinition(name="op_schedule", cron_schedule="0 5 * * *", job=op_job),
    ]
    defs = dg.Definitions(
        assets=tiny.defs.assets,
        asset_checks=tiny.defs.asset_checks,
        jobs=[*tiny.defs.jobs, op_job],
        sensors=[*tiny.defs.sensors, training_by_name, mixed_targets, after_any_run],
        schedules=schedules,
    )
    pipeline, trainer = code_locations.split_definitions(defs)
    assert sorted(s.name for s in trainer.schedules) == ["nightly_training", "training_by_name_nightly"]
    assert sorted(s.name for s in pipeline.schedules) == ["hourly_pipeline", "op_schedule"]
    assert sorted(s.name for s in trainer.sensors) == ["training_by_name", "training_sensor"]
    assert sorted(s.name for s in pipeline.sensors) == ["after_any_run", "batch_sensor", "mixed_targets"]
    assert sorted(j.name for j in trainer.jobs) == ["training_job"]
    assert sorted(j.name for j in pipeline.jobs) == ["op_job", "pipeline_job"]
    for location in (pipeline, trainer):
        dg.Definitions.validate_loadable(location)


def test_code_locations_use_only_public_dagster_apis() -> None:
    source = (DOCKER_DIR / "code_locations.py").read_text()
    assert "dagster._" not in source
