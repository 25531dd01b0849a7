"""The trainer's settings: plain fields, filled from the environment only by `default_resources()`."""

from pathlib import Path

import pytest

from codelupe_dagster.resources import default_resources
from codelupe_dagster.resources.training import TrainingResource

TRAINING_ENV = {
    "BASE_MODEL": "Qwen/Qwen2.5-Coder-0.5B",
    "TRAIN_MIN_QUALITY": "0.85",
    "MAX_DATASET_SIZE": "1234",
    "MIN_NEW_FILES": "42",
    "WANDB_MODE": "disabled",
    "CHECKPOINT_EVERY": "50",
    "TRAIN_MAX_SECONDS": "120",
    "TRAIN_GPUS": "2",
}


def test_default_resources_fill_every_field_from_its_variable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in TRAINING_ENV.items():
        monkeypatch.setenv(name, value)
    resources = default_resources()
    training = resources["training"]
    assert isinstance(training, TrainingResource)
    assert training.base_model == "Qwen/Qwen2.5-Coder-0.5B"
    assert training.min_quality == 0.85
    assert training.max_documents == 1234
    assert training.min_new_files == 42
    assert training.wandb_mode == "disabled"
    assert (training.checkpoint_every, training.max_seconds) == (50, 120.0)
    assert training.train_gpus == 2
    # One DATA_DIR for every resource.
    assert training.data_path() == data_dir.resolve()
    assert training.data_dir == resources["pipeline"].data_dir


def test_unset_variables_give_the_documented_defaults(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in TRAINING_ENV:
        monkeypatch.delenv(name, raising=False)
    training = default_resources()["training"]
    assert training.base_model == "local:tiny-qwen2"
    assert (training.min_quality, training.max_documents, training.min_new_files) == (0.7, 100_000, 1000)
    assert training.wandb_mode is None  # the trainer then picks online with WANDB_API_KEY, else offline
    assert (training.checkpoint_every, training.max_seconds) == (200, None)  # no time bound
    assert training.train_gpus is None  # auto: every visible GPU, resolved when a run starts


def test_a_resource_built_in_code_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in TRAINING_ENV.items():
        monkeypatch.setenv(name, value)
    training = TrainingResource(data_dir="/srv/codelupe", min_quality=0.5)
    assert training.min_quality == 0.5
    assert training.base_model == "local:tiny-qwen2" and training.max_documents == 100_000
    assert training.wandb_mode is None
    assert training.data_path() == Path("/srv/codelupe")


def test_every_field_names_its_variable() -> None:
    described = {name: field.description or "" for name, field in TrainingResource.model_fields.items()}
    variables = {
        "data_dir": "DATA_DIR",
        "base_model": "BASE_MODEL",
        "min_quality": "TRAIN_MIN_QUALITY",
        "max_documents": "MAX_DATASET_SIZE",
        "min_new_files": "MIN_NEW_FILES",
        "wandb_mode": "WANDB_MODE",
        "license_policy": "LICENSE_POLICY",
        "include_contaminated": "TRAIN_INCLUDE_CONTAMINATED",
        "checkpoint_every": "CHECKPOINT_EVERY",
        "max_seconds": "TRAIN_MAX_SECONDS",
        "train_gpus": "TRAIN_GPUS",
        "sharding": "TRAIN_SHARDING",
    }
    assert set(described) == set(variables)
    for name, variable in variables.items():
        assert described[name].startswith(f"{variable}: "), name


def test_training_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from codelupe_dagster.resources import training_from_env

    default = training_from_env(str(tmp_path))
    assert (default.license_policy, default.include_contaminated) == ("permissive", False)
    monkeypatch.setenv("LICENSE_POLICY", "list:MIT,Apache-2.0")
    monkeypatch.setenv("TRAIN_INCLUDE_CONTAMINATED", "Yes")
    chosen = training_from_env(str(tmp_path))
    assert (chosen.license_policy, chosen.include_contaminated) == ("list:MIT,Apache-2.0", True)
    monkeypatch.setenv("TRAIN_INCLUDE_CONTAMINATED", "maybe")
    with pytest.raises(ValueError, match="TRAIN_INCLUDE_CONTAMINATED must be true or false, got 'maybe'"):
        training_from_env(str(tmp_path))
    monkeypatch.setenv("TRAIN_INCLUDE_CONTAMINATED", "false")
    monkeypatch.setenv("LICENSE_POLICY", "permisive")
    with pytest.raises(ValueError, match="permissive, any or list"):
        training_from_env(str(tmp_path))


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CHECKPOINT_EVERY", "-1", "CHECKPOINT_EVERY must be at least 0, got -1"),
        ("CHECKPOINT_EVERY", "often", "CHECKPOINT_EVERY must be an integer, got 'often'"),
        ("TRAIN_MAX_SECONDS", "0", "TRAIN_MAX_SECONDS must be a positive number of seconds, got 0.0"),
        ("TRAIN_MAX_SECONDS", "2m", "TRAIN_MAX_SECONDS must be a number, got '2m'"),
        ("TRAIN_GPUS", "0", "TRAIN_GPUS must be at least 1, got 0"),
        ("TRAIN_GPUS", "all", "TRAIN_GPUS must be an integer, got 'all'"),
    ],
)
def test_resume_and_time_budget_settings_are_checked_when_read(
    variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from codelupe_dagster.resources import training_from_env
    from codelupe_dagster.settings import ConfigurationError

    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        training_from_env(str(tmp_path))


def test_checkpoints_can_be_turned_off_and_an_empty_budget_is_no_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from codelupe_dagster.resources import training_from_env

    monkeypatch.setenv("CHECKPOINT_EVERY", "0")
    monkeypatch.setenv("TRAIN_MAX_SECONDS", "")  # compose files pass `X=` for unset
    training = training_from_env(str(tmp_path))
    assert (training.checkpoint_every, training.max_seconds) == (0, None)


def test_train_gpus_auto_resolves_to_the_visible_gpus_and_one_on_a_cpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from codelupe_dagster.resources import training_from_env

    torch = pytest.importorskip("torch")
    from codelupe_dagster.training.distributed import resolve_world_size

    for value in ("auto", "AUTO", ""):
        monkeypatch.setenv("TRAIN_GPUS", value)
        assert training_from_env(str(tmp_path)).train_gpus is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_world_size(None) == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert resolve_world_size(None) == 4
    assert resolve_world_size(2) == 2  # an explicit count wins, on a CPU too (gloo processes)
    with pytest.raises(ValueError, match="TRAIN_GPUS must be at least 1"):
        resolve_world_size(0)
