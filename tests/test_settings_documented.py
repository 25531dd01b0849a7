"""Every environment variable the code reads is in the README's Configuration table, so the table the
README points users at cannot fall behind the code: a new `settings.env_int("X")`, `EnvVar("X")` or
`env_field("X", ...)` without a row fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from codelupe_dagster import settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "codelupe_dagster"
VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*[A-Z0-9]")

# Calls whose first argument names a variable that is read.
READERS = {"env_str", "env_int", "env_float", "env_bool", "getenv", "EnvVar", "env_field", "_optional_env"}
# Read, but not settings of CodeLupe: the system's own, and a hook only the tests set.
NOT_SETTINGS = {
    "PATH": "the executables' search path",
    "XDG_DATA_HOME": "the XDG base directory standard's; the DATA_DIR row names it as the default's root",
    "CODELUPE_TEST_CRASH_ON_PATH": "a fault-injection hook set by tests/faults only",
    "LOCAL_RANK": "set by torch.distributed.run for each training rank (TRAIN_GPUS above 1)",
}


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "LITERAL"` assignments, to resolve `env_str(SOME_CONSTANT)`."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        # os.environ.get("X") is a reader; any other `.get` is not
        if func.attr == "get":
            inner = func.value
            return "environ.get" if isinstance(inner, ast.Attribute) and inner.attr == "environ" else None
        return func.attr
    return None


def variables_read(source: str) -> set[str]:
    tree = ast.parse(source)
    constants = _string_constants(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        argument: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args and _name(node.func) in READERS | {"environ.get"}:
            argument = node.args[0]
        elif isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Attribute) and base.attr == "environ":
                argument = node.slice
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
        elif isinstance(argument, ast.Name) and argument.id in constants:
            names.add(constants[argument.id])
    return {name for name in names if VARIABLE.fullmatch(name)}


def documented() -> set[str]:
    """The variables of the Configuration table's first column; `X_A` / `_B` there stands for X_B."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = re.findall(r"`([A-Z_][A-Z0-9_]*)`", row.split("|")[1])
        for cell in cells:
            names.add(cells[0].split("_", 1)[0] + cell if cell.startswith("_") else cell)
    return names


def test_the_scanner_finds_every_way_the_code_reads_a_variable() -> None:
    source = """
import os
from codelupe_dagster import settings
HOOK = "A_HOOK"
settings.env_int("ONE"); settings.env_str(HOOK); os.environ.get("TWO"); os.environ["THREE"]
os.getenv("FOUR"); dg.EnvVar("FIVE"); env_field("SIX", None, "d"); config.get("NOT_ONE")
"""
    assert variables_read(source) == {"ONE", "A_HOOK", "TWO", "THREE", "FOUR", "FIVE", "SIX"}


def test_every_variable_the_code_reads_is_in_the_configuration_table() -> None:
    read: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in variables_read(path.read_text(encoding="utf-8")):
            read.setdefault(name, []).append(str(path.relative_to(ROOT)))
    for name in settings.DEFAULTS:  # every default is a setting, however it is read
        read.setdefault(name, ["codelupe_dagster/settings.py"])
    assert len(read) > 30  # the scan found the settings (a broken scanner would pass with none)
    missing = {
        name: where for name, where in sorted(read.items()) if name not in documented() | NOT_SETTINGS.keys()
    }
    assert missing == {}, "add these to README.md's Configuration table"
