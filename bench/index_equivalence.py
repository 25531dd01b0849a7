"""The index the pipeline writes at a base revision and with the working tree, compared (issue 12).

Speed work must not change outputs. This bench builds one corpus of ~`--files` files found at run time
(all of CPython's `Lib`, the global node modules from `npm root -g`, Go's `src` and `test` from
`go env GOROOT`; `end_to_end_files.large_corpus_groups`) into local git repositories, then runs
`scored_files` + `es_code_index` twice, each in a subprocess of the project's interpreter with the code to
test first on PYTHONPATH:
- `--base` (default 4d5b659, main before the speed work) checked out with `git worktree` in a temp dir;
- the working tree (what is on disk now, committed or not).
Each side has its own DATA_DIR (embedded Valkey, SQLite index), and writes its index to a JSONL dump with
its own `iter_documents`, so a change of storage layout cannot break the comparison. With
`--elasticsearch-url` each side also runs on Elasticsearch (one index per side) and that dump is compared
too.

Compared per backend: the same ids; for each id the same fields and the same values, floats (the score,
the quality signals) within 1e-6, except `indexed_at`, the clock's. Prints the number of differences per
field and the first few, and exits 1 on any (2 when a corpus source is missing). Also prints each side's
files/s (same machine, same command; the runs are sequential, so load changes between them show).

    .venv/bin/python bench/index_equivalence.py [--base 4d5b659] [--files 20000] [--workers 2]
        [--elasticsearch-url URL] [--show 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BATCH_ID = "b20260101T000000-equiv"
TOLERANCE = 1e-6
IGNORED_FIELDS = frozenset({"indexed_at"})  # set from the clock when first indexed


# --------------------------------------------------------------------------- one side (subprocess)


def run_side(code_root: Path, data_dir: Path, repos_file: Path, workers: int, backends: list[str]) -> None:
    """Run the pipeline with the code under `code_root` (first on PYTHONPATH) and dump each index."""
    import end_to_end_files as e2e

    import codelupe_dagster

    loaded = Path(codelupe_dagster.__file__).resolve()
    if not loaded.is_relative_to(code_root.resolve()):
        sys.exit(f"expected codelupe_dagster from {code_root}, got {loaded}")
    from codelupe_dagster.stages.handoff import ClonedRepo, write_cloned_manifest

    repos = json.loads(repos_file.read_text())
    manifest = [
        ClonedRepo(
            r["name"],
            r["path"],
            r["head"],
            {"full_name": r["name"], "clone_url": r["path"], "stars": 100, "source": "local"},
        )
        for r in repos
    ]
    write_cloned_manifest(data_dir, BATCH_ID, manifest)
    size = e2e.CorpusSize(**json.loads((repos_file.parent / "size.json").read_text()))
    side = data_dir.name
    try:
        for backend in backends:
            url = None if backend == "sqlite" else backend
            label = f"equiv-{side}"
            e2e.reset_stores(label, data_dir, url)
            report = e2e.run_batch(label, data_dir, BATCH_ID, workers, url, size)
            report.pop("profile")
            name = "sqlite" if url is None else "elasticsearch"
            count = dump_index(
                e2e._resources(label, data_dir, url)["search"].code_index(), data_dir / f"{name}.jsonl"
            )
            report["dumped"] = count
            print(json.dumps({**report, "backend": name}), flush=True)
            if url is not None:
                e2e._resources(label, data_dir, url)["search"].code_index().delete()
    finally:
        from codelupe_dagster.backends.embedded_valkey import stop_embedded_valkey

        stop_embedded_valkey(data_dir)


def dump_index(index: Any, path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for doc in index.iter_documents():
            out.write(json.dumps(doc, sort_keys=True, default=str) + "\n")
            count += 1
    return count


# --------------------------------------------------------------------------- comparison


def read_dump(path: Path) -> dict[str, dict[str, Any]]:
    docs = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            docs[doc["id"]] = doc
    return docs


def value_differs(a: Any, b: Any) -> bool:
    """Equal, with floats (also inside mappings and lists) within TOLERANCE."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is not b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return not math.isclose(a, b, rel_tol=0.0, abs_tol=TOLERANCE)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() != b.keys() or any(value_differs(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) != len(b) or any(value_differs(x, y) for x, y in zip(a, b, strict=True))
    return a != b


