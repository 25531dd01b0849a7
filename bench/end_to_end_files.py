"""End to end `scored_files` + `es_code_index` on a real corpus in local git repositories.

Corpus: CPython's `Lib` split into ~20 repositories by top-level package (the rest of Lib in one more),
plus slices of Go's `src`. Runs through Dagster exactly as a batch run does (ephemeral instance, embedded
Valkey), on the SQLite backend, and also on Elasticsearch when --elasticsearch-url is given.

Prints files/s (files seen / wall time of scored_files + es_code_index) and MB/s end to end, per-stage
seconds (each Dagster step's duration, plus the scorer's own and the index's own timers), the ratio to
the old pipeline's ~3 files/s (DESIGN §10: 5,000-10,000 files/hour), the load average, and a cProfile
top-15 of the parent (step) process by own time and the project's functions by cumulative time, from one
extra run: the profiler slows the parent's Python work several-fold, so timed runs are never profiled.
`--runs N` repeats the whole measurement on a fresh ledger and index and reports the median.

    .venv/bin/python bench/end_to_end_files.py [--workers 2] [--repos 20] [--runs 1] [--elasticsearch-url URL]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pygit2

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
GO_SRC = Path("/usr/local/go/src")
GO_SLICES = ("net", "crypto", "go")
OLD_PIPELINE_FILES_PER_S = 3.0  # DESIGN §10


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


def _files_under(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def corpus_groups(n_repos: int) -> list[tuple[str, dict[str, Path]]]:
    """(repo name, files) groups: the biggest Lib packages alone, everything else of Lib together."""
    entries = [p for p in sorted(STDLIB.iterdir()) if p.name not in {"site-packages", "__pycache__"}]
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
    for name in GO_SLICES:
        if (GO_SRC / name).is_dir():
            groups.append((f"golang/{name}", _files_under(GO_SRC / name)))
    return groups


def build_batch(root: Path, data_dir: Path, batch_id: str, n_repos: int) -> tuple[int, int]:
    from codelupe_dagster.stages.handoff import ClonedRepo, write_cloned_manifest

    repos, files, size = [], 0, 0
    for name, group in corpus_groups(n_repos):
        path = root / name.replace("/", "__")
        head = make_repo(path, group)
        record = {"full_name": name, "clone_url": str(path), "stars": 100, "source": "local"}
        repos.append(ClonedRepo(name, str(path), head, record))
        files += len(group)
        size += sum(p.stat().st_size for p in group.values())
    write_cloned_manifest(data_dir, batch_id, repos)
    return files, size


def _step_seconds(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    """Wall seconds of each step, from Dagster's own STEP_SUCCESS events."""
    return {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 2)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }


def run_backend(
    label: str,
    data_dir: Path,
    batch_id: str,
    workers: int,
    es_url: str | None,
    corpus_bytes: int,
    profile: bool = False,
) -> dict:
    """One measured run. With `profile`, the parent runs under cProfile, which slows its Python work
    (claims, spool, index) several-fold: a profiled run explains where time goes but is never timed."""
    from codelupe_dagster.assets.index import es_code_index
    from codelupe_dagster.assets.score import scored_files
    from codelupe_dagster.resources import PipelineResource, RedisResource, SearchIndexResource

    redis_res = RedisResource(url=None, data_dir=str(data_dir))
    redis_res.get_client().flushdb()  # each backend starts from an empty ledger: same work
    search = SearchIndexResource(
        elasticsearch_url=es_url, data_dir=str(data_dir), code_index_name=f"bench-code-{label}"
    )
    index = search.code_index()
    index.delete()
    pipeline = PipelineResource(data_dir=str(data_dir))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("repo_batches", [batch_id])
    run_config = {"ops": {"scored_files": {"config": {"file_workers": workers}}}}

    profiler = cProfile.Profile()
    started = time.perf_counter()
    if profile:
        profiler.enable()
    result = dg.materialize(
        [scored_files, es_code_index],
        partition_key=batch_id,
        instance=instance,
        resources={"redis": redis_res, "search": search, "pipeline": pipeline},
        run_config=run_config,
    )
    profiler.disable()
    total = time.perf_counter() - started
    assert result.success
    scored = result.asset_materializations_for_node("scored_files")[0].metadata
    indexed = result.asset_materializations_for_node("es_code_index")[0].metadata
    stats = io.StringIO()
    if profile:
        pstats.Stats(profiler, stream=stats).sort_stats("tottime").print_stats(15)
        pstats.Stats(profiler, stream=stats).sort_stats("cumulative").print_stats("codelupe_dagster", 25)
    seen = scored["seen"].value
    return {
        "backend": label,
        "seen": scored["seen"].value,
        "kept": scored["kept"].value,
        "indexed": indexed["indexed"].value,
        "score_s": scored["elapsed_s"].value,
        "score_files_per_s": scored["files_per_s"].value,
        "index_docs_per_s": indexed["docs_per_s"].value,
        "total_s": round(total, 2),
        "steps_s": _step_seconds(result),
        "files_per_s_end_to_end": round(seen / total, 1),
        "mb_per_s_end_to_end": round(corpus_bytes / 1e6 / total, 2),
        "vs_old_pipeline": f"x{seen / total / OLD_PIPELINE_FILES_PER_S:.0f}",
        "checks": {e.check_name: e.passed for e in result.get_asset_check_evaluations()},
        "profile": stats.getvalue(),
    }


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repos", type=int, default=20, help="CPython Lib repositories (plus Go slices)")
    parser.add_argument("--elasticsearch-url", default=None)
    parser.add_argument("--runs", type=int, default=1, help="repeat and report the median")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="codelupe-bench-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        os.environ["DATA_DIR"] = str(data_dir)
        batch_id = "b20260101T000000-bench0"
        t0 = time.perf_counter()
        files, size = build_batch(root / "repos", data_dir, batch_id, args.repos)
        print(
            f"corpus: {files} files, {size / 1e6:.1f} MB in {args.repos + len(GO_SLICES)} repos "
            f"(built in {time.perf_counter() - t0:.1f}s); workers={args.workers}"
        )
        backends = [("sqlite", None)] + (
            [("elasticsearch", args.elasticsearch_url)] if args.elasticsearch_url else []
        )
        try:
            for label, url in backends:
                reports = []
                for _ in range(args.runs):
                    reports.append(run_backend(label, data_dir, batch_id, args.workers, url, size))
                    print(
                        f"run {len(reports)}: {reports[-1]['files_per_s_end_to_end']} files/s, load {_load()}"
                    )
                report = sorted(reports, key=lambda r: r["total_s"])[len(reports) // 2]
                report.pop("profile")
                report["runs_files_per_s"] = [r["files_per_s_end_to_end"] for r in reports]
                report["load_average"] = _load()
                print(json.dumps(report, indent=1))
                profiled = run_backend(label, data_dir, batch_id, args.workers, url, size, profile=True)
                print(
                    f"--- parent process profile ({label}, one extra run under cProfile: "
                    f"{profiled['total_s']} s, not comparable with the timed runs) ---"
                )
                print(profiled["profile"])
        finally:
            from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

            stop_embedded_valkey(data_dir)


if __name__ == "__main__":
    sys.exit(main())
