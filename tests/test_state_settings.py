"""settings: where the state directory is (DATA_DIR, nearest .codelupe/, XDG default), the Dagster
instance inside it with a quiet dagster.yaml, and the variables refused below their minimum."""

from __future__ import annotations

from pathlib import Path

import pytest

from codelupe_dagster import settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("DATA_DIR", "DAGSTER_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_data_dir_variable_wins(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".codelupe").mkdir()
    clean_env.setenv("DATA_DIR", str(tmp_path / "explicit"))
    assert settings.locate_state_dir(tmp_path) == settings.StateDir(tmp_path / "explicit", "DATA_DIR")


def test_nearest_dot_codelupe_above_the_working_directory(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".codelupe").mkdir()
    (tmp_path / "a" / ".codelupe").mkdir(parents=True)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert settings.locate_state_dir(deep) == settings.StateDir(tmp_path / "a" / ".codelupe", "found")
    # A file named .codelupe is not a state directory.
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / ".codelupe").write_text("")
    assert settings.locate_state_dir(tmp_path / "x").path == tmp_path / ".codelupe"


def test_per_user_default(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home_default = tmp_path / "home" / ".local" / "share" / "codelupe"
    assert settings.locate_state_dir(tmp_path) == settings.StateDir(home_default, "default")
    clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert settings.locate_state_dir(tmp_path).path == tmp_path / "xdg" / "codelupe"
    clean_env.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert settings.locate_state_dir(tmp_path).path == home_default


def test_dagster_home_inside_the_state_directory_with_a_quiet_config(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DATA_DIR", str(tmp_path / "state"))
    home = settings.prepare_dagster_home()
    assert home == tmp_path / "state" / "dagster"
    config = (home / "dagster.yaml").read_text()
    assert "enabled: false" in config
    # Dagster's own schema accepts it, and it turns telemetry off.
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(home))
    try:
        assert instance.telemetry_enabled is False
    finally:
        instance.dispose()


def test_an_existing_dagster_yaml_is_never_overwritten(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("DATA_DIR", str(tmp_path))
    (tmp_path / "dagster").mkdir()
    (tmp_path / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    settings.prepare_dagster_home()
    assert (tmp_path / "dagster" / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"


def test_a_set_dagster_home_is_used_as_is_and_must_exist(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DAGSTER_HOME", str(tmp_path / "missing"))
    with pytest.raises(settings.ConfigurationError, match=r"DAGSTER_HOME=.*does not exist"):
        settings.prepare_dagster_home()
    (tmp_path / "mine").mkdir()
    clean_env.setenv("DAGSTER_HOME", str(tmp_path / "mine"))
    assert settings.prepare_dagster_home() == tmp_path / "mine"
    assert not (tmp_path / "mine" / "dagster.yaml").exists()  # not ours to write


@pytest.mark.parametrize(
    ("value", "error"), [("0", "at least 1, got 0"), ("-3", "at least 1"), ("x", "integer")]
)
def test_counts_below_their_minimum_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, error: str
) -> None:
    monkeypatch.setenv("BATCH_SIZE", value)
    with pytest.raises(settings.ConfigurationError, match=error):
        settings.env_int("BATCH_SIZE")
