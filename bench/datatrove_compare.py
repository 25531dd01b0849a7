"""Our pipeline side by side with datatrove on the same text files, in one command (issue 12).

Corpus: `end_to_end_files.py`'s (CPython's `Lib` and Go slices found at run time, or `--corpus large`),
keeping the files that decode as UTF-8 text (`core.filters.decode_text`): datatrove reads text documents,
so both sides get exactly those files. datatrove reads them from JSONL shards written before timing; we
read them from local git repositories built before timing.

Each run times, on both sides with `--workers` processes (2 by default):
- datatrove's read -> filter -> write: `JsonlReader` -> `FineWebQualityFilter()` -> `JsonlWriter` (gzip,
  its default), thresholds at datatrove's defaults, tasks = workers. Of datatrove's filters that need no
  model, URL or HTML, FineWeb's is the one whose rules are all per line (short lines, characters in
  duplicated lines, newlines per word, line-ending punctuation), the shape of code, and it is the cheapest,
  so it is the strictest baseline for us. `--filters` takes a comma list of fineweb, c4, repetition
  (Gopher's), quality (Gopher's): Gopher's two were written for prose and cost far more on code (measured
  here on Lib + Go: the repetition filter spent 1,912 CPU-seconds on 3,945 files, ~0.5 s a file, on its
  n-gram counts; the quality filter then dropped 99.8% of what was left), which would make any ratio
  against them meaningless.
- datatrove's 4-stage MinHash dedup at `MinhashConfig()`'s defaults (5-grams, 14 buckets x 8 hashes,
  spaCy's English word tokenizer): signatures (tasks = workers), buckets (tasks = 14, datatrove requires
  one task per bucket or a multiple; run on `--workers` processes), clustering (1 task, required), and
  filter -> `JsonlWriter` (tasks = workers).
- ours: `scored_files` + `es_code_index` on SQLite through Dagster (`end_to_end_files.run_backend`):
  filters, language, quality score, secret and PII redaction, exact and near dedup in Redis, index.
The runs alternate (datatrove, ours, datatrove, ours, ...) so that a change in the shared machine's load
hits both; medians are reported. Prints the summary (our files/s as a multiple of each) first, then the
details (each stage's seconds, datatrove's per-step seconds and drops).

datatrove runs in its own virtual environment, never the project's, through a subprocess with its own
interpreter. The script creates it on first use (`--setup` only creates it), the same as:

    python3 -m venv bench/.venv-datatrove && bench/.venv-datatrove/bin/pip install \\
        "datatrove[processing]==0.10.1" spacy==3.8.18 orjson==3.13.0

The folder holds a `.gitignore` of `*`, so git never sees it.

    .venv/bin/python bench/datatrove_compare.py [--runs 3] [--workers 2] [--corpus issue|large]
        [--filters fineweb] [--datatrove-venv bench/.venv-datatrove] [--setup]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
DEFAULT_VENV = BENCH / ".venv-datatrove"
# The `processing` extra: `datatrove.pipeline.dedup` imports tokenizers, regex and xxhash; spaCy is the
# word tokenizer of the Gopher filters and of MinHash's shingles.
REQUIREMENTS = ("datatrove[processing]==0.10.1", "spacy==3.8.18", "orjson==3.13.0")
DATATROVE_TIMEOUT_S = 600  # one run takes about 35 s here; a hung pool must not hold the bench for ever
SHARDS_PER_WORKER = 1  # JSONL input files per task: datatrove gives each task whole files


# --------------------------------------------------------------------------- datatrove's side
# Runs under the datatrove environment's interpreter: imports nothing from the project.


def _filters(names: list[str]) -> list[Any]:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    table = {
        "fineweb": FineWebQualityFilter,
        "c4": C4QualityFilter,
        "repetition": GopherRepetitionFilter,
        "quality": GopherQualityFilter,
    }
    return [table[name]() for name in names]


def _step_table(stats: Any) -> list[dict[str, Any]]:
    """Each step's seconds (summed over tasks) and its counters, from datatrove's own stats."""
    steps = []
    for step in json.loads(stats.to_json()):
        name = step["name"].encode("ascii", "ignore").decode().replace(" - ", "").strip()
        seconds = step.get("time_stats", 0)
        row: dict[str, Any] = {"step": " ".join(name.split()), "s": round(_total(seconds), 2)}
        row.update({key: _total(value) for key, value in step.get("stats", {}).items()})
        steps.append(row)
    return steps


def _total(value: Any) -> Any:
    """datatrove writes a metric as its total alone, or as a dict with a total."""
    return value.get("total") if isinstance(value, dict) else value


def _timed(executor: Any) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    stats = executor.run()
    return time.perf_counter() - started, _step_table(stats) if stats is not None else []


def datatrove_side(input_dir: Path, work: Path, workers: int, filter_names: list[str]) -> dict[str, Any]:
    """One timed read -> filter -> write and one timed 4-stage MinHash dedup, in a fresh folder (datatrove
    skips tasks its logging folder records as done, so a reused folder would time nothing)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    def executor(name: str, pipeline: list[Any], tasks: int) -> LocalPipelineExecutor:
        return LocalPipelineExecutor(
            pipeline=pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=str(work / "logs" / name)
        )

    reader = str(input_dir)
    filter_s, filter_steps = _timed(
        executor(
            "filter",
            [JsonlReader(reader), *_filters(filter_names), JsonlWriter(str(work / "filtered"))],
            workers,
        )
    )
    config = MinhashConfig()
    sigs, buckets, remove = (str(work / name) for name in ("signatures", "buckets", "remove_ids"))
    stages = {
        "1_signatures": executor(
            "sig", [JsonlReader(reader), MinhashDedupSignature(output_folder=sigs, config=config)], workers
        ),
        "2_buckets": executor(
            "buckets",
            [MinhashDedupBuckets(input_folder=sigs, output_folder=buckets, config=config)],
            config.num_buckets,
        ),
        "3_cluster": executor(
            "cluster", [MinhashDedupCluster(input_folder=buckets, output_folder=remove, config=config)], 1
        ),
        "4_filter": executor(
            "dedup",
            [
                JsonlReader(reader),
                MinhashDedupFilter(input_folder=remove),
                JsonlWriter(str(work / "deduplicated")),
            ],
            workers,
        ),
    }
    minhash: dict[str, float] = {}
    minhash_steps: dict[str, list[dict[str, Any]]] = {}
    for name, stage in stages.items():
        minhash[name], minhash_steps[name] = _timed(stage)
    return {
        "filter_s": round(filter_s, 2),
        "filter_steps": filter_steps,
        "minhash_s": round(sum(minhash.values()), 2),
        "minhash_stages_s": {k: round(v, 2) for k, v in minhash.items()},
        "minhash_steps": minhash_steps,
    }


