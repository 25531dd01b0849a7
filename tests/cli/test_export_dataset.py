"""`codelupe export` options and summary: the export policy from LICENSE_POLICY or --license-policy,
--include-contaminated, what was left out printed per reason, the export registered under DATA_DIR, and
a folder that is not empty refused unless --force replaces an earlier export, and an export of nothing
that still loads."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset
import pytest
from click.testing import CliRunner

from codelupe_dagster.cli import _register, cli
from codelupe_dagster.cli.search import open_code_index
from codelupe_dagster.stages.dataset_export import EXPORT_SCHEMA, registered_exports
from tests.cli.cli_process import codelupe, error_line
from tests.stages.test_dataset_export import DOCS


def invoke(*args: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def filled(data_dir: Path, valkey_url: str, valkey_client, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REDIS_URL", valkey_url)  # flushed by valkey_client: no corpus statistics recorded
    index = open_code_index()
    index.ensure()
    index.bulk_upsert(DOCS).raise_for_errors()
    index.refresh()
    return data_dir


def stats(out: Path) -> dict:
    return json.loads((out / "stats.json").read_text())


def test_the_default_policy_and_its_overrides(filled: Path, tmp_path: Path, monkeypatch) -> None:
    code, output = invoke("export", "--out", str(tmp_path / "default"))
    assert code == 0, output
    assert "left out (contaminated): 2" in output and "left out (license): 2" in output
    assert "policy: licences permissive, contaminated left out" in output
    assert "exported 6 documents" in output and "in 3 languages, 3 shards" in output
    assert "secrets redacted (github_pat): 1" in output
    assert stats(tmp_path / "default")["corpus"] is None

    code, output = invoke(
        "export", "--out", str(tmp_path / "all"), "--license-policy", "any", "--include-contaminated"
    )
    assert code == 0 and "left out" not in output and f"exported {len(DOCS)} documents" in output
    assert stats(tmp_path / "all")["policy"] == {"license_policy": "any", "exclude_contaminated": False}

    monkeypatch.setenv("LICENSE_POLICY", "list:GPL-3.0-only")
    code, output = invoke("export", "--out", str(tmp_path / "gpl"))
    assert code == 0 and "exported 1 document (" in output and "left out (license): 7" in output
    assert "in 1 language, 1 shard, to" in output
    assert sorted(p.name for p in (tmp_path / "gpl" / "data").iterdir()) == ["go"]

    assert set(registered_exports(filled)) == {str(tmp_path / n) for n in ("default", "all", "gpl")}


def test_bad_settings_and_targets_exit_2(filled: Path, tmp_path: Path) -> None:
    code, output = invoke("export", "--out", str(tmp_path / "x"), "--license-policy", "copyleft")
    assert code == 2 and "licence policy must be permissive, any or list:" in output
    assert not (tmp_path / "x").exists()

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("do not delete")
    code, output = invoke("export", "--out", str(tmp_path / "mine"))
    assert code == 2 and "is not empty and not an export; choose a new or empty folder" in output
    code, output = invoke("export", "--out", str(tmp_path / "mine"), "--force")
    assert code == 2 and "is not a codelupe export" in output  # --force replaces exports only
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["thesis.tex"]
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "do not delete"

    (tmp_path / "afile").write_text("notes")
    code, output = invoke("export", "--out", str(tmp_path / "afile"))
    assert code == 2 and "is a file" in output and (tmp_path / "afile").read_text() == "notes"


def test_an_earlier_export_is_replaced_only_with_force(filled: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    (tmp_path / "empty").mkdir()
    code, output = invoke("export", "--out", str(tmp_path / "empty"))
    assert code == 0, output  # an empty folder is as good as a new one
    code, output = invoke("export", "--out", str(out), "--license-policy", "any")
    assert code == 0, output
    first = stats(out)

    code, output = invoke("export", "--out", str(out), "--language", "go")
    assert code == 2 and "holds an earlier export; --force replaces it" in output
    assert stats(out) == first  # untouched

    code, output = invoke("export", "--out", str(out), "--language", "go", "--force")
    assert code == 0, output
    assert stats(out)["filters"]["language"] == "go" and stats(out)["documents"] < first["documents"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["go"]


def test_refusing_a_non_empty_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    result = codelupe("export", "--out", str(tmp_path / "mine"), DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 2
    assert (
        error_line(result)
        == f"error: {tmp_path / 'mine'} is not empty and not an export; choose a new or empty folder"
    )


def test_an_export_of_nothing_is_a_dataset_of_zero_rows(filled: Path, tmp_path: Path) -> None:
    """No document passes the filters: the export still writes its card, its stats and one shard with the
    columns, so a consumer loading it gets 0 rows instead of an error."""
    out = tmp_path / "none"
    code, output = invoke("export", "--out", str(out), "--min-quality", "2")
    assert code == 0, output
    assert f"exported 0 documents (0 bytes) in 0 languages, 0 shards, to {out}" in output
    assert stats(out)["documents"] == 0 and (out / "README.md").is_file()

    table = pyarrow.dataset.dataset(out / "data", format="parquet").to_table()
    assert table.num_rows == 0 and table.schema.names == EXPORT_SCHEMA.names
    datasets = pytest.importorskip("datasets")
    # Streaming: `datasets` refuses to prepare any split of 0 rows ("corresponds to no data").
    loaded = datasets.load_dataset(str(out), split="train", streaming=True)
    assert list(loaded) == [] and list(loaded.features) == EXPORT_SCHEMA.names


def test_without_redis_the_export_still_runs_and_says_so(
    filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    code, output = invoke("export", "--out", str(tmp_path / "ds"))
    assert code == 0, output
    assert "warning: corpus statistics unavailable" in output and "exported 6 documents" in output
    assert stats(tmp_path / "ds")["corpus"] is None
    assert "Scoring counts were not available" in (tmp_path / "ds" / "README.md").read_text()
