"""`CorpusStats` on real servers (the embedded Valkey and a Debian redis-server, flushed): a batch's counts
are kept once, a re-run overwrites them, and the totals are the sum over batches."""

from __future__ import annotations

import redis

from codelupe_dagster.backends.corpus_stats import CorpusStats, corpus_stats_key
from codelupe_dagster.core.keys import RedisKeys
from codelupe_dagster.stages.score_batch import BatchCounts


def counts(seen: int, kept: int, **dropped: int) -> dict:
    batch = BatchCounts(seen=seen, kept=kept, kept_bytes=kept * 100, exact_duplicates=1, near_duplicates=2)
    batch.dropped.update(dropped)
    batch.secrets_redacted.update({"github_pat": 1})
    batch.pii_redacted.update({"email": kept})
    batch.languages.update({"python": kept})
    batch.elapsed_s = 3.0
    return batch.to_dict()


def test_totals_sum_batches_and_a_rerun_overwrites(redis_client: redis.Redis) -> None:
    stats = CorpusStats(redis_client, RedisKeys("t:"))
    assert stats.totals()["batches"] == 0 and stats.totals()["seen"] == 0
    stats.record("b1", counts(10, 5, too_large=2))
    stats.record("b2", counts(20, 8, too_large=1, binary=4))
    stats.record("b2", counts(20, 9, too_large=1, binary=3))  # the partition re-ran: replaces b2

    totals = stats.totals()
    assert totals["batches"] == 2
    assert (totals["seen"], totals["kept"], totals["kept_bytes"]) == (30, 14, 1400)
    assert totals["dropped"] == {"binary": 3, "too_large": 3}
    assert (totals["exact_duplicates"], totals["near_duplicates"]) == (2, 4)
    assert totals["secrets_redacted"] == {"github_pat": 2}
    assert totals["pii_redacted"] == {"email": 14}
    assert totals["languages"] == {"python": 14}
    assert "elapsed_s" not in totals and "files_per_s" not in totals  # timing is not corpus content

    assert stats.batch("b2") is not None and stats.batch("b2")["kept"] == 9
    assert stats.forget_batch("b1") and not stats.forget_batch("b1")
    assert stats.totals()["batches"] == 1 and stats.batch("b1") is None


def test_the_key_carries_the_prefix(redis_client: redis.Redis) -> None:
    CorpusStats(redis_client, RedisKeys("{p}:")).record("b", counts(1, 1))
    assert corpus_stats_key(RedisKeys("{p}:")) == "{p}:corpus:batch_counts"
    assert redis_client.hlen("{p}:corpus:batch_counts") == 1
    assert CorpusStats(redis_client, RedisKeys("other:")).totals()["batches"] == 0