# --------------------------------------------------------------------------- the project's side


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_datatrove_venv(venv: Path) -> Path:
    """The datatrove environment's interpreter, creating the environment first if it is missing."""
    python = venv_python(venv)
    if python.exists():
        return python
    print(f"creating {venv} with {' '.join(REQUIREMENTS)} ...", file=sys.stderr, flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def write_shards(groups: list[tuple[str, dict[str, Path]]], folder: Path, shards: int) -> int:
    """The text files as JSONL documents (id = repo/path), dealt round-robin over `shards` files."""
    from codelupe_dagster.core.filters import decode_text

    folder.mkdir(parents=True)
    outs = [(folder / f"{k:05d}.jsonl").open("w", encoding="utf-8") for k in range(shards)]
    count = 0
    try:
        for repo, files in groups:
            for rel, path in files.items():
                text = decode_text(path.read_bytes())
                assert text is not None, path  # the groups are text only
                outs[count % shards].write(json.dumps({"id": f"{repo}/{rel}", "text": text}) + "\n")
                count += 1
    finally:
        for out in outs:
            out.close()
    return count


def run_datatrove(
    python: Path, input_dir: Path, work: Path, workers: int, filters: list[str], log: Path
) -> dict[str, Any]:
    """One datatrove run in a subprocess with datatrove's interpreter; its own log goes to `log`."""
    command = [
        str(python),
        __file__,
        "--datatrove-side",
        str(input_dir),
        str(work),
        str(workers),
        ",".join(filters),
    ]
    with log.open("a") as stderr:
        # Its own session: on a timeout its whole process group (datatrove's pool workers too) is killed.
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True
        )
        try:
            stdout, _ = child.communicate(timeout=DATATROVE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            sys.exit(
                f"datatrove did not finish one run within {DATATROVE_TIMEOUT_S} s (seen once: its pool hung "
                f"after a run, every process idle); killed. Its log: {log}\n{log.read_text()[-3000:]}"
            )
    if child.returncode != 0:
        sys.exit(f"datatrove failed (exit {child.returncode}); its log: {log}\n{log.read_text()[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def report(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]], docs: int, workers: int, filters: list[str]
) -> list[str]:
    from end_to_end_files import load_average

    ours_fps = statistics.median(r["files_per_s_end_to_end"] for r in ours)
    filter_fps = docs / statistics.median(r["filter_s"] for r in theirs)
    minhash_fps = docs / statistics.median(r["minhash_s"] for r in theirs)
    lines = [
        f"ours {ours_fps:.0f} files/s = {ours_fps / filter_fps:.2f}x datatrove's read->filter->write "
        f"({filter_fps:.0f} files/s; {' + '.join(filters)}) and {ours_fps / minhash_fps:.1f}x its "
        f"4-stage MinHash dedup ({minhash_fps:.0f} files/s); {docs} text files, {workers} workers, "
        f"median of {len(ours)} runs, load {load_average()}",
        "targets (issue 12): >= 1.0x filter-only, >= 15x MinHash",
        "per run (files/s): ours "
        + ", ".join(str(r["files_per_s_end_to_end"]) for r in ours)
        + "; datatrove filter "
        + ", ".join(f"{docs / r['filter_s']:.0f}" for r in theirs)
        + "; datatrove MinHash "
        + ", ".join(f"{docs / r['minhash_s']:.0f}" for r in theirs),
    ]
    for r in ours:
        lines.append(
            f"ours: total {r['total_s']} s, steps {r['steps_s']}, kept {r['kept']}, "
            f"exact {r['exact_duplicates']}, near {r['near_duplicates']}, indexed {r['indexed']}"
        )
    for r in theirs:
        lines.append(
            f"datatrove: filter {r['filter_s']} s, MinHash {r['minhash_s']} s {r['minhash_stages_s']}"
        )
    lines.append(
        "datatrove per-step (last run; seconds summed over tasks): " + json.dumps(theirs[-1]["filter_steps"])
    )
    for stage, steps in theirs[-1]["minhash_steps"].items():
        lines.append(f"  {stage}: {json.dumps(steps)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datatrove-side", nargs=4, metavar=("INPUT", "WORK", "WORKERS", "FILTERS"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", choices=("issue", "large"), default="issue")
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--filters", default="fineweb", help="comma list: fineweb, c4, repetition, quality")
    parser.add_argument("--datatrove-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--setup", action="store_true", help="only create the datatrove environment")
    args = parser.parse_args()
    if args.datatrove_side:
        input_dir, work, workers, filters = args.datatrove_side
        result = datatrove_side(Path(input_dir), Path(work), int(workers), filters.split(","))
        print(json.dumps(result))
        return 0
    python = ensure_datatrove_venv(args.datatrove_venv)
    if args.setup:
        return 0
    return compare(args, python)


def compare(args: argparse.Namespace, python: Path) -> int:
    import end_to_end_files as e2e

    filters = args.filters.split(",")
    try:
        groups = e2e.text_only(e2e.select_groups(args))
    except e2e.CorpusMissing as exc:
        print(f"datatrove_compare: {exc}", file=sys.stderr)
        return 2
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="codelupe-datatrove-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        os.environ["DATA_DIR"] = str(data_dir)
        docs = write_shards(groups, root / "jsonl", args.workers * SHARDS_PER_WORKER)
        size = e2e.build_batch(root / "repos", data_dir, "b20260101T000000-bench0", groups)
        e2e.progress(f"corpus: {size.describe()}; datatrove input: {docs} documents in {args.workers} shards")
        log = root / "datatrove.log"
        try:
            for run in range(args.runs):
                theirs.append(
                    run_datatrove(python, root / "jsonl", root / f"dt{run}", args.workers, filters, log)
                )
                ours.append(
                    e2e.run_backend("sqlite", data_dir, "b20260101T000000-bench0", args.workers, None, size)
                )
                ours[-1].pop("profile")
                e2e.progress(
                    f"run {run + 1}: ours {ours[-1]['files_per_s_end_to_end']} files/s, datatrove filter "
                    f"{theirs[-1]['filter_s']} s, MinHash {theirs[-1]['minhash_s']} s, "
                    f"load {e2e.load_average()}"
                )
        finally:
            from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

            stop_embedded_valkey(data_dir)
        print("\n".join(report(ours, theirs, docs, args.workers, filters)))
        print(f"corpus ({args.corpus}, text files only): {size.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
