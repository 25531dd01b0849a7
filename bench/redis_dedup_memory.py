"""Redis memory per indexed file for the dedup state (exact ledger, per-repository claim sets, LSH buckets).

Claims N synthetic files (random 16-byte digests, random 8-byte band keys, the shapes the core produces)
from repositories of `--repo-files` files each, through the real ExactDeduplicator (with each
repository's claim generation recorded in the same round trip, as scoring does) and NearDeduplicator, and
reports `used_memory` growth per file, split into the exact ledger, the claim sets and the LSH buckets
(`MEMORY USAGE` per key), on the embedded Valkey and on redis-server when it is installed.

    .venv/bin/python bench/redis_dedup_memory.py [--files 50000] [--bands 18] [--repo-files 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis

from codelupe_dagster.backends.dedup_ledger import ExactDeduplicator, NearDeduplicator
from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
from codelupe_dagster.core.keys import RedisKeys


def measure(client: redis.Redis, files: int, bands: int, repo_files: int, label: str) -> None:
    client.flushdb()
    keys = RedisKeys("pipeline:")
    exact, near = ExactDeduplicator(client, keys), NearDeduplicator(client, keys)
    before = client.info("memory")["used_memory"]
    started = time.perf_counter()
    repos: list[str] = []
    for start in range(0, files, repo_files):
        repo = f"owner{start // repo_files}/project-{start // repo_files}"  # a typical owner/name length
        repos.append(repo)
        digests = [os.urandom(16) for _ in range(min(repo_files, files - start))]
        exact.claim_groups([(repo, digests)], record={keys.repo_claims(repo): digests})
        near.claim_many([(d, [os.urandom(8) for _ in range(bands)]) for d in digests])
    elapsed = time.perf_counter() - started
    used = client.info("memory")["used_memory"] - before
    ledger = client.memory_usage(keys.processed_files, samples=0) or 0
    claims = sum(client.memory_usage(keys.repo_claims(repo), samples=0) or 0 for repo in repos)
    lsh = sum(client.memory_usage(keys.lsh(b), samples=0) or 0 for b in range(bands))
    print(
        f"{label:<13} {files:,} files x {bands} bands, {repo_files} files/repo: used_memory "
        f"+{used / files:,.0f} B/file (exact ledger {ledger / files:,.0f}, claim sets {claims / files:,.0f}, "
        f"LSH {lsh / files:,.0f} B/file = {lsh / files / bands:,.1f} B/bucket); "
        f"claims at {files / elapsed:,.0f} files/s"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--bands", type=int, default=18, help="LSH bands (the default LSHParams: 18)")
    parser.add_argument("--repo-files", type=int, default=100, help="files per repository")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codelupe-redis-mem-") as tmp:
        url = ensure_embedded_valkey(tmp)
        try:
            measure(redis.Redis.from_url(url), args.files, args.bands, args.repo_files, "valkey")
        finally:
            stop_embedded_valkey(tmp)
        binary = shutil.which("redis-server")
        if binary:
            port = _free_port()
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", tmp],
                stdout=subprocess.DEVNULL,
            )
            try:
                client = redis.Redis(port=port)
                for _ in range(100):
                    try:
                        client.ping()
                        break
                    except redis.ConnectionError:
                        time.sleep(0.05)
                version = client.info("server")["redis_version"]
                measure(client, args.files, args.bands, args.repo_files, f"redis {version}")
            finally:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    main()
