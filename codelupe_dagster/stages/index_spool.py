"""Index one batch's spool into the code index, without Dagster (what `es_code_index` runs).

Order, chosen so that a crash anywhere re-runs to the same result:
1. every spooled document at or above the quality threshold is upserted by content id (a document already
   in the index keeps its `indexed_at`, so a re-run changes nothing and the training watermark does not
   see old files as new);
2. each repository scored completely replaces its previous claim generation: its edited and deleted files
   leave the index and release their claims (`stages.repo_updates`);
3. only then are the repositories marked processed at the commit read: a crash before this re-processes
   them, never skips them.

The batch's checks (`batch_checks`) compute plain outcomes; the asset turns them into asset check results.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codelupe_dagster.backends.dedup_ledger import DedupLedger
from codelupe_dagster.backends.search import Filters, SearchIndex
from codelupe_dagster.backends.spool import iter_documents, iter_rows, read_manifest
from codelupe_dagster.core.pii import DEFAULT_KINDS, PiiKind, parse_kinds
from codelupe_dagster.core.redaction import redact_field, redact_text
from codelupe_dagster.stages.repo_updates import GenerationSwap, replace_generations
from codelupe_dagster.stages.score_batch import PII_KINDS_INFO
from codelupe_dagster.stages.stream_index import StreamedSpool, streamed_ids, upsert_keeping_indexed_at

INDEXED_COUNT_MATCHES_KEPT = "indexed_count_matches_kept"
NO_DOCUMENT_BELOW_THRESHOLD = "no_document_below_threshold"
NO_SECRETS_IN_SAMPLE = "no_secrets_in_sample"
NO_DUPLICATES_IN_BATCH = "no_duplicates_in_batch"
CHECK_NAMES = (
    INDEXED_COUNT_MATCHES_KEPT,
    NO_DOCUMENT_BELOW_THRESHOLD,
    NO_SECRETS_IN_SAMPLE,
    NO_DUPLICATES_IN_BATCH,
)

SECRET_SAMPLE_SIZE = 200
GET_CHUNK = 500
LEDGER_CHUNK = 1000

MarkProcessed = Callable[[Mapping[str, str]], None]  # repo -> commit read


@dataclass
class IndexedSpool:
    """What upserting a spool wrote: the ids (in spool order) with the repository each came from."""

    batch: str
    ids: list[str] = field(default_factory=list)
    repos: list[str] = field(default_factory=list)
    low_quality: int = 0  # spooled documents below the threshold, not indexed


@dataclass
class IndexedBatch:
    """The outcome of `index_batch`, for the asset's metadata and checks."""

    written: IndexedSpool
    spooled: int  # rows in the spool
    threshold: float
    commits: dict[str, str]  # repo -> commit read, now marked processed
    swaps: list[GenerationSwap]
    elapsed_s: float
    pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS  # what the batch was redacted with (its `_SUCCESS` info)
    streamed: bool = False  # the documents were indexed while the batch was scored (stages.stream_index)

    @property
    def indexed(self) -> int:
        return len(self.written.ids)

    @property
    def docs_per_s(self) -> float:
        return round(self.indexed / self.elapsed_s, 1) if self.elapsed_s > 0 else 0.0

    @property
    def stale_removed(self) -> int:
        return sum(swap.deleted for swap in self.swaps)

    @property
    def claims_released(self) -> int:
        return sum(swap.released for swap in self.swaps)


@dataclass(frozen=True)
class CheckOutcome:
    """One asset check's verdict, in plain values; `metadata` values are JSON-ready."""

    name: str
    passed: bool
    metadata: dict[str, Any]