def differences(
    base: dict[str, dict[str, Any]], work: dict[str, dict[str, Any]]
) -> Iterator[tuple[str, str, Any, Any]]:
    """(id, what, base value, working-tree value) for every id or field that differs."""
    for doc_id in sorted(base.keys() - work.keys()):
        yield doc_id, "<id only at base>", base[doc_id].get("path"), None
    for doc_id in sorted(work.keys() - base.keys()):
        yield doc_id, "<id only in working tree>", None, work[doc_id].get("path")
    for doc_id in sorted(base.keys() & work.keys()):
        a, b = base[doc_id], work[doc_id]
        for field in sorted((a.keys() | b.keys()) - IGNORED_FIELDS):
            if field not in a or field not in b:
                yield (
                    doc_id,
                    f"{field} <field missing at {'base' if field not in a else 'working tree'}>",
                    a.get(field),
                    b.get(field),
                )
            elif value_differs(a[field], b[field]):
                yield doc_id, field, a[field], b[field]


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def compare(backend: str, base_dump: Path, work_dump: Path, show: int) -> tuple[int, list[str]]:
    base, work = read_dump(base_dump), read_dump(work_dump)
    found = list(differences(base, work))
    per_field = Counter(what for _, what, _, _ in found)
    lines = [
        f"{backend}: {len(base)} documents at base, {len(work)} in the working tree, "
        f"{len(base.keys() & work.keys())} common ids, {len(found)} differences"
        + (f" ({dict(per_field.most_common())})" if found else "")
    ]
    for doc_id, what, a, b in found[:show]:
        lines.append(f"  {doc_id} {what}: base {_short(a)} | working tree {_short(b)}")
    return len(found), lines


# --------------------------------------------------------------------------- driver


def build_corpus(root: Path, files: int) -> tuple[Path, str]:
    """The repositories, their list for the sides, and the corpus's description."""
    import end_to_end_files as e2e

    groups = e2e.large_corpus_groups(20, limit=files)
    repos = []
    for name, group in groups:
        path = root / "repos" / name.replace("/", "__")
        repos.append({"name": name, "path": str(path), "head": e2e.make_repo(path, group)})
    size = e2e.measure(groups)
    repos_file = root / "repos.json"
    repos_file.write_text(json.dumps(repos))
    (root / "size.json").write_text(json.dumps(size.__dict__))
    return repos_file, size.describe()


def side_process(
    code_root: Path, data_dir: Path, repos_file: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    data_dir.mkdir()
    backends = ["sqlite"] + ([args.elasticsearch_url] if args.elasticsearch_url else [])
    env = {**os.environ, "PYTHONPATH": str(code_root), "DATA_DIR": str(data_dir)}
    command = [
        sys.executable,
        __file__,
        "--side",
        str(code_root),
        str(data_dir),
        str(repos_file),
        str(args.workers),
        *backends,
    ]
    # cwd: the scoring pool's forkserver starts with the working directory first on its sys.path (CPython
    # 3.11-3.13 ignore the parent's sys.path there), so from this repository's root a base side's workers
    # would import this tree's package instead of `code_root`'s.
    out = subprocess.run(command, env=env, cwd=code_root, stdout=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"the pipeline failed with the code at {code_root} (exit {out.returncode})")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def checkout(rev: str, where: Path) -> None:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(where), rev], check=True
    )


def remove_checkout(where: Path) -> None:
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)], check=False)
    subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)


def run_line(label: str, report: dict[str, Any]) -> str:
    return (
        f"{label} ({report['backend']}): {report['files_per_s_end_to_end']} files/s, seen {report['seen']}, "
        f"kept {report['kept']}, exact {report['exact_duplicates']}, near {report['near_duplicates']}, "
        f"indexed {report['indexed']}, dumped {report['dumped']}, {report['total_s']} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--base", default="4d5b659")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--elasticsearch-url", default=None)
    parser.add_argument("--show", type=int, default=5, help="differences printed per backend")
    args = parser.parse_args()
    if args.side:
        code_root, data_dir, repos_file, workers, *backends = args.side
        run_side(Path(code_root), Path(data_dir), Path(repos_file), int(workers), backends)
        return 0
    import end_to_end_files as e2e

    base_rev = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", args.base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="codelupe-equiv-") as tmp:
        root = Path(tmp)
        try:
            repos_file, described = build_corpus(root, args.files)
        except e2e.CorpusMissing as exc:
            print(f"index_equivalence: {exc}", file=sys.stderr)
            return 2
        checkout(base_rev, root / "base-code")
        try:
            base_runs = side_process(root / "base-code", root / "base", repos_file, args)
        finally:
            remove_checkout(root / "base-code")
        work_runs = side_process(REPO, root / "work", repos_file, args)
        total, details = 0, []
        for base_run, work_run in zip(base_runs, work_runs, strict=True):
            backend = base_run["backend"]
            count, lines = compare(
                backend, root / "base" / f"{backend}.jsonl", root / "work" / f"{backend}.jsonl", args.show
            )
            total += count
            details += [
                *lines,
                run_line(f"  base {base_rev}", base_run),
                run_line("  working tree", work_run),
            ]
        verdict = "identical" if total == 0 else f"{total} DIFFERENCES"
        print(
            f"index at {base_rev} vs working tree: {verdict} on {', '.join(r['backend'] for r in base_runs)} "
            f"(same ids, same fields, floats within {TOLERANCE:g}; indexed_at ignored); "
            f"load {e2e.load_average()}"
        )
        print("\n".join(details))
        print(f"corpus: {described}; {args.workers} workers")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
