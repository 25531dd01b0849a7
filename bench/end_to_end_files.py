"""End to end `scored_files` + `es_code_index` on a real corpus in local git repositories.

Corpus, found at run time (never a machine's paths): CPython's `Lib` (`sysconfig.get_paths()["stdlib"]`)
split into ~20 repositories by top-level package (the rest of Lib in one more), plus slices of Go's `src`
(`go env GOROOT`). `--corpus large` takes everything found instead: all of Lib, Go's `src` and `test`, and
the global node modules (`npm root -g`), ~19k files. Runs through Dagster exactly as a batch run does
(ephemeral instance, embedded Valkey), on the SQLite backend, and also on Elasticsearch when
--elasticsearch-url is given.

Prints a one-line summary per backend first, then the details: files/s (files seen / wall time of
scored_files + es_code_index) and MB/s of text end to end (text: the files that decode as UTF-8 text,
`core.filters.decode_text`), per-stage seconds (each Dagster step's duration, plus the scorer's own and the
index's own timers), the ratio to the old pipeline's ~3 files/s (DESIGN §10: 5,000-10,000 files/hour),
the load average, and a cProfile top-15 of the parent (step) process, all its threads by their own CPU
time, and the project's functions by cumulative time, from one extra run: the profiler slows the parent's
Python work several-fold, so timed runs are never profiled. `--runs N` repeats the whole measurement on a
fresh ledger and index and reports the median.

CPU seconds per batch are printed too (the parent's threads, the scoring workers as reaped by the
forkserver, the forkserver itself, and the embedded Valkey server, which runs the ledger's claim scripts on
the same cores): on a machine shared with other work they vary far less than wall time.

`--base REV` compares the working tree with a revision instead: REV is exported (`git archive`) to a
temporary folder (with this tree's compiled extension when REV's `native/` is the same, else REV's own,
built there with cargo), and every round runs one batch on each side, base first, each in a fresh process
driven by this script with the side's package first on `PYTHONPATH` (a fresh process per batch, as
Dagster's multiprocess executor runs a step).
Prints the medians of files/s and CPU seconds per side and their ratios new / base. With
--elasticsearch-url, the two sides are compared on Elasticsearch only (the node stays up, each batch
writes a fresh index); `--skip-sqlite` alone measures Elasticsearch without the SQLite runs.

`--batches N` measures growth instead: the corpus is SPLIT into N parts (each repository's files dealt
round-robin by path, so every part has the same mix of Python, Go and JavaScript and no file is in two
parts; every part's repositories have their own names, so no batch removes another's files as stale),
and the N parts run as N batches in a row on one growing ledger and index. Re-using the corpus N times
would make batch 2 onwards exact duplicates of batch 1: that would measure dedup, not growth. Batch 1 runs
once untimed first (the parent's one-time costs), then the stores are emptied and the series starts. Prints
files/s per batch and the ratio of the last batch to the first (target: within 10%), and the same for
files per CPU-second of the bench's processes, which a shared machine's load moves far less than wall
time. Files that are duplicates of a file in an earlier part are still dropped as duplicates, so the later
batches drop a few more files than the first; the per-batch table shows those counts.

`--search-idle` (with --elasticsearch-url) starts every batch on an index nobody has searched for a while,
as a production index is between batches: Elasticsearch skips the periodic refreshes of a search-idle shard
(`index.search.idle.after`, 30 s by default), so nothing the batch writes becomes a segment before the
closing refresh of `es_code_index` unless the pipeline refreshes it itself. The bench creates the index and
sets its `index.search.idle.after` to 1 s (the only difference from the pipeline's own index), then waits
2 s, untimed, before the batch.

    .venv/bin/python bench/end_to_end_files.py [--workers 2] [--repos 20] [--runs 1] [--corpus issue|large]
        [--files N] [--batches N] [--elasticsearch-url URL [--skip-sqlite] [--search-idle]] [--no-profile]
        [--base REV]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pygit2

GO_SLICES = ("net", "crypto", "go")
OLD_PIPELINE_FILES_PER_S = 3.0  # DESIGN §10
FLAT_COST_TOLERANCE = 0.10  # issue 12: the 10th batch within 10% of the 1st
MIN_GROUP_FILES = 50  # --corpus large: smaller Go directories share one repository

Groups = list[tuple[str, dict[str, Path]]]


class CorpusMissing(RuntimeError):
    """A source tree the corpus needs is not on this machine; the message says how to get it."""


# --------------------------------------------------------------------------- corpus found at run time


def stdlib_root() -> Path:
    """CPython's `Lib` of the interpreter running the bench."""
    root = Path(sysconfig.get_paths()["stdlib"])
    if not (root / "os.py").is_file():
        raise CorpusMissing(f"CPython's standard library not found at {root} (sysconfig's 'stdlib' path)")
    return root


