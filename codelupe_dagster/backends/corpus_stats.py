"""The corpus's scoring counts, kept durably: what each scored batch saw, kept, dropped and deduplicated.

A batch's `BatchCounts` live in its spool marker and its Dagster metadata, both of which go away (spools
are deleted once indexed; metadata is per run). A dataset card needs the totals (files seen, dropped per
reason, exact and near duplicates, secrets and personal data redacted at scoring), so each scored batch
records its counts here once its spool is committed.

One Redis hash, batch id -> JSON counts. Recording a batch again (a re-run of its partition) overwrites
its entry, so totals never count a batch twice; they are summed on read, which is cheap (one entry per
batch). Counts describe scoring: files later removed from the index (forget, repository updates) are
not subtracted here; the export's own numbers describe what it holds.

`corpus_numbers` joins these totals with what the code index holds now into one flat map of numbers with
a bounded set of keys (the `corpus_stats` asset's metadata, which the Dagster UI plots over time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from codelupe_dagster.backends.search.base import QUALITY_BUCKETS, SearchIndex
from codelupe_dagster.core.keys import RedisKeys

if TYPE_CHECKING:  # redis-py is only named: readers pass `resp_reader.RespReader`
    import redis

# The BatchCounts.to_dict() entries that describe the corpus (the rest is per-run timing and bookkeeping).
SCALAR_COUNTS: Final[tuple[str, ...]] = (
    "seen",
    "kept",
    "kept_bytes",
    "exact_duplicates",
    "near_duplicates",
    "unaccounted",
)
PER_KIND_COUNTS: Final[tuple[str, ...]] = ("dropped", "secrets_redacted", "pii_redacted", "languages")


def corpus_stats_key(keys: RedisKeys) -> str:
    """HASH batch id -> JSON counts of that batch's scoring (kept beside the other `<prefix>` keys)."""
    return f"{keys.prefix}corpus:batch_counts"


def batch_entry(counts: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a batch's counts (`BatchCounts.to_dict()`) worth keeping: integers and per-kind maps."""
    entry: dict[str, Any] = {name: int(counts.get(name) or 0) for name in SCALAR_COUNTS}
    for name in PER_KIND_COUNTS:
        entry[name] = {str(kind): int(n) for kind, n in (counts.get(name) or {}).items()}
    return entry


def sum_entries(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals over batches, with `batches` (how many were summed); per-kind maps sorted by kind."""
    total: dict[str, Any] = {"batches": len(entries), **{name: 0 for name in SCALAR_COUNTS}}
    per_kind: dict[str, dict[str, int]] = {name: {} for name in PER_KIND_COUNTS}
    for entry in entries:
        for name in SCALAR_COUNTS:
            total[name] += int(entry.get(name) or 0)
        for name in PER_KIND_COUNTS:
            for kind, n in (entry.get(name) or {}).items():
                per_kind[name][kind] = per_kind[name].get(kind, 0) + int(n)
    for name, counts in per_kind.items():
        total[name] = dict(sorted(counts.items()))
    return total


class CorpusStats:
    """Per-batch scoring counts in Redis, summed on read (see the module docstring)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys):
        self._client = client
        self._key = corpus_stats_key(keys)

    def record(self, batch_id: str, counts: Mapping[str, Any]) -> None:
        """Store (or replace) one batch's counts; `counts` is `BatchCounts.to_dict()`."""
        self._client.hset(self._key, batch_id, json.dumps(batch_entry(counts), sort_keys=True))

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        raw = self._client.hget(self._key, batch_id)
        return None if raw is None else dict(json.loads(raw))

    def forget_batch(self, batch_id: str) -> bool:
        """Drop one batch's counts (its documents were removed); True when there were any."""
        return bool(self._client.hdel(self._key, batch_id))

    def totals(self) -> dict[str, Any]:
        """The sum over every recorded batch (`batches` = 0 and zeros when none was recorded)."""
        raw: Mapping[bytes, bytes] = self._client.hgetall(self._key)  # type: ignore[assignment]
        return sum_entries([json.loads(value) for _, value in sorted(raw.items())])


# --------------------------------------------------------------------------- the corpus view

TOP_VALUES: Final = 15  # languages, licences and drop reasons shown by name; the rest is `<group>/other`
ALL_VALUES: Final = 10_000  # enough terms to count what has no licence exactly
OTHER: Final = "other"
NO_LICENCE: Final = "none"


def top_with_other(counts: Mapping[str, int], top: int = TOP_VALUES) -> dict[str, int]:
    """The `top` largest counts by name (ties by name) and the rest summed under ``other``."""
    ranked = sorted(((int(n), str(name)) for name, n in counts.items() if n), key=lambda x: (-x[0], x[1]))
    shown = {name: n for n, name in ranked[:top]}
    rest = sum(n for n, _ in ranked[top:])
    if rest:
        shown[OTHER] = shown.get(OTHER, 0) + rest
    return shown


def corpus_numbers(index: SearchIndex, totals: Mapping[str, Any], top: int = TOP_VALUES) -> dict[str, int]:
    """One number per key, flat names, at most `3 * (top + 1) + 13` keys whatever the corpus holds:

    - from the index, now: ``documents``, ``index_size_bytes`` (the store on disk), ``language/<name>``,
      ``licence/<spdx>`` (``licence/none``: no licence), ``quality/<bucket>``;
    - from the scoring totals (`CorpusStats.totals()`, summed over batches): ``batches``, ``files_seen``,
      ``bytes`` (of the files kept at scoring), ``exact_duplicates``, ``near_duplicates``,
      ``dropped/<reason>`` and ``dropped`` (all reasons).
    """
    documents = index.count()
    numbers: dict[str, int] = {
        "documents": documents,
        "bytes": int(totals.get("kept_bytes") or 0),
        "index_size_bytes": index.size_bytes(),
        "batches": int(totals.get("batches") or 0),
        "files_seen": int(totals.get("seen") or 0),
        "exact_duplicates": int(totals.get("exact_duplicates") or 0),
        "near_duplicates": int(totals.get("near_duplicates") or 0),
    }
    languages = index.terms("language", size=top)  # the most frequent first
    for name, n in languages.items():
        numbers[f"language/{name}"] = n
    if documents > sum(languages.values()):  # languages past the top (or a document without one)
        numbers[f"language/{OTHER}"] = documents - sum(languages.values())
    licences = index.terms("license", size=ALL_VALUES)
    for name, n in top_with_other(licences, top).items():
        numbers[f"licence/{name}"] = n
    unlicensed = documents - sum(licences.values())
    if unlicensed > 0:  # always by itself: how much of the corpus has no licence is worth seeing
        numbers[f"licence/{NO_LICENCE}"] = unlicensed
    histogram = index.quality_histogram()
    for label, _, _ in QUALITY_BUCKETS:
        numbers[f"quality/{label}"] = int(histogram.get(label, 0))
    dropped: Mapping[str, int] = totals.get("dropped") or {}
    numbers["dropped"] = sum(int(n) for n in dropped.values())
    for reason, n in top_with_other(dropped, top).items():
        numbers[f"dropped/{reason}"] = n
    return numbers
