"""Redis memory per indexed file for the dedup state (exact ledger, per-repository claim sets, LSH buckets).

Claims N synthetic files (random 16-byte digests, random 8-byte band keys, the shapes the core produces)
from repositories of `--repo-files` files each, the way scoring does: the exact claims of a repository's
chunk with its claim generation recorded in the same round trip, then the near claims of its files
(`claim_for_repos`). Reports `used_memory` growth per file, split into the exact ledger, the claim sets
and the LSH buckets (`MEMORY USAGE` of every key), and the claim rate, for:

- `layout1`: the writer as it was at commit 3c62f5f (one hash per band, names as claimants, sets), loaded
  from git as the baseline of the same run;
- `layout2@N`: today's writer with the ledger shape recorded for an expected corpus of N files (default
  N = --files: the design point; `--expected` adds others, to show memory below and above that size).

Each on the embedded Valkey (our server config) and on redis-server at its defaults when installed.

    .venv/bin/python bench/redis_dedup_memory.py [--files 100000] [--bands 18] [--repo-files 100]
        [--expected 100000,10000000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modules_at import load_module, source_at

from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
from codelupe_dagster.backends.redis_dedup import (
    ExactDeduplicator,
    LedgerShape,
    NearDeduplicator,
    open_shape,
)
from codelupe_dagster.core.keys import RedisKeys

BASELINE_COMMIT = "3c62f5f"
KEYS = RedisKeys("pipeline:")


@dataclass
class Result:
    label: str
    server: str
    per_file: float
    exact: float
    claims: float
    lsh: float
    rate: float
    listpack_share: float


def _writers(variant: str, client: redis.Redis) -> tuple[Any, Any]:
    if variant == "layout1":
        old = load_module(
            "redis_dedup_layout1", source_at(BASELINE_COMMIT, "codelupe_dagster/backends/redis_dedup.py")
        )
        return old.ExactDeduplicator(client, KEYS), old.NearDeduplicator(client, KEYS)
    expected = int(variant.split("@", 1)[1])
    shape = open_shape(client, KEYS, expected)
    assert shape == LedgerShape.for_files(expected)
    return ExactDeduplicator(client, KEYS, shape=shape), NearDeduplicator(client, KEYS, shape=shape)


def _usage(client: redis.Redis, match: str) -> tuple[int, int, int]:
    """Bytes of MEMORY USAGE over the keys matching `match`, how many keys, how many are listpacks."""
    names = list(client.scan_iter(match=match, count=10_000))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
        pipe.object("encoding", name)
    replies = pipe.execute()
    total = sum(int(n or 0) for n in replies[0::2])
    listpacks = sum(1 for e in replies[1::2] if e in (b"listpack", b"ziplist"))
    return total, len(names), listpacks


def measure(
    client: redis.Redis, variant: str, files: int, bands: int, repo_files: int, server: str
) -> Result:
    client.execute_command("FLUSHDB", "SYNC")  # Valkey frees lazily by default, skewing used_memory
    time.sleep(0.5)
    exact, near = _writers(variant, client)
    before = client.info("memory")["used_memory"]
    started = time.perf_counter()
    for start in range(0, files, repo_files):
        repo = f"owner{start // repo_files}/project-{start // repo_files}"  # a typical owner/name length
        digests = [os.urandom(16) for _ in range(min(repo_files, files - start))]
        exact.claim_groups([(repo, digests)], record={KEYS.repo_claims(repo): digests})
        near.claim_for_repos(
            [(d, [os.urandom(8) for _ in range(bands)]) for d in digests], [repo] * len(digests)
        )
    elapsed = time.perf_counter() - started
    used = client.info("memory")["used_memory"] - before
    if variant == "layout1":
        ex = (client.memory_usage(KEYS.processed_files, samples=0) or 0, 1, 0)
        lsh_parts = [(client.memory_usage(KEYS.lsh(b), samples=0) or 0, 1, 0) for b in range(bands)]
    else:
        ex = _usage(client, KEYS.exact_shard_base.replace("{", "\\{").replace("}", "\\}") + "*")
        lsh_parts = [
            _usage(client, KEYS.lsh_shard_base(b).replace("{", "\\{").replace("}", "\\}") + "*")
            for b in range(bands)
        ]
    claims = _usage(client, KEYS.repo_claims("") + "*")
    lsh = sum(p[0] for p in lsh_parts)
    shards = sum(p[1] for p in lsh_parts) + ex[1]
    listpacks = sum(p[2] for p in lsh_parts) + ex[2]
    return Result(
        variant,
        server,
        used / files,
        ex[0] / files,
        claims[0] / files,
        lsh / files,
        files / elapsed,
        listpacks / shards if variant != "layout1" else 0.0,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def servers(tmp: str) -> Iterator[tuple[str, redis.Redis]]:
    """The embedded Valkey (as the product starts it), then redis-server at its defaults if installed."""
    url = ensure_embedded_valkey(tmp)
    try:
        client = redis.Redis.from_url(url)
        info = client.info("server")
        yield f"valkey {info.get('valkey_version', info['redis_version'])}", client
    finally:
        stop_embedded_valkey(tmp)
    binary = shutil.which("redis-server")
    if not binary:
        return
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
        yield f"redis {client.info('server')['redis_version']}", client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--bands", type=int, default=18, help="LSH bands (the default LSHParams: 18)")
    parser.add_argument("--repo-files", type=int, default=100, help="files per repository")
    parser.add_argument(
        "--expected", default="", help="comma-separated expected corpus sizes to record besides --files"
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant (medians are printed)")
    parser.add_argument("--no-baseline", action="store_true", help="skip layout 1")
    args = parser.parse_args()
    sizes = [args.files, *(int(s) for s in args.expected.split(",") if s)]
    variants = ([] if args.no_baseline else ["layout1"]) + [f"layout2@{n}" for n in sizes]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="codelupe-redis-mem-") as tmp:
        for server, client in servers(tmp):
            for _ in range(args.repeats):
                for variant in variants:
                    results.append(measure(client, variant, args.files, args.bands, args.repo_files, server))
                    _print(results[-1], args)
    print(
        f"\nmedians of {args.repeats} ({args.files:,} files x {args.bands} bands, "
        f"{args.repo_files} files/repo):"
    )
    for server in dict.fromkeys(r.server for r in results):
        base = _median(results, server, "layout1", lambda r: r.per_file)
        base_rate = _median(results, server, "layout1", lambda r: r.rate)
        for variant in variants:
            per_file = _median(results, server, variant, lambda r: r.per_file)
            rate = _median(results, server, variant, lambda r: r.rate)
            ratio = f" = {per_file / base:.2f}x layout1, claims {rate / base_rate:.2f}x" if base else ""
            print(f"  {server:<14} {variant:<18} {per_file:7,.0f} B/file  {rate:7,.0f} files/s{ratio}")


def _median(results: list[Result], server: str, variant: str, value: Callable[[Result], float]) -> float:
    found = [value(r) for r in results if r.server == server and r.label == variant]
    return statistics.median(found) if found else 0.0


def _print(r: Result, args: argparse.Namespace) -> None:
    share = f", {r.listpack_share:.0%} of shards listpacks" if r.label != "layout1" else ""
    print(
        f"{r.server:<14} {r.label:<18} used_memory +{r.per_file:,.0f} B/file (exact ledger {r.exact:,.0f}, "
        f"claim sets {r.claims:,.0f}, LSH {r.lsh:,.0f} B/file = {r.lsh / args.bands:,.1f} B/bucket{share}); "
        f"claims at {r.rate:,.0f} files/s",
        flush=True,
    )


if __name__ == "__main__":
    main()
