"""The Dagster UI serving the project, driven through Debian's Chromium by Playwright.

Starts `dagster dev` on the project's definitions, checks that the asset graph shows every asset
of the Definitions object and the lineage edges, launches a materialization by clicking
"Materialize", waits for the run to succeed and keeps a screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests

from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# The module `dagster dev` serves; the graph the test expects is read from the same module.
DEFINITIONS_MODULE = os.environ.get("CODELUPE_UI_TEST_MODULE", "codelupe_dagster.definitions")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 180
RUN_TIMEOUT_S = 180

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _need(condition: bool, reason: str) -> None:
    if not condition:
        if ON_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterDev:
    url: str
    log: Path
    location: str = ""

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _definitions():
    import importlib

    module = importlib.import_module(DEFINITIONS_MODULE)
    return module.defs


def _expected_graph() -> dict[str, set[str]]:
    """Executable asset -> its upstream asset keys, from the Definitions object itself."""
    asset_graph = _definitions().resolve_asset_graph()
    graph = {}
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if node.is_executable:
            graph[key.to_user_string()] = {parent.to_user_string() for parent in node.parent_keys}
    return graph


def _local_source(root: Path) -> Path:
    """One small git repository, so a crawl has something real to find without GitHub."""
    repo = root / "source" / "demo-repo"
    repo.mkdir(parents=True)
    (repo / "hello.py").write_text(
        '"""Greets."""\n\n\ndef hello(name: str) -> str:\n    return f"hi {name}"\n'
    )
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo.parent


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    root = tmp_path_factory.mktemp("dagster-ui")
    home = root / "dagster_home"
    home.mkdir()
    # No first-visit newsletter dialog over the page, no telemetry from a test run.
    (home / "dagster.yaml").write_text("nux:\n  enabled: false\ntelemetry:\n  enabled: false\n")
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATA_DIR": str(root / "data"),
        "CODELUPE_SOURCE": str(_local_source(root)),
        "CRAWLER_MODE": "once",
    }
    for name in ("REDIS_URL", "ELASTICSEARCH_URL"):  # the embedded defaults, nothing external
        env.pop(name, None)
    workspace = REPO_ROOT / "workspace.yaml"
    # The repository's workspace.yaml is what a person runs; an explicit module overrides it.
    use_workspace = workspace.is_file() and "CODELUPE_UI_TEST_MODULE" not in os.environ
    target = ["-w", str(workspace)] if use_workspace else ["-m", DEFINITIONS_MODULE]
    log = root / "dagster-dev.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster"),
                "dev",
                *target,
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the webserver, daemon and code servers
        )
    server = DagsterDev(url=f"http://127.0.0.1:{port}", log=log)
    try:
        _wait_until_loaded(server, process)
        yield server
    finally:
        _stop_group(process)
        # The embedded Valkey is daemonized on purpose (it outlives `dagster dev`); a test stops it.
        stop_embedded_valkey(root / "data")


def _wait_until_loaded(server: DagsterDev, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{server.tail()}")
        try:
            entries = server.graphql(query)["workspaceOrError"]["locationEntries"]
        except (requests.RequestException, KeyError, AssertionError):
            time.sleep(1)
            continue
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [
                e["locationOrLoadError"]
                for e in entries
                if e["locationOrLoadError"]["__typename"] == "PythonError"
            ]
            assert errors == [], errors
            server.location = entries[0]["name"]
            return
        time.sleep(1)
    pytest.fail(f"dagster dev did not load the code location in {STARTUP_TIMEOUT_S}s:\n{server.tail()}")


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install_browser.sh")], check=False)
    _need(CHROMIUM.exists(), "Chromium missing: run scripts/install_browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()


def _groups(names) -> dict[str, list[str]]:
    asset_graph = _definitions().resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    for name in names:
        group = asset_graph.get(dg.AssetKey.from_user_string(name)).group_name or "default"
        groups.setdefault(group, []).append(name)
    return groups


def test_asset_graph_shows_every_asset_and_edge(dagster_dev: DagsterDev, page) -> None:
    expected = _expected_graph()
    assert expected, f"{DEFINITIONS_MODULE} defines no assets"

    # One asset group page at a time: the global view folds each group into a single box and
    # only draws what is in the viewport, while a group page lays out all of its assets.
    ARTIFACTS.mkdir(exist_ok=True)
    for group, names in sorted(_groups(expected).items()):
        page.goto(f"{dagster_dev.url}/locations/{dagster_dev.location}/asset-groups/{group}/lineage")
        for name in names:
            page.get_by_text(name, exact=True).first.wait_for(state="visible")
        page.screenshot(path=str(ARTIFACTS / f"dagster-ui-{group}.png"))
    page.goto(f"{dagster_dev.url}/asset-groups")
    page.get_by_text("Global asset lineage").wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "dagster-ui.png"))

    # The edges, from the same server: the graph's SVG paths carry no names to read them by.
    nodes = dagster_dev.graphql("{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
    served = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    for name, upstream in expected.items():
        assert served.get(name) == upstream, name


RUNS_QUERY = """query Runs($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(limit: 1) { runId } } }
  runsOrError { ... on Runs { results { runId status assetSelection { path } } } } }"""


def _materializable_unpartitioned() -> str:
    """The first asset in topological order that needs no partition: the one a person would try."""
    asset_graph = _definitions().resolve_asset_graph()
    for key in asset_graph.toposorted_asset_keys:
        node = asset_graph.get(key)
        if node.is_materializable and node.partitions_def is None:
            return key.to_user_string()
    pytest.fail("no unpartitioned materializable asset to launch")


def test_materialize_from_the_ui_succeeds(dagster_dev: DagsterDev, page) -> None:
    name = _materializable_unpartitioned()
    page.goto(f"{dagster_dev.url}/assets/{name}")
    # The button's accessible name includes its icon's label, so match its text; it is disabled
    # until the asset's definition has loaded, and click() waits for it to be enabled.
    button = page.locator("button:not([disabled])", has_text=re.compile(r"^Materialize$"))
    button.first.click(timeout=RUN_TIMEOUT_S * 1000)

    deadline = time.monotonic() + RUN_TIMEOUT_S
    run = None
    while time.monotonic() < deadline:
        data = dagster_dev.graphql(RUNS_QUERY, {"key": {"path": name.split("/")}})
        runs = [
            r
            for r in data["runsOrError"]["results"]
            if ["/".join(p["path"]) for p in r["assetSelection"] or []] == [name]
        ]
        run = runs[0] if runs else None
        if run and run["status"] in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2)
    assert run is not None, f"no run was launched for {name}:\n{dagster_dev.tail()}"
    assert run["status"] == "SUCCESS", f"run {run['runId']} ended {run['status']}:\n{dagster_dev.tail()}"
    materializations = data["assetOrError"]["assetMaterializations"]
    assert materializations and materializations[0]["runId"] == run["runId"]

    page.goto(f"{dagster_dev.url}/runs/{run['runId']}")
    page.get_by_text("Success", exact=False).first.wait_for(state="visible")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dagster-ui-run.png"))