def _chunks(items: Sequence[str], size: int = GET_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def spool_pii_kinds(info: Mapping[str, Any]) -> frozenset[PiiKind]:
    """The PII kinds a spool's documents were redacted with, from its `_SUCCESS` info; a spool written
    before the kinds were recorded was redacted with the defaults."""
    kinds = info.get(PII_KINDS_INFO)
    return DEFAULT_KINDS if kinds is None else parse_kinds(",".join(kinds))


def index_spool(
    index: SearchIndex, spool: str | Path, batch_id: str, threshold: float, bulk_size: int
) -> IndexedSpool:
    """Upsert the spool's documents at or above the threshold, keeping an existing `indexed_at`."""
    written = IndexedSpool(batch_id)
    for docs in iter_documents(spool, batch_size=bulk_size):
        keep = [doc for doc in docs if doc["quality_score"] >= threshold]
        written.low_quality += len(docs) - len(keep)
        if not keep:
            continue
        upsert_keeping_indexed_at(index, keep)
        written.ids.extend(doc["id"] for doc in keep)
        written.repos.extend(doc["repo"] for doc in keep)
    return written


def already_streamed(
    index: SearchIndex, spool: str | Path, batch_id: str, threshold: float, streamed: StreamedSpool | None
) -> IndexedSpool | None:
    """What the scorer streamed into this index (stages.stream_index), read back from the spool's id,
    repo and score columns; None when the spool must be indexed here (not streamed, streamed into
    another index, or at a higher threshold than ours).

    At a higher threshold than the stream's, the streamed documents between the two leave the index."""
    if streamed is None or streamed.index != index.name or threshold < streamed.threshold:
        return None
    written = IndexedSpool(batch_id)
    between: list[str] = []
    for rows in iter_rows(spool, columns=["id", "repo", "quality_score"], batch_size=GET_CHUNK * 10):
        ids, repos, low = streamed_ids(rows, threshold)
        written.ids.extend(ids)
        written.repos.extend(repos)
        written.low_quality += low
        between.extend(row["id"] for row in rows if streamed.threshold <= row["quality_score"] < threshold)
    if between:
        index.delete_ids(between)
    return written


def index_batch(
    index: SearchIndex,
    ledger: DedupLedger,
    spool: str | Path,
    batch_id: str,
    *,
    threshold: float,
    bulk_size: int,
    mark_processed: MarkProcessed,
) -> IndexedBatch:
    """Index a completed spool, swap in its repositories' generations, mark them processed (see the
    module docstring). Raises (from `read_manifest`) when the spool is incomplete: scoring has not
    finished, and nothing is indexed."""
    manifest = read_manifest(spool)
    commits: dict[str, str] = dict(manifest.info.get("commits") or {})
    failed = manifest.info.get("failed_repos") or {}
    index.ensure()
    started = time.perf_counter()
    streamed = StreamedSpool.from_info(manifest.info)
    written = already_streamed(index, spool, batch_id, threshold, streamed)
    if written is None:
        streamed = None
        written = index_spool(index, spool, batch_id, threshold, bulk_size)
    index.refresh()
    # Streamed documents were written while scoring: their time counts in the index's docs/s.
    elapsed = time.perf_counter() - started + (streamed.elapsed_s if streamed is not None else 0.0)
    swaps = replace_generations(
        ledger, index, [repo for repo in sorted(commits) if repo not in failed], batch_id
    )
    if commits:
        mark_processed(commits)
    return IndexedBatch(
        written,
        manifest.rows,
        threshold,
        commits,
        swaps,
        elapsed,
        spool_pii_kinds(manifest.info),
        streamed=streamed is not None,
    )


# --------------------------------------------------------------------------- checks


def count_check(index: SearchIndex, ids: Sequence[str], batch_id: str) -> CheckOutcome:
    """Every id written is in the index as this batch's document.

    Counted by the index, as of `index_batch`'s refresh, so no document is read: reading each one's
    ``batch`` through ``get`` made Elasticsearch decompress and parse every document's source (0.24 s of
    a 2,600-document batch, issue 12)."""
    batches = (batch_id,)
    found = sum(index.count(Filters(ids=tuple(chunk), batches=batches)) for chunk in _chunks(ids))
    return CheckOutcome(
        INDEXED_COUNT_MATCHES_KEPT, found == len(ids), {"kept": len(ids), "indexed_for_batch": found}
    )


def threshold_check(index: SearchIndex, repos: Sequence[str], threshold: float) -> CheckOutcome:
    """No document of the batch's repositories is below the threshold."""
    below = index.count(Filters(repos=tuple(repos), max_quality=threshold)) if repos else 0
    return CheckOutcome(
        NO_DOCUMENT_BELOW_THRESHOLD, below == 0, {"below_threshold": below, "threshold": threshold}
    )


def secrets_check(
    index: SearchIndex, ids: Sequence[str], pii_kinds: frozenset[PiiKind] = DEFAULT_KINDS
) -> CheckOutcome:
    """No secret and no personal data of the batch's `pii_kinds` left in the content or the path of a
    sample of the batch's documents, spread evenly over the batch so that one repository cannot hide in
    an unsampled tail. Redaction is idempotent (a placeholder never matches), so anything found here
    slipped past the scorer."""
    step = max(1, len(ids) // SECRET_SAMPLE_SIZE)
    sample = list(ids[::step][:SECRET_SAMPLE_SIZE])
    secrets: Counter[str] = Counter()
    pii: Counter[str] = Counter()
    leaking: list[str] = []
    for doc_id, doc in index.get(sample).items():
        content = redact_text(doc.get("content") or "", pii_kinds)
        path = redact_field(doc.get("path"), pii_kinds)
        if content.changed or path.changed:
            secrets.update(content.secrets)
            secrets.update(path.secrets)
            pii.update(content.pii)
            pii.update(path.pii)
            leaking.append(doc_id)
    return CheckOutcome(
        NO_SECRETS_IN_SAMPLE,
        not leaking,
        {
            "sampled": len(sample),
            "secrets": dict(secrets),
            "pii": dict(pii),
            "pii_kinds": ",".join(sorted(kind.value for kind in pii_kinds)) or "none",
            "documents": leaking[:20],
        },
    )


def duplicates_check(ledger: DedupLedger, ids: Sequence[str], repos: Sequence[str]) -> CheckOutcome:
    """No id twice, and the ledger says the repository each document came from holds its digest."""
    repeated = len(ids) - len(set(ids))
    foreign = 0
    for start in range(0, len(ids), LEDGER_CHUNK):
        pairs = [
            (bytes.fromhex(doc_id), repo)
            for doc_id, repo in zip(
                ids[start : start + LEDGER_CHUNK], repos[start : start + LEDGER_CHUNK], strict=True
            )
        ]
        foreign += len(ledger.not_held(pairs))
    return CheckOutcome(
        NO_DUPLICATES_IN_BATCH,
        repeated == 0 and foreign == 0,
        {"repeated_ids": repeated, "claimed_elsewhere": foreign},
    )


def batch_checks(index: SearchIndex, ledger: DedupLedger, result: IndexedBatch) -> list[CheckOutcome]:
    """The four checks of an indexed batch, in `CHECK_NAMES` order."""
    ids = result.written.ids
    return [
        count_check(index, ids, result.written.batch),
        threshold_check(index, sorted(result.commits), result.threshold),
        secrets_check(index, ids, result.pii_kinds),
        duplicates_check(ledger, ids, result.written.repos),
    ]
