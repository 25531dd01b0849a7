"""`codelupe decontaminate`: every indexed document re-marked against the configured sets, on both search
backends; only changed documents are written, a second run changes nothing, counts per set printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from codelupe_dagster.backends.eval_sets import index_for
from codelupe_dagster.backends.search import CODE_SCHEMA, open_search_index
from codelupe_dagster.cli import _register, cli
from codelupe_dagster.cli.decontaminate import remark

PROBLEM = {
    "prompt": 'def kite_height(string_length, wind_angle):\n    """Return how high a kite flies on a '
    "string of the given length when the wind holds it at the given angle in degrees above the ground, "
    'rounded to two decimals.\n    """\n',
    "solution": "    return round(string_length * math.sin(math.radians(wind_angle)), 2)\n",
}


def _doc(i: int, content: str, contaminated: str | None = None) -> dict[str, Any]:
    return {
        "id": f"{i:032x}",
        "content": content,
        "path": f"pkg/mod_{i}.py",
        "filename": f"mod_{i}.py",
        "extension": "py",
        "language": "python",
        "repo": "acme/kites",
        "repo_stars": 1,
        "license": "MIT",
        "license_source": "api",
        "commit": "0" * 40,
        "quality_score": 0.9,
        "quality_signals": {},
        "size_bytes": len(content),
        "lines": content.count("\n"),
        "contaminated": contaminated,
        "indexed_at": f"2026-01-01T00:00:{i:02d}+00:00",
    }


CLEAN = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n"
COPY = "import math\n\n" + PROBLEM["prompt"] + PROBLEM["solution"]


def _eval_set(tmp_path: Path) -> Path:
    path = tmp_path / "kites.jsonl"
    path.write_text(json.dumps(PROBLEM) + "\n")
    return path


def test_remark_marks_clears_and_is_idempotent(search_backend, tmp_path: Path) -> None:
    index = search_backend(CODE_SCHEMA)
    index.ensure()
    docs = [_doc(0, CLEAN), _doc(1, COPY), _doc(2, CLEAN + "\n# stale mark\n", contaminated="oldbench")]
    docs += [_doc(i, f"x_{i} = {i}\n") for i in range(3, 8)]
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    sets = index_for(f"kites={_eval_set(tmp_path)}")

    dry = remark(index, sets, dry_run=True, batch_size=3)
    assert (dry.read, dry.marked, dry.cleared) == (8, 1, 1)
    assert index.terms("contaminated") == {"oldbench": 1}  # a dry run writes nothing

    seen: list[int] = []
    report = remark(index, sets, batch_size=3, progress=lambda r: seen.append(r.read))
    assert (report.read, report.marked, report.cleared, report.changed_sets) == (8, 1, 1, 0)
    assert report.contaminated == {"kites": 1}
    assert seen == [3, 6, 8]
    marks = {doc_id: doc["contaminated"] for doc_id, doc in index.get([d["id"] for d in docs]).items()}
    assert marks[docs[1]["id"]] == "kites"
    assert marks[docs[2]["id"]] is None
    assert index.terms("contaminated") == {"kites": 1}
    assert index.get([docs[1]["id"]])[docs[1]["id"]]["content"] == COPY  # the rest of the document kept

    again = remark(index, sets, batch_size=3)
    assert again.written == 0 and again.contaminated == {"kites": 1}

    cleared = remark(index, None)
    assert (cleared.cleared, cleared.contaminated) == (1, {})
    assert index.terms("contaminated") == {}


def test_the_command_prints_counts_per_set(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    index = open_search_index(CODE_SCHEMA, data_dir=data_dir)
    index.ensure()
    index.bulk_upsert([_doc(0, CLEAN), _doc(1, COPY)]).raise_for_errors()
    index.refresh()
    monkeypatch.setenv("DECONTAMINATE_SETS", f"kites={_eval_set(tmp_path)}")
    _register()
    result = CliRunner().invoke(cli, ["decontaminate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "documents read: 2" in result.output
    assert "marked: 1, cleared: 0" in result.output
    assert "contaminated documents per set: kites: 1" in result.output
    assert index.terms("contaminated") == {"kites": 1}

    bad = CliRunner().invoke(cli, ["decontaminate", "--sets", "nosuchbench"])
    assert bad.exit_code == 2 and "unknown evaluation set 'nosuchbench'" in bad.output
