"""Clone throughput: our pygit2 cloner (REPO_WORKERS threads) vs `git clone --depth 1`, serial and parallel.

N repositories, each a copy of a CPython stdlib package committed into a fresh git repo, are served over
git's smart HTTP protocol on loopback (`git http-backend`), i.e. the same protocol and the same shallow
negotiation as against GitHub, minus the WAN. Each variant clones all N into a fresh directory; repeated,
medians reported, plus the ratio against the git CLI baselines measured in the same process.

    .venv/bin/python bench/clone_throughput.py [--repos 12] [--workers 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codelupe_dagster.assets.clone import clone_batch  # noqa: E402
from codelupe_dagster.backends.git_clone import ClonePolicy, directory_bytes  # noqa: E402
from codelupe_dagster.backends.pygit2_repos import Pygit2Repos  # noqa: E402
from codelupe_dagster.core.models import RepoRecord  # noqa: E402
from tests.support.git_http import start_git_http_server  # noqa: E402

STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
PACKAGES = (
    "email", "asyncio", "unittest", "json", "http", "urllib", "xml", "importlib", "logging",
    "concurrent", "multiprocessing", "sqlite3", "wsgiref", "html", "xmlrpc", "dbm", "curses", "ctypes",
)  # fmt: skip
GIT_ENV = {
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@b",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@b",
}


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, env={"PATH": "/usr/bin:/bin", **GIT_ENV}
    )


def build_served_repos(root: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        package = PACKAGES[i % len(PACKAGES)]
        name = f"bench/{package}-{i}"
        work = root / "work" / name
        shutil.copytree(STDLIB / package, work, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        git("init", "-q", "-b", "main", cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "import", cwd=work)
        git("clone", "-q", "--bare", str(work), str(root / "served" / f"{name}.git"))
        names.append(name)
    return names


def git_cli_clone(url: str, dest: Path) -> None:
    git("clone", "-q", "--bare", "--depth", "1", url, str(dest))


def time_variant(run, out: Path) -> tuple[float, int]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.perf_counter()
    run(out)
    seconds = time.perf_counter() - started
    return seconds, directory_bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=12)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="clone-bench-") as tmp:
        root = Path(tmp)
        names = build_served_repos(root, args.repos)
        server = start_git_http_server(root / "served")
        urls = {name: server.repo_url(f"{name}.git") for name in names}
        records = [RepoRecord(name, clone_url=url) for name, url in urls.items()]
        try:

            def ours(out: Path) -> None:
                policy = ClonePolicy(
                    repos_dir=out,
                    allowed_hosts=frozenset({"127.0.0.1"}),
                    allowed_schemes=frozenset({"http"}),  # the loopback git server is plain http
                )
                results = clone_batch(records, Pygit2Repos(policy), args.workers)
                failed = [o for _, o in results if not o.ok]
                assert not failed, failed[:2]

            def cli_sequential(out: Path) -> None:
                for name, url in urls.items():
                    git_cli_clone(url, out / name)

            def cli_parallel(out: Path) -> None:
                with ThreadPoolExecutor(args.workers) as pool:
                    list(pool.map(lambda item: git_cli_clone(item[1], out / item[0]), urls.items()))

            variants = {
                f"pygit2 cloner, {args.workers} workers": ours,
                "git clone --depth 1, sequential": cli_sequential,
                f"git clone --depth 1, {args.workers} parallel": cli_parallel,
            }
            timings: dict[str, list[float]] = {label: [] for label in variants}
            sizes: dict[str, int] = {}
            for _ in range(args.repeats):
                for label, run in variants.items():  # interleaved so drift hits every variant alike
                    seconds, size = time_variant(run, root / "out")
                    timings[label].append(seconds)
                    sizes[label] = size
        finally:
            server.stop()

    print(f"{args.repos} repos over smart HTTP on loopback, median of {args.repeats}")
    print(f"{'variant':40} {'s':>7} {'repos/s':>8} {'MB/s':>7} {'MB on disk':>10}")
    medians = {label: statistics.median(values) for label, values in timings.items()}
    for label, seconds in medians.items():
        mb = sizes[label] / 1e6
        print(f"{label:40} {seconds:7.3f} {args.repos / seconds:8.2f} {mb / seconds:7.2f} {mb:10.2f}")
    ours_s = medians[next(iter(variants))]
    for label in list(variants)[1:]:
        print(f"speed-up of our cloner vs {label}: {medians[label] / ours_s:.2f}x")


if __name__ == "__main__":
    main()
