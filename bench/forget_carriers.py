"""What forgetting costs the scoring path: Redis memory per recorded carrier, and the time of the two
round trips scoring now makes per claim chunk (reading the forget rules, recording carriers).

Records N duplicated digests with 1 and with 4 carriers each (typical `owner/project-N` names) through the
real `CarrierLedger`, and reports `MEMORY USAGE` of `keys.carriers` per duplicated digest; then times
`forget_rules()` (empty registry, and 100 prefixes + 10 globs) and `record_carriers` for a 512-file chunk
(CLAIM_FILES) of which a tenth are duplicates, as medians of repeats, on the embedded Valkey.

    .venv/bin/python bench/forget_carriers.py [--digests 100000] [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import redis

from codelupe_dagster.backends.dedup_ledger import RedisDedupLedger
from codelupe_dagster.backends.embedded_valkey import ensure_embedded_valkey, stop_embedded_valkey
from codelupe_dagster.backends.forget_registry import RedisForgetRegistry, parse_pattern
from codelupe_dagster.core.keys import RedisKeys

KEYS = RedisKeys("pipeline:")


def memory_per_digest(client: redis.Redis, digests: int, carriers: int) -> float:
    client.flushdb()
    ledger = RedisDedupLedger(client, KEYS)
    pairs = [(os.urandom(16), f"owner{i}/project-{i}") for i in range(digests)]
    for extra in range(carriers):
        ledger.record_carriers([(d, f"{name}-{extra}" if extra else name) for d, name in pairs])
    return (client.memory_usage(KEYS.carriers, samples=0) or 0) / digests


def median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="bench-forget-")
    client = redis.Redis.from_url(ensure_embedded_valkey(data_dir))
    try:
        for carriers in (1, 4):
            per = memory_per_digest(client, args.digests, carriers)
            print(
                f"carriers: {args.digests:,} duplicated digests x {carriers} carrier(s): {per:,.1f} B/digest"
            )
        client.flushdb()
        ledger = RedisDedupLedger(client, KEYS)
        chunk = [(os.urandom(16), f"owner{i}/project-{i}") for i in range(512 // 10)]
        empty = median_ms(ledger.forget_rules, args.repeats)
        registry = RedisForgetRegistry(client, KEYS)
        for i in range(100):
            registry.register(parse_pattern(f"owner{i}"), reason="", source="cli")
        for i in range(10):
            registry.register(parse_pattern(f"*/secret{i}/*"), reason="", source="cli")
        full = median_ms(ledger.forget_rules, args.repeats)
        record = median_ms(lambda: ledger.record_carriers(chunk), args.repeats)
        print(
            f"per 512-file claim chunk (median of {args.repeats}): forget_rules {empty:.3f} ms empty, "
            f"{full:.3f} ms with 110 rules; record_carriers of 51 duplicates {record:.3f} ms"
        )
    finally:
        client.close()
        stop_embedded_valkey(data_dir)


if __name__ == "__main__":
    main()