def go_root() -> Path:
    """Go's installation tree, from the `go` on PATH."""
    go = shutil.which("go")
    if go is None:
        raise CorpusMissing("Go's source tree is part of the corpus: no `go` on PATH (install Go)")
    out = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, check=False)
    root = Path(out.stdout.strip())
    if out.returncode != 0 or not (root / "src").is_dir():
        raise CorpusMissing(f"`go env GOROOT` gave no source tree ({out.stderr.strip() or root})")
    return root


def node_modules_root() -> Path | None:
    """The global node modules (`npm root -g`), or None where npm is not installed."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    out = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, check=False)
    root = Path(out.stdout.strip())
    return root if out.returncode == 0 and root.is_dir() else None


def _files_under(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _stdlib_groups(n_repos: int) -> Groups:
    """The biggest Lib packages alone, everything else of Lib together."""
    stdlib = stdlib_root()
    entries = [p for p in sorted(stdlib.iterdir()) if p.name not in {"site-packages", "__pycache__"}]
    packages = [p for p in entries if p.is_dir()]
    sizes = {p: len(_files_under(p)) for p in packages}
    own = sorted(packages, key=lambda p: -sizes[p])[: n_repos - 1]
    groups = [(f"cpython/{p.name}", {f"{p.name}/{k}": v for k, v in _files_under(p).items()}) for p in own]
    rest: dict[str, Path] = {}
    for p in entries:
        if p in own:
            continue
        if p.is_dir():
            rest.update({f"{p.name}/{k}": v for k, v in _files_under(p).items()})
        elif p.is_file():
            rest[p.name] = p
    groups.append(("cpython/lib-rest", rest))
    return groups


def corpus_groups(n_repos: int) -> Groups:
    """The issue's corpus: (repo name, files) groups of Lib, plus Go's net, crypto and go directories."""
    groups = _stdlib_groups(n_repos)
    go_src = go_root() / "src"
    for name in GO_SLICES:
        if (go_src / name).is_dir():
            groups.append((f"golang/{name}", _files_under(go_src / name)))
    return groups


def _go_groups(root: Path, owner: str) -> Groups:
    """One repository per top-level directory of `root`; small ones and loose files together."""
    groups: Groups = []
    rest: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        files = {f"{entry.name}/{k}": v for k, v in _files_under(entry).items()} if entry.is_dir() else {}
        if entry.is_file() and not entry.is_symlink():
            rest[entry.name] = entry
        elif len(files) >= MIN_GROUP_FILES:
            groups.append((f"{owner}/{entry.name}", files))
        else:
            rest.update(files)
    if rest:
        groups.append((f"{owner}/rest", rest))
    return groups


def large_corpus_groups(n_repos: int, limit: int | None = None) -> Groups:
    """Everything found: all of Lib, Go's `src` and `test`, the global node modules (one repository per
    package). With `limit`, the first `limit` files in that order (Lib, node modules, Go)."""
    groups = _stdlib_groups(n_repos)
    node = node_modules_root()
    if node is not None:
        for package in sorted(p for p in node.iterdir() if p.is_dir() and not p.is_symlink()):
            if files := _files_under(package):
                groups.append((f"npm/{package.name.lstrip('@')}", files))
    go = go_root()
    groups += _go_groups(go / "src", "golang")
    if (go / "test").is_dir():
        groups.append(("golang/test", _files_under(go / "test")))
    return _first_files(groups, limit) if limit is not None else groups


def _first_files(groups: Groups, limit: int) -> Groups:
    kept: Groups = []
    for name, files in groups:
        if limit <= 0:
            break
        items = list(files.items())[:limit]
        kept.append((name, dict(items)))
        limit -= len(items)
    return kept


def split_groups(groups: Groups, parts: int) -> list[Groups]:
    """`parts` disjoint corpora with the same mix: each repository's files dealt round-robin by path,
    part k's repositories named `<name>-part<k>` (distinct repositories, so nothing is stale)."""
    split: list[Groups] = [[] for _ in range(parts)]
    for name, files in groups:
        items = sorted(files.items())
        for k in range(parts):
            if share := dict(items[k::parts]):
                split[k].append((f"{name}-part{k + 1}", share))
    return split


