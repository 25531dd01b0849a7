"""The layer rules of DESIGN §2, enforced: imports point inward only, core is pure, no private Dagster.

Each rule reads the source with `ast`, so a violation fails here with the file, line and import that broke
it, before a reviewer has to spot it. The rules:

- `core/` imports nothing of the project outside `core/` (the compiled `_native` module, built from
  `native/`, counts as core), and no library that does I/O, keeps time or starts processes: rules and
  data only.
- `backends/` imports `core/` and other backends, never the outer layers, `stages/` or `settings`
  (configuration reaches an adapter as arguments).
- `stages/` imports `core/`, `backends/` and other stages, never Dagster or the outer layers, so assets,
  sensors and the CLI can all call it.
- Nothing imports a private Dagster module (`dagster._…`), except `cli/launch.py`: Dagster 1.13 has no
  public way to execute a run in this process with a code location's origin (so `codelupe run`'s runs show
  under their jobs in the UI). The pin `dagster<1.14` and tests/cli/test_run_visible.py guard it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "codelupe_dagster"
PROJECT = "codelupe_dagster"
OUTER = (
    "assets",
    "sensors",
    "resources",
    "cli",
    "definitions",
    "schedules",
    "partitions",
    "settings",
    "run_liveness",
    "training",
)

# Libraries whose import in core/ means I/O, a clock or processes.
IMPURE_LIBRARIES = frozenset(
    {
        "asyncio",
        "concurrent",
        "dagster",
        "elasticsearch",
        "http",
        "multiprocessing",
        "psycopg2",
        "pyarrow",
        "pygit2",
        "redis",
        "requests",
        "shutil",
        "signal",
        "socket",
        "sqlite3",
        "subprocess",
        "tempfile",
        "threading",
        "time",
        "urllib3",
        "urllib.request",
        "valkey",
    }
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted (`from x import y` names `x.y` when that is a module)
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[Import]:
    module = _module_name(path)
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                is_submodule = _layer(submodule) is not None and _is_project_module(submodule)
                yield Import(module, submodule if is_submodule else base, node.lineno)


def _sources(*subpackages: str) -> list[Path]:
    found: list[Path] = []
    for sub in subpackages:
        target = PACKAGE / sub
        found.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")])
    return found


def _layer(target: str) -> str | None:
    """The project layer a dotted module belongs to, or None for code outside the project."""
    parts = target.split(".")
    if parts[0] != PROJECT:
        return None
    if parts[1:2] == ["_native"]:
        return "core"  # the compiled part of core (native/): pure functions of their arguments, no I/O
    return parts[1] if len(parts) > 1 else PROJECT


def _is_project_module(target: str) -> bool:
    """Whether a dotted project name is a module or package (for `from package import name`)."""
    relative = target.split(".")[1:]
    path = PACKAGE.joinpath(*relative)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() or not relative


def _violations(
    files: list[Path], allowed_layers: set[str], forbidden_libraries: frozenset[str] = frozenset()
) -> list[str]:
    found: list[str] = []
    for path in files:
        for imported in _imports(path):
            layer = _layer(imported.target)
            if layer is not None:
                if layer != PROJECT and layer not in allowed_layers:
                    found.append(str(imported))
                continue
            top = imported.target.split(".")[0]
            if top in forbidden_libraries or imported.target in forbidden_libraries:
                found.append(f"{imported} (I/O, clock or processes)")
    return sorted(set(found))


def test_core_is_pure():
    assert _violations(_sources("core"), {"core"}, IMPURE_LIBRARIES) == []


def test_core_reads_no_environment():
    found = []
    for path in _sources("core"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                found.append(f"{_module_name(path)}:{node.lineno} reads the environment")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
                found.append(f"{_module_name(path)}:{node.lineno} opens a file")
    assert found == []


def test_backends_import_only_core_and_backends():
    assert _violations(_sources("backends"), {"core", "backends"}) == []


def test_stages_import_neither_dagster_nor_outer_layers():
    assert _violations(_sources("stages"), {"core", "backends", "stages"}, frozenset({"dagster"})) == []


def test_outer_layers_do_not_import_each_others_domain_logic():
    """The CLI and sensors share stage logic through `stages/`, not through each other."""
    assert (
        _violations(_sources("cli"), set(OUTER) - {"sensors"} | {"core", "backends", "stages", PROJECT}) == []
    )


# The one module allowed private Dagster imports (see the module docstring).
PRIVATE_DAGSTER_ALLOWED = {PACKAGE / "cli" / "launch.py"}


def test_no_private_dagster_imports():
    files = sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "docker").rglob("*.py"))
    found = [
        str(imported)
        for path in files
        for imported in _imports(path)
        if (imported.target.startswith("dagster._") or ".dagster._" in imported.target)
        and path not in PRIVATE_DAGSTER_ALLOWED
    ]
    assert found == []


def test_the_private_dagster_exception_is_still_needed():
    """The allowed module does import private Dagster; once it stops, the exception goes too."""
    for path in PRIVATE_DAGSTER_ALLOWED:
        assert any(imported.target.startswith("dagster._") for imported in _imports(path)), path


@pytest.mark.parametrize(
    ("source", "rule", "expected"),
    [
        ("from codelupe_dagster.backends import spool\n", "core", "imports codelupe_dagster.backends"),
        ("import redis\n", "core", "(I/O, clock or processes)"),
        (
            "from codelupe_dagster.resources.redis import RedisResource\n",
            "backends",
            "imports codelupe_dagster.resources",
        ),
        ("from .. import settings\n", "backends", "imports codelupe_dagster.settings"),
        ("import dagster as dg\n", "stages", "(I/O, clock or processes)"),
    ],
)
def test_the_rules_catch_a_violation(tmp_path, monkeypatch, source, rule, expected):
    """A checker that cannot fail proves nothing: plant one bad import per rule and see it reported."""
    fake_root = tmp_path
    layer_dir = fake_root / PROJECT / rule
    layer_dir.mkdir(parents=True)
    for layer in ("core", "backends", "stages", "resources"):
        (fake_root / PROJECT / layer).mkdir(parents=True, exist_ok=True)
        (fake_root / PROJECT / layer / "__init__.py").write_text("")
    (fake_root / PROJECT / "__init__.py").write_text("")
    (fake_root / PROJECT / "settings.py").write_text("")
    (fake_root / PROJECT / "backends" / "spool.py").write_text("")
    (fake_root / PROJECT / "resources" / "redis.py").write_text("")
    planted = layer_dir / "planted.py"
    planted.write_text(source)
    monkeypatch.setitem(globals(), "ROOT", fake_root)  # the checker resolves names against this tree
    monkeypatch.setitem(globals(), "PACKAGE", fake_root / PROJECT)
    allowed = {"core": {"core"}, "backends": {"core", "backends"}, "stages": {"core", "backends", "stages"}}[
        rule
    ]
    libraries = {"core": IMPURE_LIBRARIES, "backends": frozenset(), "stages": frozenset({"dagster"})}[rule]
    found = _violations([planted], allowed, libraries)
    assert len(found) == 1 and expected in found[0], found


def test_native_core_is_pure() -> None:
    # native/ is core compiled: the same rule, read from the Rust source (no files, network, processes,
    # clocks, environment or threads).
    impure = ("std::fs", "std::net", "std::process", "std::time", "std::env", "std::thread")
    found = [
        f"{path.relative_to(ROOT)}:{number} uses {name}"
        for path in sorted((ROOT / "native" / "src").glob("*.rs"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for name in impure
        if name in line
    ]
    assert found == []
