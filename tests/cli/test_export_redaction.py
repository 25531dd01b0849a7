"""`codelupe export` redacts again on the way out: an index written before a detector existed (here a
document with a raw token and raw addresses, written straight to the backend as an old corpus holds it)
exports redacted, with a line per kind; documents the scorer redacted pass unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.cli import _register, cli
from codelupe_dagster.cli.export import export_corpus
from codelupe_dagster.cli.search import open_code_index
from tests.support.planted import GITHUB_TOKEN, indexed_python_record

ADDRESS = "alice.smith@corp-mail.com"
PUBLIC_IP = "93.184.216.34"
OLD_CONTENT = f'TOKEN = "{GITHUB_TOKEN}"\nOWNER = "{ADDRESS}"\nHOST = "{PUBLIC_IP}"\n'
CLEAN_CONTENT = 'TOKEN = "<SECRET:github_pat>"\nOWNER = "<EMAIL>"\nHOST = "<IP_ADDRESS>"\n'


record = indexed_python_record


OLD = record(1, OLD_CONTENT, f"people/{ADDRESS}/{GITHUB_TOKEN}.py")
CLEAN = record(2, CLEAN_CONTENT, "people/<EMAIL>/<SECRET:github_pat>.py")


def fill(index: SearchIndex) -> None:
    index.ensure()
    index.bulk_upsert([OLD, CLEAN]).raise_for_errors()
    index.refresh()


def rows(out: Path) -> dict[str, dict]:
    shards = sorted(out.glob("data/*/train-*.parquet"))
    return {r["id"]: r for shard in shards for r in pq.read_table(shard).to_pylist()}


def test_export_corpus_redacts_old_documents_on_both_backends(
    search_backend: Callable[..., SearchIndex], tmp_path: Path
) -> None:
    index = search_backend(CODE_SCHEMA)
    fill(index)
    manifest = export_corpus(index, tmp_path / "out", min_quality=None)

    exported = rows(tmp_path / "out")
    old = exported[OLD["id"]]
    assert old["content"] == CLEAN_CONTENT
    assert old["path"] == "people/<EMAIL>/<SECRET:github_pat>.py"
    assert old["filename"] == "<SECRET:github_pat>.py"
    # Idempotent: placeholders are not matches, the scorer's documents come out as they went in.
    clean = exported[CLEAN["id"]]
    assert (clean["content"], clean["path"], clean["filename"]) == (
        CLEAN["content"],
        CLEAN["path"],
        CLEAN["filename"],
    )
    assert manifest.info["secrets_redacted"] == {"github_pat": 3}  # content, path, file name
    assert manifest.info["pii_redacted"] == {"email": 2, "ip": 1}
    assert manifest.info["documents_redacted"] == 1


def invoke(*args: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output  # stdout and stderr together


def test_the_export_command_prints_what_it_redacted_with_the_configured_kinds(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, valkey_url: str
) -> None:
    monkeypatch.setenv("REDIS_URL", valkey_url)  # where the corpus statistics are read from
    fill(open_code_index())  # the index the command opens: DATA_DIR's SQLite file here
    code, output = invoke("export", "--out", str(tmp_path / "all"))
    assert code == 0, output
    assert "secrets redacted (github_pat): 3" in output
    assert "personal data redacted (email): 2" in output
    assert "personal data redacted (ip): 1" in output
    assert GITHUB_TOKEN not in str(rows(tmp_path / "all")) and ADDRESS not in str(rows(tmp_path / "all"))

    monkeypatch.setenv("PII_REDACT", "ip")
    code, output = invoke("export", "--out", str(tmp_path / "ip"))
    assert code == 0 and "(email)" not in output and "personal data redacted (ip): 1" in output
    old = rows(tmp_path / "ip")[OLD["id"]]
    assert ADDRESS in old["content"] and GITHUB_TOKEN not in old["content"]  # secrets always go

    monkeypatch.setenv("PII_REDACT", "phone")
    code, output = invoke("export", "--out", str(tmp_path / "bad"))
    assert code == 2 and "PII_REDACT: unknown PII kind(s) ['phone']" in output