def text_only(groups: Groups) -> Groups:
    """The same groups with only the files that decode as text (what datatrove can read)."""
    return [(name, {k: p for k, p in files.items() if is_text(p)}) for name, files in groups]


def is_text(path: Path) -> bool:
    from codelupe_dagster.core.filters import decode_text

    return decode_text(path.read_bytes()) is not None


# --------------------------------------------------------------------------- git repositories


def _tree(repo: pygit2.Repository, files: dict[str, Path]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    children: dict[str, dict[str, Path]] = {}
    for rel, source in files.items():
        head, _, rest = rel.partition("/")
        if rest:
            children.setdefault(head, {})[rest] = source
        else:
            builder.insert(head, repo.create_blob(source.read_bytes()), pygit2.enums.FileMode.BLOB)
    for name, sub in children.items():
        builder.insert(name, _tree(repo, sub), pygit2.enums.FileMode.TREE)
    return builder.write()


def make_repo(path: Path, files: dict[str, Path]) -> str:
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    sig = pygit2.Signature("bench", "bench@example.invalid", 1_700_000_000, 0)
    return str(repo.create_commit("HEAD", sig, sig, "import", _tree(repo, files), []))


@dataclass
class CorpusSize:
    files: int = 0
    bytes: int = 0
    text_files: int = 0
    text_bytes: int = 0
    repos: int = 0

    def describe(self) -> str:
        return (
            f"{self.files} files, {self.bytes / 1e6:.1f} MB in {self.repos} repos, of which "
            f"{self.text_files} text files and {self.text_bytes / 1e6:.1f} MB of text"
        )


def measure(groups: Groups) -> CorpusSize:
    from codelupe_dagster.core.filters import decode_text

    size = CorpusSize(repos=len(groups))
    for _, files in groups:
        for path in files.values():
            data = path.read_bytes()
            size.files += 1
            size.bytes += len(data)
            if decode_text(data) is not None:
                size.text_files += 1
                size.text_bytes += len(data)
    return size


def build_batch(root: Path, data_dir: Path, batch_id: str, groups: Groups) -> CorpusSize:
    """One bare repository per group under `root` and the batch's clone manifest, as `cloned_repos` leaves
    them."""
    from codelupe_dagster.stages.handoff import ClonedRepo, write_cloned_manifest

    repos = []
    for name, group in groups:
        path = root / name.replace("/", "__")
        head = make_repo(path, group)
        record = {"full_name": name, "clone_url": str(path), "stars": 100, "source": "local"}
        repos.append(ClonedRepo(name, str(path), head, record))
    write_cloned_manifest(data_dir, batch_id, repos)
    return measure(groups)


# --------------------------------------------------------------------------- one measured batch


def _step_seconds(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    """Wall seconds of each step, from Dagster's own STEP_SUCCESS events."""
    return {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 2)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }


def _resources(label: str, data_dir: Path, es_url: str | None) -> dict[str, Any]:
    from codelupe_dagster.resources import PipelineResource, RedisResource, SearchIndexResource

    return {
        "redis": RedisResource(url=None, data_dir=str(data_dir)),
        "search": SearchIndexResource(
            elasticsearch_url=es_url, data_dir=str(data_dir), code_index_name=f"bench-code-{label}"
        ),
        "pipeline": PipelineResource(data_dir=str(data_dir)),
    }


def reset_stores(label: str, data_dir: Path, es_url: str | None) -> None:
    """An empty ledger and index: every run (or series of batches) starts from the same state."""
    resources = _resources(label, data_dir, es_url)
    resources["redis"].get_client().flushdb()
    resources["search"].code_index().delete()


SEARCH_IDLE_AFTER_S = 1  # --search-idle: the bench index's `index.search.idle.after`


def make_search_idle(label: str, data_dir: Path, es_url: str) -> None:
    """The (empty, fresh) code index created and left search-idle: see --search-idle."""
    from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex

    index = _resources(label, data_dir, es_url)["search"].code_index()
    assert isinstance(index, ElasticSearchIndex)
    index.ensure()
    index.client.indices.put_settings(
        index=index.name, settings={"index.search.idle.after": f"{SEARCH_IDLE_AFTER_S}s"}
    )
    time.sleep(SEARCH_IDLE_AFTER_S * 2)


def quiet_run_config(workers: int) -> dict[str, Any]:
    """The scoring workers, and Dagster's console logger at WARNING: its per-event DEBUG lines would
    bury the bench's output."""
    return {
        "ops": {"scored_files": {"config": {"file_workers": workers}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }


def _forkserver_cpu() -> tuple[float, float]:
    """(own, reaped workers') CPU seconds of this process's forkserver. The scoring workers are its
    children, not the bench's, and it reaps them, so their CPU adds up in its children's times."""
    import psutil

    for child in psutil.Process().children():
        try:
            if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                times = child.cpu_times()
                return times.user + times.system, times.children_user + times.children_system
        except psutil.Error:
            continue
    return 0.0, 0.0


def _valkey_cpu(data_dir: Path) -> float:
    """CPU seconds so far of the embedded Valkey server of `data_dir` (0 when there is none). It runs the
    ledger's claim scripts on the same two cores as the batch: about 0.3 s per batch of the issue's corpus
    (32 bands of every file), which the batch's CPU must include."""
    import psutil

    try:
        from codelupe_dagster.backends.embedded_valkey import embedded_valkey_state
    except ImportError:  # a base revision older than the function (index_equivalence.py --base 4d5b659)
        return 0.0
    pid = embedded_valkey_state(data_dir).get("pid")
    if not pid:
        return 0.0
    try:
        times = psutil.Process(int(pid)).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def _elasticsearch_cpu(es_url: str | None) -> float:
    """CPU seconds so far of the Elasticsearch node(s) at `es_url` (`_nodes/stats/process`; 0 without
    one). A node on this machine shares the batch's two cores; one elsewhere does not, but its CPU per
    batch still tells what indexing costs."""
    if not es_url:
        return 0.0
    from elasticsearch import Elasticsearch

    stats = Elasticsearch(es_url, request_timeout=30).nodes.stats(metric="process")
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats["nodes"].values()) / 1000


class ThreadProfiles:
    """cProfile on every thread of the parent, each timed by its own thread's CPU clock.

    The step's work is spread over threads (the stream indexer, the scoring pool's result and feeder
    threads), so a profile of the main thread alone misses it, and a wall-clock one counts the main
    thread's waits on them as its cost. Threads started after `start` are profiled from their first call
    (`threading.setprofile`), the calling thread from `start` on."""

    def __init__(self) -> None:
        self._profiles: list[tuple[str, cProfile.Profile]] = []
        self._lock = threading.Lock()

    def _profile_this_thread(self, *_: object) -> None:
        profile = cProfile.Profile(time.thread_time)
        with self._lock:
            self._profiles.append((threading.current_thread().name, profile))
        profile.enable()  # takes over from the setprofile hook for this thread

    def start(self) -> None:
        threading.setprofile(self._profile_this_thread)
        self._profile_this_thread()

    def disable(self) -> None:
        threading.setprofile(None)
        for _, profile in self._profiles:
            profile.disable()

    def stats(self, stream: io.StringIO) -> pstats.Stats:
        first, *rest = (profile for _, profile in self._profiles)
        return pstats.Stats(first, *rest, stream=stream)

    def cpu_by_thread(self) -> str:
        """Profiled CPU seconds per thread name (numbered names such as Thread-3 summed as Thread)."""
        totals: dict[str, float] = {}
        for name, profile in self._profiles:
            key = name.split("-")[0] if name.split("-")[-1].split(" ")[0].isdigit() else name
            totals[key] = totals.get(key, 0.0) + pstats.Stats(profile).total_tt
        return "profiled CPU s by thread: " + ", ".join(f"{k} {v:.2f}" for k, v in totals.items())


def run_batch(
    label: str,
    data_dir: Path,
    batch_id: str,
    workers: int,
    es_url: str | None,
    size: CorpusSize,
    profile: bool = False,
) -> dict[str, Any]:
    """One measured batch on the ledger and index as they are. With `profile`, every thread of the parent
    runs under cProfile (`ThreadProfiles`), which slows its Python work (claims, spool, index) several-fold:
    a profiled run explains where time goes but is never timed."""
    from codelupe_dagster.assets.index import es_code_index
    from codelupe_dagster.assets.score import scored_files

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repo_batches", [batch_id])
    profiler = ThreadProfiles()
    server_before, workers_before = _forkserver_cpu()
    valkey_before = _valkey_cpu(data_dir)
    node_before = _elasticsearch_cpu(es_url)
    cpu_started = time.process_time()
    started = time.perf_counter()
    if profile:
        profiler.start()
    result = dg.materialize(
        [scored_files, es_code_index],
        partition_key=batch_id,
        instance=instance,
        resources=_resources(label, data_dir, es_url),
        run_config=quiet_run_config(workers),
    )
    profiler.disable()
    total = time.perf_counter() - started
    parent_cpu = time.process_time() - cpu_started
    server_after, workers_after = _forkserver_cpu()
    cpu = {
        "parent": round(parent_cpu, 2),
        "workers": round(workers_after - workers_before, 2),
        "forkserver": round(server_after - server_before, 2),
        "valkey": round(_valkey_cpu(data_dir) - valkey_before, 2),
    }
    cpu["total"] = round(sum(cpu.values()), 2)
    # Apart from the total: a node may run on other machines (scale-out), where it takes none of the
    # batch's cores. On this machine, add it to read what the two cores did.
    cpu["elasticsearch_node"] = round(_elasticsearch_cpu(es_url) - node_before, 2)
    assert result.success
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    indexed = result.asset_materializations_for_node("es_code_index")[0].metadata
    stats = io.StringIO()
    if profile:
        stats.write(profiler.cpu_by_thread() + "\n")
        profiler.stats(stats).sort_stats("tottime").print_stats(15)
        profiler.stats(stats).sort_stats("cumulative").print_stats("codelupe_dagster", 25)
    seen = scored["seen"].value
    return {
        "backend": label,
        "batch": batch_id,
        "seen": seen,
        "kept": scored["kept"].value,
        "exact_duplicates": scored["exact_duplicates"].value,
        "near_duplicates": scored["near_duplicates"].value,
        "indexed": indexed["indexed"].value,
        "score_s": scored["elapsed_s"].value,
        "score_files_per_s": scored["files_per_s"].value,
        "index_docs_per_s": indexed["docs_per_s"].value,
        "total_s": round(total, 2),
        "steps_s": _step_seconds(result),
        "files_per_s_end_to_end": round(seen / total, 1),
        "text_mb_per_s_end_to_end": round(size.text_bytes / 1e6 / total, 2),
        "mb_per_s_end_to_end": round(size.bytes / 1e6 / total, 2),
        "vs_old_pipeline": f"x{seen / total / OLD_PIPELINE_FILES_PER_S:.0f}",
        # CPU seconds of the batch: the parent (all its threads), the scoring workers, the forkserver
        # (its start, once per process: in a Dagster step process, once per batch). On a shared machine
        # they vary far less than wall time.
        "cpu_s": cpu,
        "files_per_cpu_s": round(seen / cpu["total"], 1) if cpu["total"] else None,
        "checks": {e.check_name: e.passed for e in result.get_asset_check_evaluations()},
        "profile": stats.getvalue(),
    }


def run_backend(
    label: str,
    data_dir: Path,
    batch_id: str,
    workers: int,
    es_url: str | None,
    size: CorpusSize,
    profile: bool = False,
    search_idle: bool = False,
) -> dict[str, Any]:
    """One measured batch on a fresh ledger and index (left search-idle first with `search_idle`)."""
    reset_stores(label, data_dir, es_url)
    if search_idle and es_url:
        make_search_idle(label, data_dir, es_url)
    return run_batch(label, data_dir, batch_id, workers, es_url, size, profile)


# --------------------------------------------------------------------------- reports


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def progress(line: str) -> None:
    """Progress goes to stderr, so stdout starts with the summary."""
    print(line, file=sys.stderr, flush=True)


def median_run(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return sorted(reports, key=lambda r: r["total_s"])[len(reports) // 2]


def summary_line(label: str, reports: Sequence[dict[str, Any]], workers: int) -> str:
    median = median_run(reports)
    runs = ", ".join(str(r["files_per_s_end_to_end"]) for r in reports)
    cpu = {part: statistics.median(r["cpu_s"][part] for r in reports) for part in reports[0]["cpu_s"]}
    return (
        f"{label}: {median['files_per_s_end_to_end']:.0f} files/s, "
        f"{median['text_mb_per_s_end_to_end']:.1f} MB/s of text end to end "
        f"(median of {len(reports)} runs: {runs} files/s; {workers} workers; load {load_average()}); "
        f"CPU s per batch (medians): {cpu['total']:.2f} = parent {cpu['parent']:.2f} + "
        f"workers {cpu['workers']:.2f} + forkserver {cpu['forkserver']:.2f} + valkey {cpu['valkey']:.2f}"
        + (
            f" (and the Elasticsearch node {cpu['elasticsearch_node']:.2f})"
            if cpu["elasticsearch_node"]
            else ""
        )
        + ", "
        f"{median_run(reports)['seen'] / cpu['total']:.0f} files per CPU-second"
    )


def measure_backend(
    label: str,
    build: Callable[[], tuple[str, CorpusSize]],
    data_dir: Path,
    args: argparse.Namespace,
    es_url: str | None,
) -> tuple[str, list[str]]:
    """--runs timed runs (and one profiled) of one batch: the summary line and the detail lines."""
    batch_id, size = build()
    reports = []
    for _ in range(args.runs):
        reports.append(
            run_backend(label, data_dir, batch_id, args.workers, es_url, size, search_idle=args.search_idle)
        )
        progress(
            f"{label} run {len(reports)}: {reports[-1]['files_per_s_end_to_end']} files/s, "
            f"load {load_average()}"
        )
    report = dict(median_run(reports))
    report.pop("profile")
    if args.report_json:
        Path(args.report_json).write_text(json.dumps(report))
    report["runs_files_per_s"] = [r["files_per_s_end_to_end"] for r in reports]
    report["load_average"] = load_average()
    details = [json.dumps(report, indent=1)]
    if args.profile:
        profiled = run_backend(
            label, data_dir, batch_id, args.workers, es_url, size, profile=True, search_idle=args.search_idle
        )
        details += [
            f"--- parent process profile ({label}, one extra run under cProfile: "
            f"{profiled['total_s']} s, not comparable with the timed runs) ---",
            profiled["profile"],
        ]
    return summary_line(label, reports, args.workers), details


def warm_up(
    label: str, part: tuple[str, CorpusSize], data_dir: Path, args: argparse.Namespace, es_url: str | None
) -> None:
    """The first part once, untimed, before a series: the parent's one-time costs (imports, the
    decontamination sets, the backends' first connections) would otherwise all land on batch 1 and hide
    a growing cost behind a slow start. The series then empties the stores again."""
    batch_id, size = part
    report = run_backend(label, data_dir, batch_id, args.workers, es_url, size)
    progress(f"{label} warm-up (batch 1, untimed): {report['files_per_s_end_to_end']} files/s")


def batch_series(
    label: str,
    parts: list[tuple[str, CorpusSize]],
    data_dir: Path,
    args: argparse.Namespace,
    es_url: str | None,
) -> list[dict[str, Any]]:
    """The parts as batches in a row on one ledger and index, emptied once before the first."""
    reset_stores(label, data_dir, es_url)
    reports = []
    for batch_id, size in parts:
        reports.append(run_batch(label, data_dir, batch_id, args.workers, es_url, size))
        reports[-1].pop("profile")
        progress(
            f"{label} batch {len(reports)}/{len(parts)}: {reports[-1]['files_per_s_end_to_end']} files/s, "
            f"load {load_average()}"
        )
    return reports


def fitted_ratio(per_batch: Sequence[float]) -> float:
    """Last over first batch on the least-squares line through every batch's files/s: on a shared
    machine one batch's files/s swings by tens of percent, and the line uses all of them."""
    fit = statistics.linear_regression(range(1, len(per_batch) + 1), per_batch)
    return (fit.intercept + fit.slope * len(per_batch)) / (fit.intercept + fit.slope)


def growth_report(label: str, series: list[list[dict[str, Any]]], workers: int) -> tuple[str, list[str]]:
    """Per batch the median over runs of files/s; the summary compares the last batch with the first."""
    per_batch = [
        statistics.median(run[b]["files_per_s_end_to_end"] for run in series) for b in range(len(series[0]))
    ]
    text_mb_per_s = [
        statistics.median(run[b]["text_mb_per_s_end_to_end"] for run in series) for b in range(len(series[0]))
    ]
    # Files per CPU-second of the bench's processes (parent, scoring workers, forkserver): on a shared
    # machine wall time swings with the neighbours' load, CPU time far less, so a cost that grows with
    # the corpus shows here first. Valkey's and Elasticsearch's own CPU is not in it.
    per_cpu_s = [
        statistics.median(run[b]["files_per_cpu_s"] or 0.0 for run in series) for b in range(len(series[0]))
    ]
    ratio = per_batch[-1] / per_batch[0]
    fitted = fitted_ratio(per_batch)
    measured = all(per_cpu_s)  # a batch without CPU figures leaves both CPU ratios undefined
    cpu_ratio = per_cpu_s[-1] / per_cpu_s[0] if measured else float("nan")
    cpu_fitted = fitted_ratio(per_cpu_s) if measured else float("nan")
    verdict = "within" if abs(ratio - 1) <= FLAT_COST_TOLERANCE else "NOT within"
    summary = (
        f"{label}: batch {len(per_batch)}/1 = {ratio:.2f} "
        f"({per_batch[0]:.0f} -> {per_batch[-1]:.0f} files/s; "
        f"{verdict} {FLAT_COST_TOLERANCE:.0%}; least-squares line through all batches: {fitted:.2f}; "
        f"{len(per_batch)} batches on one growing ledger and index, "
        f"median of {len(series)} series; {workers} workers; load {load_average()}); "
        f"files per CPU-second: batch {len(per_cpu_s)}/1 = {cpu_ratio:.2f} "
        f"({per_cpu_s[0]:.0f} -> {per_cpu_s[-1]:.0f}; least-squares line: {cpu_fitted:.2f})"
    )
    header = (
        "batch  files/s  files/CPU-s  text MB/s  seen  kept  exact  near  indexed  score_s  total_s"
        "  (first series)"
    )
    rows = [header]
    for b, files_per_s in enumerate(per_batch):
        r = series[0][b]
        rows.append(
            f"{b + 1:>5}  {files_per_s:>7.0f}  {per_cpu_s[b]:>11.0f}  {text_mb_per_s[b]:>9.1f}"
            f"  {r['seen']:>4}  {r['kept']:>4}  {r['exact_duplicates']:>5}  {r['near_duplicates']:>4}"
            f"  {r['indexed']:>7}  {r['score_s']:>7}  {r['total_s']:>7}"
        )
    return summary, rows


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repos", type=int, default=20, help="CPython Lib repositories")
    parser.add_argument("--corpus", choices=("issue", "large"), default="issue")
    parser.add_argument("--files", type=int, default=None, help="only the corpus's first N files")
    parser.add_argument("--elasticsearch-url", default=None)
    parser.add_argument(
        "--skip-sqlite",
        action="store_true",
        help="with --elasticsearch-url, measure Elasticsearch only (--base then compares on it)",
    )
    parser.add_argument(
        "--search-idle",
        action="store_true",
        help="with --elasticsearch-url, start each batch on a search-idle index (see above)",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat and report the median")
    parser.add_argument("--batches", type=int, default=1, help="split the corpus into N batches in a row")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the profiled run")
    parser.add_argument("--base", default=None, help="compare with this revision, one process per batch")
    parser.add_argument("--report-json", default=None, help=argparse.SUPPRESS)  # --base's child runs
    args = parser.parse_args(argv)
    if args.skip_sqlite and not args.elasticsearch_url:
        parser.error("--skip-sqlite needs --elasticsearch-url: there would be nothing to measure")
    if args.search_idle and not args.elasticsearch_url:
        parser.error("--search-idle needs --elasticsearch-url: only Elasticsearch has search-idle shards")
    if args.search_idle and args.batches > 1:
        parser.error("--search-idle measures single batches: a series searches its index every batch")
    return args


ROOT = Path(__file__).resolve().parents[1]


def export_revision(revision: str, into: Path) -> None:
    """`revision`'s tree in `into`, with this tree's compiled extension when `native/` is unchanged, else
    with its own."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    same_native = (
        subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", revision, "--", "native/"]).returncode == 0
    )
    built = sorted((ROOT / "codelupe_dagster").glob("_native*.so"))
    if not (into / "native").is_dir():
        return
    if same_native and built:
        (into / "codelupe_dagster" / built[0].name).symlink_to(built[0].resolve())
        return
    # REV's own extension, by REV's own build script (a minute or two: pyo3 and LTO).
    progress(f"building {revision}'s native/ (it differs from this tree's)")
    cargo_bin = str(Path.home() / ".cargo" / "bin")
    env = {**os.environ, "PATH": os.pathsep.join([os.environ.get("PATH", ""), cargo_bin])}
    try:
        subprocess.run(["bash", str(into / "scripts" / "build_native.sh")], env=env, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CorpusMissing(
            f"{revision}'s native/ differs from this tree's and could not be built: {exc}"
        ) from exc


def compare_with_base(args: argparse.Namespace) -> int:
    """One batch per side per round, base first, each in a fresh process; medians and ratios."""
    sides: dict[str, list[dict[str, Any]]] = {"base": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="codelupe-e2e-base-") as scratch:
        base = Path(scratch) / "tree"
        base.mkdir()
        export_revision(args.base, base)
        trees = {"base": base, "new": ROOT}
        child = [sys.executable, str(Path(__file__).resolve()), "--runs", "1", "--no-profile"]
        child += ["--workers", str(args.workers), "--repos", str(args.repos), "--corpus", args.corpus]
        child += ["--files", str(args.files)] if args.files is not None else []
        if args.elasticsearch_url:  # the base's own mapping: every batch starts from a fresh index
            child += ["--elasticsearch-url", args.elasticsearch_url, "--skip-sqlite"]
            child += ["--search-idle"] if args.search_idle else []
        for round_ in range(args.runs):
            for side, tree in trees.items():
                out = Path(scratch) / f"{side}-{round_}.json"
                path = [str(tree), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
                env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
                ran = subprocess.run(
                    [*child, "--report-json", str(out)], env=env, cwd=tree, capture_output=True, text=True
                )
                if ran.returncode != 0:
                    raise RuntimeError(f"the {side} side failed:\n{ran.stdout[-2000:]}\n{ran.stderr[-4000:]}")
                report = json.loads(out.read_text())
                sides[side].append(report)
                progress(
                    f"round {round_ + 1} {side}: {report['files_per_s_end_to_end']} files/s, "
                    f"{report['cpu_s']['total']} CPU s, load {load_average()}"
                )
    medians = {
        side: {
            "files_per_s": statistics.median(r["files_per_s_end_to_end"] for r in reports),
            **{f"cpu_{k}": statistics.median(r["cpu_s"][k] for r in reports) for k in reports[0]["cpu_s"]},
        }
        for side, reports in sides.items()
    }
    old, new = medians["base"], medians["new"]
    backend = "elasticsearch" if args.elasticsearch_url else "sqlite"
    print(
        f"{backend}, base {args.base} vs working tree, {args.runs} rounds, each batch in a fresh process: "
        f"{old['files_per_s']:.0f} -> {new['files_per_s']:.0f} files/s "
        f"({new['files_per_s'] / old['files_per_s']:.2f}x); "
        f"CPU s per batch {old['cpu_total']:.2f} -> {new['cpu_total']:.2f} "
        f"({old['cpu_total'] / new['cpu_total']:.2f}x less); load {load_average()}"
    )
    for side, m in medians.items():
        print(f"  {side}: " + ", ".join(f"{k} {v:g}" for k, v in m.items()))
        print(f"    runs files/s: {[r['files_per_s_end_to_end'] for r in sides[side]]}")
    return 0


def select_groups(args: argparse.Namespace) -> Groups:
    groups = large_corpus_groups(args.repos) if args.corpus == "large" else corpus_groups(args.repos)
    files = getattr(args, "files", None)  # datatrove_compare takes the whole corpus
    return groups if files is None else _first_files(groups, files)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.base is not None:
        try:
            return compare_with_base(args)
        except CorpusMissing as exc:
            print(f"end_to_end_files: {exc}", file=sys.stderr)
            return 2
    try:
        groups = select_groups(args)
    except CorpusMissing as exc:
        print(f"end_to_end_files: {exc}", file=sys.stderr)
        return 2
    backends = ([] if args.skip_sqlite else [("sqlite", None)]) + (
        [("elasticsearch", args.elasticsearch_url)] if args.elasticsearch_url else []
    )
    summaries: list[str] = []
    details: list[str] = []
    with tempfile.TemporaryDirectory(prefix="codelupe-bench-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        os.environ["DATA_DIR"] = str(data_dir)
        t0 = time.perf_counter()
        parts = split_groups(groups, args.batches) if args.batches > 1 else [groups]
        built = [
            (
                f"b20260101T{k:06d}-bench{k}",
                build_batch(root / "repos", data_dir, f"b20260101T{k:06d}-bench{k}", part),
            )
            for k, part in enumerate(parts)
        ]
        whole = measure(groups)
        details.append(
            f"corpus ({args.corpus}): {whole.describe()} (built in {time.perf_counter() - t0:.1f}s); "
            f"workers={args.workers}"
            + (
                f"; split into {args.batches} batches of ~{whole.files // args.batches} files"
                if args.batches > 1
                else ""
            )
        )
        try:
            for label, url in backends:
                if args.batches > 1:
                    warm_up(label, built[0], data_dir, args, url)
                    series = [batch_series(label, built, data_dir, args, url) for _ in range(args.runs)]
                    line, rows = growth_report(label, series, args.workers)
                else:
                    line, rows = measure_backend(label, lambda: built[0], data_dir, args, url)
                summaries.append(line)
                details += rows
        finally:
            from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

            stop_embedded_valkey(data_dir)
    print("\n".join(summaries + details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
