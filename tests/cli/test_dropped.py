"""`codelupe dropped` run as a user runs it: reasons with counts, one reason's samples as a table or
JSON, an unknown reason as one usage error (exit 2), and no Dagster import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from codelupe_dagster.backends.corpus_stats import CorpusStats
from codelupe_dagster.backends.dropped_samples import DroppedSample, DroppedSamples
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.score_batch import BatchCounts
from tests.cli.cli_process import codelupe, error_line

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recorded(valkey_client: redis.Redis, tmp_path: Path) -> Path:
    """Two batches' drop counts and a few samples, as scored_files records them; the state directory."""
    keys = RedisKeys()
    stats = CorpusStats(valkey_client, keys)
    for batch, minified in (("b1", 3), ("b2", 4)):
        counts = BatchCounts(seen=10, kept=10 - minified - 1)
        counts.dropped.update({"minified": minified, "binary": 1})
        stats.record(batch, counts.to_dict())
    samples = [
        DroppedSample(
            "minified",
            "b2",
            "acme/web",
            f"dist/app{n}.js",
            "c" * 40,
            f"{n:040x}",
            9000 + n,
            None,
            "var a=1;\n" * 20,
        )
        for n in range(3)
    ]
    samples.append(DroppedSample("binary", "b2", "acme/web", "img/logo.png", "c" * 40, "f" * 40, 512))
    DroppedSamples(valkey_client, keys).record(samples)
    data = tmp_path / "data"
    data.mkdir()
    return data


def test_without_a_reason_it_lists_reasons_with_counts(recorded: Path, valkey_url: str) -> None:
    result = codelupe("dropped", DATA_DIR=str(recorded), REDIS_URL=valkey_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["reason", "dropped", "sampled"]
    assert [line.split() for line in lines[1:]] == [["minified", "7", "3"], ["binary", "2", "1"]]

    as_json = codelupe("dropped", "--json", DATA_DIR=str(recorded), REDIS_URL=valkey_url)
    assert json.loads(as_json.stdout) == {
        "minified": {"dropped": 7, "sampled": 3},
        "binary": {"dropped": 2, "sampled": 1},
    }


def test_a_reason_prints_its_latest_samples(recorded: Path, valkey_url: str) -> None:
    result = codelupe(
        "dropped", "--reason", "minified", "--limit", "2", DATA_DIR=str(recorded), REDIS_URL=valkey_url
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["repo", "path", "bytes", "blob", "excerpt"]
    assert [line.split()[:4] for line in lines[1:3]] == [
        ["acme/web", "dist/app2.js", "9002", "000000000000"],
        ["acme/web", "dist/app1.js", "9001", "000000000000"],
    ]
    assert "var a=1;⏎var a=1;" in lines[1]  # the excerpt on one line
    assert lines[3] == "2 of 3 sampled files shown; 7 dropped as minified in all"

    as_json = codelupe("dropped", "-r", "binary", "--json", DATA_DIR=str(recorded), REDIS_URL=valkey_url)
    assert json.loads(as_json.stdout) == [
        {
            "reason": "binary",
            "batch": "b2",
            "repo": "acme/web",
            "path": "img/logo.png",
            "commit": "c" * 40,
            "blob": "f" * 40,
            "size": 512,
            "detail": None,
            "excerpt": None,
        }
    ]
    # A known reason nothing was dropped for is no error.
    empty = codelupe("dropped", "--reason", "lock_file", DATA_DIR=str(recorded), REDIS_URL=valkey_url)
    assert empty.returncode == 0 and empty.stdout.strip() == "no sampled files for lock_file: 0 dropped"


def test_an_unknown_reason_is_a_usage_error_listing_the_valid_ones(recorded: Path, valkey_url: str) -> None:
    result = codelupe("dropped", "--reason", "minifed", DATA_DIR=str(recorded), REDIS_URL=valkey_url)
    assert result.returncode == 2
    line = error_line(result)
    assert "unknown reason 'minifed'" in line and "minified" in line and "too_large" in line
    assert result.stdout == ""


def test_dropped_does_not_import_dagster(recorded: Path, valkey_url: str) -> None:
    probe = (
        "import sys\nfrom codelupe_dagster.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit as done:\n    code = done.code\n"
        "print('DAGSTER_IMPORTED' if 'dagster' in sys.modules else 'NO_DAGSTER', code, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, "dropped", "--reason", "minified"],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DATA_DIR": str(recorded),
            "REDIS_URL": valkey_url,
        },
        timeout=120,
    )
    assert result.stderr.strip().splitlines()[-1] == "NO_DAGSTER 0", result.stderr
    assert "dist/app2.js" in result.stdout
